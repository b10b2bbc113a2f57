"""Load-and-fault run: the real server, 10 concurrent browser sessions browsing, one training running.

Usage: python -m bench.load [--sessions 10] [--seconds 60] [--out bench/results/load.json]
Reports pages served, errors (exceptions on a page, timeouts), and the server's peak RSS. Bounded in time and
count; it talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.async_api import async_playwright

from bench.browser import APP_IDLE, ROOT, launch_chromium, start_server, stop_server


def tree_rss_mb(proc: subprocess.Popen) -> float:
    try:
        p = psutil.Process(proc.pid)
        return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


async def wait_idle(page, timeout: float = 90_000) -> None:
    await page.wait_for_timeout(300)
    await page.wait_for_selector(APP_IDLE, timeout=timeout)


async def browse(browser, url: str, deadline: float, stats: dict, rng: random.Random) -> None:
    """One session: open pages in a loop, move the Channel slider, until the deadline."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        while time.monotonic() < deadline:
            image = rng.randrange(10_000)
            path = rng.choice(
                [f"/test_images?image={image}", f"/feature_maps?image={image}&layer=conv2d&channel=1", "/", "/model"]
            )
            t = time.monotonic()
            try:
                await page.goto(url + path)
                await wait_idle(page)
                if "feature_maps" in path:
                    slider = page.get_by_role("slider")
                    await slider.focus()
                    await slider.press("ArrowRight")
                    await wait_idle(page)
                if await page.locator("[data-testid='stException']").count():
                    stats["errors"].append(f"exception on {path}")
                else:
                    stats["pages"] += 1
                    stats["latencies"].append(time.monotonic() - t)
            except Exception as exc:  # a timeout or crash counts as an error; the run goes on
                stats["errors"].append(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    finally:
        await context.close()


async def train_session(browser, url: str, stats: dict) -> None:
    """A session that starts a training of 20,000 images x 2 epochs and watches it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(url + "/train")
        await wait_idle(page)
        await page.get_by_label("Training images", exact=True).fill("20000")
        await page.get_by_label("Training images", exact=True).press("Enter")
        await page.get_by_label("Epochs", exact=True).fill("2")
        await page.get_by_label("Epochs", exact=True).press("Enter")
        await wait_idle(page)
        await page.get_by_role("button", name="Train", exact=True).click()
        await page.get_by_text("Test accuracy").first.wait_for(timeout=600_000)
        stats["training"] = "finished"
    except Exception as exc:
        stats["training"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    finally:
        await context.close()


async def run(sessions: int, seconds: float) -> dict:
    home = tempfile.mkdtemp(prefix="fmnist-load-")
    proc, url, ready = start_server(env={"FMNIST_HOME": home})
    stats: dict = {"pages": 0, "errors": [], "latencies": [], "training": "not started"}
    peak = 0.0
    try:
        async with async_playwright() as pw:
            browser = await launch_chromium(pw)
            deadline = time.monotonic() + seconds
            rng = random.Random(1)
            tasks = [asyncio.create_task(train_session(browser, url, stats))]
            tasks += [
                asyncio.create_task(browse(browser, url, deadline, stats, random.Random(rng.random())))
                for _ in range(sessions)
            ]
            while not all(t.done() for t in tasks[1:]):
                peak = max(peak, tree_rss_mb(proc))
                await asyncio.sleep(1)
            await asyncio.wait_for(tasks[0], timeout=900)
            peak = max(peak, tree_rss_mb(proc))
            await browser.close()
    finally:
        stop_server(proc)
    lat = sorted(stats["latencies"])
    return {
        "sessions": sessions,
        "seconds": seconds,
        "server_ready_seconds": ready,
        "pages_served": stats["pages"],
        "errors": len(stats["errors"]),
        "error_samples": stats["errors"][:10],
        "page_seconds_median": lat[len(lat) // 2] if lat else None,
        "page_seconds_p95": lat[int(len(lat) * 0.95)] if lat else None,
        "training": stats["training"],
        "server_peak_rss_mb": peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "load.json"))
    args = parser.parse_args()
    report = asyncio.run(run(args.sessions, args.seconds))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["errors"] == 0 and report["training"] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
