"""Real-browser harness: a `streamlit run` server per test module, driven by Debian's Chromium via Playwright.

A test module serves app.py by default. It may set `APP_SCRIPT = "path/from/repo/root.py"`, or override the
module-scoped `app_script` fixture to return any path (for example a script written to a tmp dir).

    from .harness import goto

    def test_home(app_server, app_page):
        goto(app_page, app_server, "/")
        expect(app_page.get_by_test_id("stSidebar")).to_be_visible()
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from bench.browser import CHROMIUM, ServerFailed, launch_chromium, start_server, stop_server
from fmnist_core import settings

from .harness import REPO_ROOT, AppServer  # noqa: F401 - fixtures below use them

E2E_DIR = Path(__file__).resolve().parent
SERVER_START_TIMEOUT_S = 120  # TensorFlow imports slowly while the suite's other process trains

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

    A test module may set APP_ENV = {...} for extra environment variables (e.g. FMNIST_MAX_TRAININGS), and
    WARM_WORKERS = True for the warm workers a server starts when the Train page opens. Without it they are off:
    each imports TensorFlow and rehearses a training (tests/e2e/test_lab.py measured 185 -> 167 CPU-seconds
    without them), and only the modules that ask check anything a warm worker does.
    """
    if not app_script.is_file():
        pytest.fail(f"app script {app_script} does not exist")
    env = {"FMNIST_HOME": str(fmnist_home)}
    if not getattr(request.module, "WARM_WORKERS", False):
        env[settings.WARM_IDLE_SECONDS] = "0"
    env.update(getattr(request.module, "APP_ENV", {}))
    log_path = tmp_path_factory.mktemp("streamlit_server") / "server.log"
    try:
        process, url, _ = start_server(app_script, env=env, log_path=log_path, timeout=SERVER_START_TIMEOUT_S)
    except ServerFailed as exc:
        pytest.fail(str(exc))
    server = AppServer(
        url,
        {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
        int(url.rsplit(":", 1)[1]),
        app_script,
        log_path,
        process,
    )
    try:
        yield server
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. Not pytest-playwright's `browser` (that one wants downloaded browsers)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make system-test-deps` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
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
