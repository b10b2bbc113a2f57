"""Interaction numbers: first page after `streamlit run`, and server time of a Feature maps rerun.

Usage: python bench/interaction.py [--out bench/results/interaction.json]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import CHROMIUM_ARGS, start_server  # noqa: E402


def first_page_seconds() -> dict:
    """Seconds from starting the server process until the Home page's title is on screen in Chromium."""
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="fmnist-first-")
    started = time.monotonic()
    proc, url, ready = start_server(home)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url + "/")
            page.get_by_text("Fashion-MNIST CNN dashboard").first.wait_for(timeout=60_000)
            shown = time.monotonic() - started
            browser.close()
    finally:
        proc.kill()
    return {"health_ok_seconds": ready, "first_page_seconds": shown}


def feature_map_rerun_ms(changes: int = 12) -> dict:
    """Server-side time of a script rerun after a "Channel" change (AppTest runs the script in-process)."""
    from streamlit.testing.v1 import AppTest

    os.environ.setdefault("FMNIST_HOME", tempfile.mkdtemp(prefix="fmnist-rerun-"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/feature_maps.py")
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
    args = parser.parse_args()
    report = {**first_page_seconds(), **feature_map_rerun_ms()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
