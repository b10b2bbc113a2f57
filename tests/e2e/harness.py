"""Browser-test helpers: the running server's handle, waiting for the app to settle, opening a path."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

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


# Page coordinates of one point of a plotly trace: where a person would click it.
_POINT_XY = """(el, [trace, k]) => {
  const gd = el.querySelector('.js-plotly-plot');
  const tr = gd._fullData[trace];
  const xa = gd._fullLayout[tr.xaxis === 'x' ? 'xaxis' : 'xaxis' + tr.xaxis.slice(1)];
  const ya = gd._fullLayout[tr.yaxis === 'y' ? 'yaxis' : 'yaxis' + tr.yaxis.slice(1)];
  const r = gd.getBoundingClientRect();
  const x = xa.type === 'category' ? xa.c2p(tr.x[k]) : xa.l2p(tr.x[k]);
  const y = ya.type === 'category' ? ya.c2p(tr.y[k]) : ya.l2p(tr.y[k]);
  return {x: r.left + xa._offset + x, y: r.top + ya._offset + y};
}"""


def click_plotly_point(page: Page, chart: Locator, trace: int, point: int, server: AppServer | None = None) -> None:
    """Click one point of a plotly chart's trace (for example a grid tile or a confusion-matrix cell)."""
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    xy = chart.evaluate(_POINT_XY, [trace, point])
    page.mouse.move(xy["x"], xy["y"])
    page.wait_for_timeout(150)
    page.mouse.click(xy["x"], xy["y"])
    wait_for_app(page, server=server)


def chart_titled(page: Page, title: str | re.Pattern[str]) -> Locator:
    """The plotly chart whose title matches."""
    return page.get_by_test_id("stPlotlyChart").filter(has=page.locator(".gtitle", has_text=title))


def choose(page: Page, label: str, option: str | re.Pattern[str], server: AppServer | None = None) -> None:
    """Pick an option in a select box, as a person does: open it, click the option."""
    box = page.get_by_role("combobox", name=label).first
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # a click during the scroll opens and closes the list
    box.click()
    page.get_by_role("option", name=option).first.click()
    wait_for_app(page, server=server)


def go_by_nav(page: Page, title: str, server: AppServer | None = None) -> None:
    """Move to another page through the sidebar's navigation (same session, unlike page.goto)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_for_app(page, server=server)


def overflows(locator: Locator) -> bool:
    """True when an element's text is cut: its content is wider than its box."""
    return bool(locator.evaluate("(el) => el.scrollWidth > el.clientWidth + 1"))
