"""Interaction numbers: first page after `streamlit run`, and server time of a Feature maps rerun.

Usage: python -m bench.interaction [--out bench/results/interaction.json] [--only-trainings]
(--only-trainings: just the Channel change with no training, then while 2 other sessions train)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import APP_IDLE, ROOT, launch_chromium, start_server, stop_server
from bench.limits import where_and_when


def first_page_seconds() -> dict:
    """Seconds from starting the server process until the Home page's title is on screen in Chromium."""
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="fmnist-first-")
    started = time.monotonic()
    proc, url, ready = start_server(env={"FMNIST_HOME": home})
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page()
            page.goto(url + "/")
            page.get_by_text("Fashion-MNIST CNN dashboard").first.wait_for(timeout=60_000)
            shown = time.monotonic() - started
            browser.close()
    finally:
        stop_server(proc)
    return {"health_ok_seconds": ready, "first_page_seconds": shown}


def _start_trainings(browser, url: str, count: int) -> None:  # noqa: ANN001 - a Playwright Browser
    """Start `count` full trainings (fast, 60,000 images, 5 epochs) from their own browser sessions, as people do."""
    from playwright.sync_api import expect

    for _ in range(count):
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(url + "/train")
        page.wait_for_selector(APP_IDLE, timeout=120_000)
        epochs = page.get_by_label("Epochs", exact=True)
        epochs.fill("5")
        epochs.press("Enter")
        page.wait_for_timeout(500)
        page.wait_for_selector(APP_IDLE, timeout=60_000)
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_test_id("stProgress")).to_contain_text("batch", timeout=120_000)


def channel_fragment_ms(changes: int = 15, layer: str = "conv2d", size: str = "26×26", trainings: int = 0) -> dict:
    """A "Channel" change in a real browser: the fragment's server time (from $FMNIST_TIMINGS) and key-to-redraw.

    The server is the real `streamlit run app.py`; the page reruns only its layer/channel fragment, which is
    what a user's key press costs. The first change warms the caches and is not counted. conv2d is the
    largest layer (a 215x215 mosaic of 64 channels), so the worst case. With `trainings`, that many other
    browser sessions train at the same time (each in its worker process, at a lower CPU priority).
    """
    from playwright.sync_api import expect, sync_playwright

    home = tempfile.mkdtemp(prefix="fmnist-fragment-")
    timings = Path(home) / "timings.jsonl"
    proc, url, _ = start_server(env={"FMNIST_HOME": home, "FMNIST_TIMINGS": str(timings)})
    browser_ms = []
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            _start_trainings(browser, url, trainings)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + f"/feature_maps?image=0&layer={layer}&channel=0")

            def title(channel: int):  # Plotly briefly keeps the old chart's title while it swaps charts
                return page.locator(".gtitle", has_text=f"{layer} · channel {channel} · {size}")

            expect(title(0)).to_have_count(1, timeout=120_000)
            page.wait_for_selector(APP_IDLE, timeout=60_000)
            slider = page.get_by_role("slider")
            expect(slider).to_have_count(1)
            slider.focus()
            for channel in range(1, changes + 2):
                started = time.perf_counter()
                page.keyboard.press("ArrowRight")
                expect(title(channel)).to_have_count(1, timeout=30_000)
                browser_ms.append((time.perf_counter() - started) * 1000)
            page.wait_for_timeout(500)
            browser.close()
    finally:
        stop_server(proc)
    rows = [json.loads(line) for line in timings.read_text().splitlines()]
    server_ms = [r["ms"] for r in rows if r["label"] == "feature_maps.layer_view"]  # not the page runs
    suffix = f"_with_{trainings}_trainings" if trainings else ""
    counted = server_ms[-changes:]  # the page's first full run and the warm-up change come first
    return {
        f"channel_fragment_server_ms_median{suffix}": statistics.median(counted),
        f"channel_fragment_server_ms_max{suffix}": max(counted),
        f"channel_key_to_redraw_ms_median{suffix}": statistics.median(browser_ms[1:]),
        "channel_changes": changes,
        "channel_layer": layer,
    }


def feature_map_rerun_ms(changes: int = 12) -> dict:
    """Server-side time of a whole-script rerun after a "Channel" change (AppTest runs the script in-process)."""
    from streamlit.testing.v1 import AppTest

    os.environ.setdefault("FMNIST_HOME", tempfile.mkdtemp(prefix="fmnist-rerun-"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/feature_maps.py")
    at.run()
    at.slider(key="fm_channel").set_value(1).run()  # warm the caches
    times = []
    for channel in range(2, 2 + changes):
        t = time.perf_counter()
        at.slider(key="fm_channel").set_value(channel).run()
        times.append((time.perf_counter() - t) * 1000)
        assert not at.exception, at.exception
    return {"channel_rerun_ms_median": statistics.median(times), "channel_rerun_ms_max": max(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "interaction.json"))
    parser.add_argument(
        "--only-trainings", action="store_true", help="just the Channel change with and without 2 trainings"
    )
    args = parser.parse_args()
    # The Channel change with no training and with 2 trainings running, measured one after the other in one run.
    report = {**where_and_when(), **channel_fragment_ms(), **channel_fragment_ms(trainings=2)}
    if not args.only_trainings:
        report = {**first_page_seconds(), **report, **feature_map_rerun_ms()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
