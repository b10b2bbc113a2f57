"""Browser-test helpers: the running server's handle, waiting for the app to settle, opening a path."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect

from bench.browser import APP_IDLE, point_xy
from helpers import REPO_ROOT  # noqa: F401 - the browser tests take it from here


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


def click_plotly_point(page: Page, chart: Locator, trace: int, point: int, server: AppServer | None = None) -> None:
    """Click one point of a plotly chart's trace (for example a grid tile or a confusion-matrix cell)."""
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    xy = point_xy(chart, trace, point)
    page.mouse.move(xy["x"], xy["y"])
    page.wait_for_timeout(150)
    page.mouse.click(xy["x"], xy["y"])
    wait_for_app(page, server=server)


def chart_titled(page: Page, title: str | re.Pattern[str]) -> Locator:
    """The plotly chart whose title matches."""
    return page.get_by_test_id("stPlotlyChart").filter(has=page.locator(".gtitle", has_text=title))


def confusion_cell(page: Page, actual: int, predicted: int) -> Locator:
    """One cell of the Model page's confusion matrix (ui/components/confusion_grid.js): its text is the count."""
    return page.locator(f".fm-cm-cell[data-actual='{actual}'][data-predicted='{predicted}']")


def map_titled(page: Page, title: str | re.Pattern[str]) -> Locator:
    """The why panel's attribution map (an HTML figure: title, picture, colour bar) whose title matches."""
    return page.locator("figure.fm-map").filter(has=page.locator("figcaption", has_text=title))


def choose(page: Page, label: str, option: str | re.Pattern[str], server: AppServer | None = None) -> None:
    """Pick an option in a select box, as a person does: open it, click the option."""
    box = page.get_by_role("combobox", name=label).first
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # a click during the scroll opens and closes the list
    box.click()
    exact = {"exact": True} if isinstance(option, str) else {}
    page.get_by_role("option", name=option, **exact).first.click()
    wait_for_app(page, server=server)


def explain_answer(page: Page, server: AppServer | None = None, within: Page | Locator | None = None) -> None:
    """Turn on the why panel's "Explain this answer" switch (in `within`, default the page), as a person does."""
    (within or page).get_by_text("Explain this answer", exact=True).click()
    wait_for_app(page, server=server)
    expect((within or page).get_by_role("combobox", name="Explain class")).to_be_visible()


def go_by_nav(page: Page, title: str, server: AppServer | None = None) -> None:
    """Move to another page through the sidebar's navigation (same session, unlike page.goto)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    wait_for_app(page, server=server)


_OVERFLOWS = "(el) => el.scrollWidth > el.clientWidth + 1"


def overflows(locator: Locator) -> bool:
    """True when an element's text is cut: its content is wider than its box."""
    return bool(locator.evaluate(_OVERFLOWS))


# Text a person must read whole: widget labels, metric labels and values, button and link labels, the value shown
# in a select box, captions.
WHOLE_TEXT = ", ".join(
    (
        "[data-testid='stWidgetLabel']",
        "[data-testid='stMetricLabel']",
        "[data-testid='stMetricValue']",
        "[data-testid='stMarkdownContainer'].stMarkdownEllipsis",
        "[data-testid='stPageLink-NavLink']",
        "[data-testid='stCaptionContainer']",
        "button",
        "input[role='combobox']",
    )
)
# For each visible element: cut when it or anything inside it overflows its box (an ellipsis, a select box too
# narrow for its value), or when a word is split over two lines ("Trous|er": a column narrower than a word). A
# break after "-" or "/" is a normal line break.
_CUT_TEXTS = f"""(els) => {{
  const overflows = {_OVERFLOWS};
  // Material icons are ligatures ("add", "layers"): their text is a glyph's name, not something to read.
  const icon = "[data-testid='stIconMaterial']";
  const range = document.createRange();
  const splitWord = (el) => {{
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {{
      if (node.parentElement.closest(icon)) continue;
      for (const m of node.data.matchAll(/[^\\s\\-\\/]{{2,}}[\\-\\/]?/g)) {{
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) return m[0];
      }}
    }}
    return null;
  }};
  const cut = [];
  for (const el of els) {{
    if (!el.getClientRects().length || el.closest(icon)) continue;
    let text = el.value || el.innerText || '';
    for (const glyph of el.querySelectorAll(icon)) text = text.replace(glyph.textContent, '');
    text = text.trim().replace(/\\s+/g, ' ').slice(0, 50);
    if (!text) continue;
    // Icons aside, and text for screen readers only (a 1-px box that clips on purpose).
    const shown = (part) => !part.closest(icon) && part.getBoundingClientRect().width > 1;
    const parts = [el, ...el.querySelectorAll('*')].filter(shown);
    if (parts.some(overflows)) cut.push(`cut: ${{text}}`);
    else if (splitWord(el)) cut.push(`word split: ${{splitWord(el)}} in ${{text}}`);
  }}
  return cut;
}}"""


def cut_texts(page: Page, within: str = "[data-testid='stApp']") -> list[str]:
    """Labels, metrics, link and button labels, select values and captions that do not read whole, as
    "cut: <text>" or "word split: <word> in <text>"; [] when everything reads whole."""
    return page.locator(within).locator(WHOLE_TEXT).evaluate_all(_CUT_TEXTS)


def png_of(image: np.ndarray, path: Path) -> Path:
    """A test image as a person's upload: inverted (dark on light), 140x140, PNG."""
    buf = io.BytesIO()
    Image.fromarray(255 - image).resize((140, 140), Image.Resampling.BICUBIC).save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


TRAIN_TIMEOUT = 240_000


def train_on_page(page: Page, server: AppServer, images: int, epochs: int, timeout: int = TRAIN_TIMEOUT) -> str:
    """On the open Train page: set "Training images" and "Epochs", press Train, wait for the result; the run id."""
    for label, value in (("Training images", images), ("Epochs", epochs)):
        field_ = page.get_by_label(label, exact=True)
        field_.fill(str(value))
        field_.press("Enter")
        wait_for_app(page, server=server)
    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text("Training finished.", exact=True)).to_be_visible(timeout=timeout)
    wait_for_app(page, server=server)
    saved = page.get_by_text(re.compile(r"^Saved as run \S+\.$")).inner_text().strip()
    return re.fullmatch(r"Saved as run (\S+)\.", saved).group(1)


@contextmanager
def scheme_pages(browser: Browser, schemes: tuple[str, ...], width: int, height: int) -> Iterator[dict[str, Page]]:
    """One browser session per colour scheme ("light", "dark"), shared by a module's tests; closed at the end."""
    contexts = {
        scheme: browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
        for scheme in schemes
    }
    try:
        yield {scheme: context.new_page() for scheme, context in contexts.items()}
    finally:
        for context in contexts.values():
            context.close()
