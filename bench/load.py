"""Load-and-fault run: the real server, 10 concurrent browser sessions browsing, one training running.

Usage: python bench/load.py [--sessions 10] [--seconds 60] [--out bench/results/load.json]
Reports pages served, errors (exceptions on a page, timeouts), and the server's peak RSS. Bounded in time and
count; it talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
# Headless Chromium as root on a machine without network: no sandbox, no background connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: str, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, float]:
    """Start `streamlit run app.py`; return the process, base URL and seconds until /_stcore/health said ok."""
    port = free_port()
    env = dict(os.environ, FMNIST_HOME=home, TF_CPP_MIN_LOG_LEVEL="3", **(extra_env or {}))
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return proc, url, time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become healthy in 60 s")


def tree_rss_mb(proc: subprocess.Popen) -> float:
    try:
        p = psutil.Process(proc.pid)
        return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


async def wait_idle(page, timeout: float = 90_000) -> None:
    await page.wait_for_timeout(300)
    await page.wait_for_selector(IDLE, timeout=timeout)


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
    proc, url, ready = start_server(home)
    stats: dict = {"pages": 0, "errors": [], "latencies": [], "training": "not started"}
    peak = 0.0
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
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
        proc.kill()
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
