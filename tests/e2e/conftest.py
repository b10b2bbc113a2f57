"""Real-browser harness: a `streamlit run` server per test module, driven by Debian's Chromium via Playwright.

A test module serves app.py by default. It may set `APP_SCRIPT = "path/from/repo/root.py"`, or override the
module-scoped `app_script` fixture to return any path (for example a script written to a tmp dir).

    from .conftest import goto

    def test_home(app_server, app_page):
        goto(app_page, app_server, "/")
        expect(app_page.get_by_test_id("stSidebar")).to_be_visible()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from bench.load import CHROMIUM_ARGS  # one list of launch flags for the tests and the load script

REPO_ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
SERVER_START_TIMEOUT_S = 60
APP_IDLE = "[data-testid='stApp'][data-test-connection-state='CONNECTED'][data-test-script-state='notRunning']"

# The app imports TensorFlow and can be slow on a first run; Playwright's 5 s default is too tight.
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item of the session, not only this folder's: filter by path.
    for item in items:
        if item.path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    # Let fixtures see the outcome (for the screenshot on failure).
    setattr(item, f"rep_{report.when}", report)
    return report


@dataclass
class AppServer:
    """A running `streamlit run` subprocess."""

    url: str  # http://127.0.0.1:PORT, no trailing slash
    env: dict[str, str] = field(repr=False)  # the server's whole environment; FMNIST_HOME is the store
    port: int
    script: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def fmnist_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty FMNIST_HOME (the store of saved runs) shared by every server of this test session."""
    return tmp_path_factory.mktemp("fmnist_home")


@pytest.fixture(scope="module")
def app_script(request: pytest.FixtureRequest) -> Path:
    """The script to serve: the test module's APP_SCRIPT (relative to the repo root), default app.py."""
    script = Path(getattr(request.module, "APP_SCRIPT", "app.py"))
    return script if script.is_absolute() else REPO_ROOT / script


@pytest.fixture(scope="module")
def app_server(
    app_script: Path, fmnist_home: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[AppServer]:
    """Start `streamlit run <app_script>` on a free port from the repo root; stop it after the module.

    A test module may set APP_ENV = {...} for extra environment variables (e.g. FMNIST_MAX_TRAININGS).
    """
    if not app_script.is_file():
        pytest.fail(f"app script {app_script} does not exist")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "FMNIST_HOME": str(fmnist_home),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **getattr(request.module, "APP_ENV", {}),
    }
    log_path = tmp_path_factory.mktemp("streamlit_server") / "server.log"
    command = [
        sys.executable,  # the interpreter running pytest: .venv/bin/python under `make test`
        "-m",
        "streamlit",
        "run",
        str(app_script),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--logger.enableRich",  # plain tracebacks in the log, not rich's forced ANSI colours
        "false",
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown can stop every child
        )
    server = AppServer(url, env, port, app_script, log_path, process)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with code {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. Not pytest-playwright's `browser` (that one wants downloaded browsers)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-test-deps` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def app_page(chromium_browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context and page per test (1400x1000); a failing test leaves a screenshot in test-results/."""
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        out = REPO_ROOT / "test-results" / f"{request.node.name}.png"
        out.parent.mkdir(exist_ok=True)
        with contextlib.suppress(PlaywrightError):  # a crashed page must not hide the test's own failure
            page.screenshot(path=str(out), full_page=True)
    context.close()


def wait_for_app(page: Page, timeout: int = 60_000, server: AppServer | None = None) -> None:
    """Wait until the app is connected and its script run has finished, then assert it raised nothing.

    A short settle first: an interaction's rerun request reaches the server a moment after the key press,
    and until then the app still reports notRunning. Pass `server` to get its log (the traceback) on failure:
    the browser shows only the exception type (client.showErrorDetails = "type").
    """
    page.wait_for_timeout(250)
    page.locator(APP_IDLE).wait_for(state="attached", timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)
    exceptions = page.get_by_test_id("stException")
    if exceptions.count():
        shown = "\n---\n".join(exceptions.all_inner_texts())
        log = f"\n\nserver log tail:\n{server.log_tail()}" if server is not None else ""
        raise AssertionError(f"the app shows an exception:\n{shown}{log}")


def goto(page: Page, server: AppServer, path: str = "/", timeout: int = 60_000) -> None:
    """Open `path` (may carry a query string, e.g. "/train?epochs=1") on the server and wait for the app."""
    response = page.goto(f"{server.url}/{path.lstrip('/')}", timeout=timeout)
    status = response.status if response is not None else "no response"
    assert response is not None and response.ok, f"GET {path}: {status}"
    wait_for_app(page, timeout=timeout, server=server)
