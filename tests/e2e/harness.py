"""Browser-test helpers: the running server's handle, waiting for the app to settle, opening a path."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

from bench.browser import APP_IDLE

REPO_ROOT = Path(__file__).resolve().parents[2]


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
