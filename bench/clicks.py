"""Every click a learner makes, timed in a real browser against a real server: event to redrawn, and server time.

Usage: python -m bench.clicks [--rounds 5] [--out bench/results/clicks.json]

A fresh store with one tiny run trained by the command line (as a person's own run would be, with what its worker
keeps beside it), a fresh `streamlit run app.py`, Chromium at 1400x900. Each interaction is done `rounds` times;
the first is a first visit (nothing of it cached in the server yet), and it counts in the median. Browser time is
from the input event until the expected change is on screen and the script run has finished; server time is the
sum of the page and fragment runs the server logged ($FMNIST_TIMINGS) during that interval.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.browser import APP_IDLE, ROOT, launch_chromium, point_xy, start_server, stop_server
from bench.limits import where_and_when

TARGET_MS = 1000
TSNE_TARGET_MS = 10_000
RUN_ID = "bench-clicks"


class Clock:
    """Times one interaction: browser side with perf_counter, server side from the timings file."""

    def __init__(self, page, timings: Path) -> None:  # noqa: ANN001 - a Playwright Page
        self.page = page
        self.timings = timings
        self.results: dict[str, dict] = {}

    def _server_lines(self) -> list[dict]:
        if not self.timings.exists():
            return []
        return [json.loads(line) for line in self.timings.read_text().splitlines() if line.strip()]

    def measure(
        self, name: str, act: Callable[[], None], shown: Callable[[], None], prepare: Callable[[], None] | None = None
    ) -> float:
        """`prepare` (untimed: scroll, open a list), then time `act` (the input event) until `shown` and an idle
        app; record browser and server milliseconds under `name`."""
        if prepare is not None:
            prepare()
        before = len(self._server_lines())
        started = time.perf_counter()
        act()
        shown()
        self.page.locator(APP_IDLE).wait_for(state="attached", timeout=120_000)
        browser_ms = (time.perf_counter() - started) * 1000
        self.page.wait_for_timeout(200)  # the server appends its line as the run ends
        server_ms = sum(line["ms"] for line in self._server_lines()[before:])
        entry = self.results.setdefault(name, {"browser_ms": [], "server_ms": []})
        entry["browser_ms"].append(round(browser_ms, 1))
        entry["server_ms"].append(round(server_ms, 1))
        return browser_ms

    def summary(self) -> dict[str, dict]:
        out = {}
        for name, entry in self.results.items():
            b, s = entry["browser_ms"], entry["server_ms"]
            target = TSNE_TARGET_MS if name == "t-SNE (first visit)" else TARGET_MS
            out[name] = {
                **entry,
                "first_browser_ms": b[0],
                "median_browser_ms": statistics.median(b),
                "median_server_ms": statistics.median(s),
                "target_ms": target,
                "met": statistics.median(b) < target,
            }
        return out


def train_tiny_run(home: str) -> None:
    """A person's own run: 600 images, 1 epoch, trained and saved by the command line."""
    subprocess.run(
        [sys.executable, "-m", "fmnist_core", "train", "--preset", "fast", "--epochs", "1", "--limit", "600"]
        + ["--run-id", RUN_ID, "--output-dir", home],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _idle(page) -> None:  # noqa: ANN001
    page.wait_for_timeout(250)
    page.locator(APP_IDLE).wait_for(state="attached", timeout=120_000)


def _open(page, url: str, path: str) -> None:  # noqa: ANN001
    page.goto(url + path)
    page.get_by_role("heading", level=1).first.wait_for(timeout=120_000)
    _idle(page)


def _open_list(page, label: str, within=None) -> None:  # noqa: ANN001
    """Open a select box's list (untimed: the person is still reading the options)."""
    box = (within or page).get_by_role("combobox", name=label).first
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box.click()


def _pick(page, option: str | re.Pattern[str]) -> None:  # noqa: ANN001
    exact = {"exact": True} if isinstance(option, str) else {}
    page.get_by_role("option", name=option, **exact).first.click()


def _choose(page, label: str, option: str | re.Pattern[str], within=None) -> None:  # noqa: ANN001
    _open_list(page, label, within)
    _pick(page, option)


_INSIDE = "(el, xy) => el.contains(document.elementFromPoint(xy.x, xy.y))"


def _hover_point(page, chart, trace: int, point: int) -> dict[str, float]:  # noqa: ANN001
    """Move the mouse onto a plotly point (untimed) and return where it is; figures above it may still be growing,
    so scroll again until the point is on screen inside the chart."""
    for _ in range(10):
        chart.first.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        xy = point_xy(chart.first, trace, point)
        if 0 <= xy["y"] < page.viewport_size["height"] and chart.first.evaluate(_INSIDE, xy):
            break
        page.mouse.wheel(0, xy["y"] - page.viewport_size["height"] / 2)
        page.wait_for_timeout(500)
    page.mouse.move(xy["x"], xy["y"])
    page.wait_for_timeout(150)
    return xy


def _measure_point_click(clock: Clock, name: str, chart, trace: int, point: int, shown) -> None:  # noqa: ANN001
    where: dict[str, float] = {}
    clock.measure(
        name,
        lambda: clock.page.mouse.click(where["x"], where["y"]),
        shown,
        prepare=lambda: where.update(_hover_point(clock.page, chart, trace, point)),
    )


def _measure_element_click(clock: Clock, name: str, element, shown) -> None:  # noqa: ANN001
    """Scroll to an element and rest the mouse on its centre (untimed), then time a plain mouse click there, as
    for a plotly point: Locator.click would wait for a stable element (two animation frames) inside the span."""
    where: dict[str, float] = {}

    def aim() -> None:
        element.scroll_into_view_if_needed()
        clock.page.wait_for_timeout(300)
        box = element.bounding_box()
        where.update(x=box["x"] + box["width"] / 2, y=box["y"] + box["height"] / 2)
        clock.page.mouse.move(where["x"], where["y"])
        clock.page.wait_for_timeout(150)

    clock.measure(name, lambda: clock.page.mouse.click(where["x"], where["y"]), shown, prepare=aim)


def _visible(locator) -> Callable[[], None]:  # noqa: ANN001
    return lambda: locator.first.wait_for(state="visible", timeout=120_000)


def test_images(clock: Clock, url: str, rounds: int) -> None:
    """Thumbnail click, Next, a filter change, and switching the model then opening Test images."""
    page = clock.page
    _open(page, url, "/test_images")
    grid = page.get_by_test_id("stPlotlyChart").first
    for k in range(rounds):
        index = 11 + 7 * k  # the grid's first page holds images 0..99
        _measure_point_click(
            clock,
            "thumbnail click",
            grid,
            1,
            index,
            _visible(page.get_by_role("heading", name=f"Test image #{index}", exact=True)),
        )
        _idle(page)
    for _ in range(rounds):
        heading = page.get_by_role("heading", name=re.compile(r"^Test image #\d+$")).first
        current = int(heading.inner_text().split("#")[1])
        clock.measure(
            "Next",
            lambda: page.get_by_role("button", name="Next ▶").click(),
            _visible(page.get_by_role("heading", name=f"Test image #{current + 1}", exact=True)),
        )
    classes = ["Coat", "Bag", "Sneaker", "Shirt", "Trouser", "Dress", "Sandal"]
    for name in classes[:rounds]:
        clock.measure(
            "filter change",
            lambda name=name: _pick(page, name),
            _visible(page.get_by_text("1,000 of 10,000 images match", exact=False)),
            prepare=lambda: _open_list(page, "Actual class"),
        )
        _choose(page, "Actual class", "All")
        _idle(page)
    for k in range(rounds):
        switch_and_open_round(clock, url, k)


def switch_and_open_round(clock: Clock, url: str, k: int) -> None:
    """Round k: on the Model page of one model, pick the other (the tiny run for even k, the first time its first
    visit; the shipped model for odd k), then open Test images from the navigation."""
    page = clock.page
    run_id, other = (RUN_ID, "default") if k % 2 == 0 else ("default", RUN_ID)
    _open(page, url, f"/model?model={other}")
    option = re.compile(r"^fast\b") if run_id == RUN_ID else re.compile(r"^default\b")

    def switch_and_open() -> None:
        _pick(page, option)
        page.wait_for_url(re.compile(rf"model={run_id}"), timeout=120_000)  # the run for the new model has begun
        page.locator(APP_IDLE).wait_for(state="attached", timeout=120_000)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Test images").click()

    clock.measure(
        "switch model, open Test images",
        switch_and_open,
        lambda: (
            page.wait_for_url(re.compile(rf"/test_images\?.*model={run_id}"), timeout=120_000),
            page.get_by_text("images match", exact=False).first.wait_for(timeout=120_000),
        ),
        prepare=lambda: _open_list(page, "Model", within=page.get_by_test_id("stSidebar")),
    )


def feature_maps(clock: Clock, url: str, rounds: int) -> None:
    """A Layer change, a Channel change, a cell click, and the exemplars' class filter."""
    page = clock.page
    layers = ["conv2d_1", "max_pooling2d", "max_pooling2d_1", "conv2d", "conv2d_1"]
    _open(page, url, "/feature_maps?image=0&layer=conv2d&channel=0")
    for layer in layers[:rounds]:
        clock.measure(
            "Layer change",
            lambda layer=layer: _pick(page, re.compile(rf"^{layer} \(")),
            _visible(page.locator(".gtitle", has_text=f"{layer} · channel ")),
            prepare=lambda: _open_list(page, "Layer"),
        )
    _open(page, url, "/feature_maps?image=0&layer=conv2d_1&channel=0")
    slider = page.get_by_role("slider")
    slider.focus()
    for channel in range(1, rounds + 1):
        clock.measure(
            "Channel change",
            lambda: page.keyboard.press("ArrowRight"),
            _visible(page.locator(".gtitle", has_text=f"conv2d_1 · channel {channel} ·")),
        )
    picker = page.get_by_test_id("stPlotlyChart").filter(has=page.locator(".gtitle", has_text="click a cell"))
    for k in range(rounds):
        row, col = 2 + k, 3 + k
        _measure_point_click(
            clock,
            "cell click",
            picker,
            1,
            row * 11 + col,
            _visible(page.get_by_text(re.compile(rf"row {row}, column {col} of #0"))),
        )
    classes = ["Sneaker", "Bag", "Coat", "Trouser", "Dress"]
    for name in classes[:rounds]:
        clock.measure(
            "exemplars' class filter",
            lambda name=name: _pick(page, name),
            _visible(page.get_by_text(f"(only {name})", exact=False)),
            prepare=lambda: _open_list(page, "Class"),
        )


def model_page(clock: Clock, url: str, rounds: int) -> None:
    """A confusion-cell click (it opens Test images filtered to the cell)."""
    page = clock.page
    for k in range(rounds):
        actual, predicted = [(6, 0), (4, 2), (2, 4), (0, 6), (7, 9)][k % 5]
        _open(page, url, "/model")
        cell = page.locator(f".fm-cm-cell[data-actual='{actual}'][data-predicted='{predicted}']")
        cell.wait_for(timeout=120_000)
        _measure_element_click(
            clock,
            "confusion-cell click",
            cell,
            lambda a=actual, p=predicted: (
                page.wait_for_url(re.compile(rf"/test_images\?.*actual={a}.*predicted={p}"), timeout=120_000),
                page.get_by_text("images match", exact=False).first.wait_for(timeout=120_000),
            ),
        )


def embedding(clock: Clock, url: str, rounds: int) -> None:
    """Opening the map (PCA) from the navigation, a lasso selection, then t-SNE: its first visit, and `rounds` times
    again (from PCA)."""
    page = clock.page
    for _ in range(rounds):
        pca_round(clock, url)
    page.locator(".fm-emb").get_by_role("button", name="Lasso", exact=True).click()
    overlay = page.locator(".fm-emb-overlay")
    for k in range(rounds):

        def lasso(k=k) -> None:
            overlay.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            box = overlay.bounding_box()
            x0, y0 = box["x"] + box["width"] * (0.3 + 0.05 * k), box["y"] + box["height"] * 0.3
            w, h = box["width"] * 0.2, box["height"] * 0.2
            page.mouse.move(x0, y0)
            page.mouse.down()  # go round a rectangle with the lasso; the release is timed
            for x, y in ((x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0)):
                page.mouse.move(x, y, steps=6)

        clock.measure(
            "box selection",
            lambda: page.mouse.up(),
            _visible(page.get_by_role("heading", name=re.compile(r"selected images$"))),
            prepare=lasso,
        )
    radio = page.get_by_test_id("stRadio").filter(has_text="Projection")
    clock.measure(
        "t-SNE (first visit)",
        lambda: radio.get_by_text("t-SNE", exact=True).click(),
        _visible(map_title(page, "t-SNE of ")),
    )
    for _ in range(rounds):
        radio.get_by_text("PCA", exact=True).click()
        _visible(map_title(page, "PCA of "))()
        tsne_again_round(clock)


def map_title(page, text: str):  # noqa: ANN001, ANN201 - Playwright Page and Locator
    """The Embedding map's title; `.gtitle` is the plotly map's, before the canvas map, for bench.clicks_ab."""
    return page.locator(".fm-emb-title, .gtitle", has_text=text)


def tsne_again_round(clock: Clock) -> None:
    """On Embedding showing PCA, after t-SNE was computed once for the run: switch to t-SNE ("t-SNE (again)")."""
    page = clock.page
    _idle(page)
    clock.measure(
        "t-SNE (again)",
        lambda: page.get_by_test_id("stRadio").filter(has_text="Projection").get_by_text("t-SNE", exact=True).click(),
        _visible(map_title(page, "t-SNE of ")),
    )


def pca_round(clock: Clock, url: str) -> None:
    """From Home, open Embedding from the navigation: the 10,000-point map's first draw on that page."""
    page = clock.page
    _open(page, url, "/?method=PCA")
    clock.measure(
        "PCA",
        lambda: page.get_by_test_id("stSidebarNav").get_by_role("link", name="Embedding").click(),
        _visible(map_title(page, "PCA of ")),
    )


def measure(rounds: int = 5) -> dict:
    """Every interaction of the list on a fresh server and store; see the module docstring."""
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="fmnist-clicks-")
    timings = Path(home) / "timings.jsonl"
    train_tiny_run(home)
    proc, url, _ = start_server(env={"FMNIST_HOME": home, "FMNIST_TIMINGS": str(timings)})
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            clock = Clock(page, timings)
            try:
                for part in (test_images, feature_maps, model_page, embedding):
                    part(clock, url, rounds)
            except Exception:
                page.screenshot(path=str(Path(home) / "failed.png"))  # what the page showed when a step timed out
                print(f"bench.clicks: a step failed; the page is in {home}/failed.png", file=sys.stderr)
                raise
            browser.close()
    finally:
        stop_server(proc)
    return {"rounds": rounds, "interactions": clock.summary()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "clicks.json"))
    args = parser.parse_args()
    report = {**where_and_when(), **measure(args.rounds)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    for name, r in report["interactions"].items():
        print(
            f"{name:34} first {r['first_browser_ms']:8.0f} ms  median {r['median_browser_ms']:8.0f} ms "
            f"(server {r['median_server_ms']:6.0f} ms)  {'ok' if r['met'] else 'SLOW'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
