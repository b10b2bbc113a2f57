"""Clicks on this checkout and on an earlier commit, side by side in one run.

Usage: python -m bench.clicks_ab --before REV [--part feature-maps|test-images|embedding] [--rounds 7]
       [--out bench/results/clicks-ab.json]

Absolute times on these shared VMs drift by tens of percent within an hour, so a change to the clicks is judged
here: both servers (this tree, and REV checked out as a temporary git worktree) serve the same store with one
tiny run; one Chromium alternates between them, round by round, each timed from the input event until the change
is on screen and the script run has finished. The parts: a Channel change and the exemplars' class filter on
Feature maps; switching the model then opening Test images; opening Embedding (PCA) then t-SNE again, as
bench.clicks does them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import APP_IDLE, ROOT, launch_chromium, start_server, stop_server
from bench.clicks import (
    Clock,
    _open,
    _open_list,
    _pick,
    map_title,
    pca_round,
    switch_and_open_round,
    train_tiny_run,
    tsne_again_round,
)
from bench.limits import where_and_when

PARTS = ("feature-maps", "test-images", "embedding")
CLASSES = ["Sneaker", "Bag", "Coat", "Trouser", "Dress", "Shirt", "Sandal", "Pullover"]


def _timed(page, act, shown) -> float:  # noqa: ANN001
    started = time.perf_counter()
    act()
    shown()
    page.locator(APP_IDLE).wait_for(state="attached", timeout=120_000)
    return round((time.perf_counter() - started) * 1000, 1)


def _feature_maps_round(page, r: int) -> dict[str, float]:  # noqa: ANN001 - a Playwright Page
    """Round r on Feature maps (opened at conv2d_1, channel 0): the next channel, then the exemplars' class filter."""
    page.get_by_role("slider").focus()
    title = page.locator(".gtitle", has_text=f"conv2d_1 · channel {r + 1} ·").first
    out = {
        "Channel change": _timed(
            page, lambda: page.keyboard.press("ArrowRight"), lambda: title.wait_for(timeout=60_000)
        )
    }
    page.wait_for_timeout(500)
    _open_list(page, "Class")
    chosen = CLASSES[r % len(CLASSES)]
    caption = page.get_by_text(f"(only {chosen})", exact=False).first
    out["exemplars' class filter"] = _timed(page, lambda: _pick(page, chosen), lambda: caption.wait_for(timeout=60_000))
    page.wait_for_timeout(500)
    return out


def measure(before: str, rounds: int, part: str = "feature-maps") -> dict:
    """Both trees' times (ms) for one part's clicks, interleaved; see the module docstring."""
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="fmnist-clicks-ab-")
    old = Path(tempfile.mkdtemp(prefix="fmnist-ab-tree-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(old), before], cwd=ROOT, check=True)
    (old / ".venv").symlink_to(ROOT / ".venv")
    trees = {f"before ({before})": old, "after (this tree)": ROOT}
    servers = {}
    try:
        train_tiny_run(home)
        for k, (name, tree) in enumerate(trees.items()):
            # A store each: what a run keeps beside it is checked against its model file's time, and a shipped
            # model's file is another file in each tree, so one shared store would be recomputed turn by turn.
            own = shutil.copytree(home, f"{home}-{k}")
            servers[name] = start_server(tree / "app.py", env={"FMNIST_HOME": own}, root=tree)[:2]
        times: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            pages = {name: browser.new_page(viewport={"width": 1400, "height": 900}) for name in servers}
            clocks = {name: Clock(page, Path(home) / "no-timings") for name, page in pages.items()}
            for name, (_, url) in servers.items():
                if part == "feature-maps":
                    _open(pages[name], url, "/feature_maps?image=0&layer=conv2d_1&channel=0")
                elif part == "embedding":  # t-SNE once per server, untimed: its first visit is not compared here
                    _open(pages[name], url, "/embedding?method=t-SNE")
                    map_title(pages[name], "t-SNE of ").first.wait_for(timeout=600_000)
            for r in range(rounds):
                for name, (_, url) in servers.items():
                    pages[name].bring_to_front()
                    if part == "feature-maps":
                        for click, ms in _feature_maps_round(pages[name], r).items():
                            times[name].setdefault(click, []).append(ms)
                    elif part == "test-images":
                        switch_and_open_round(clocks[name], url, r)
                    else:
                        pca_round(clocks[name], url)
                        tsne_again_round(clocks[name])
            for name, clock in clocks.items():
                for click, entry in clock.results.items():
                    times[name][click] = entry["browser_ms"]
            browser.close()
    finally:
        for process, _ in servers.values():
            stop_server(process)
        subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    medians = {name: {k: statistics.median(v) for k, v in by.items()} for name, by in times.items()}
    return {"before": before, "part": part, "rounds": rounds, "ms": times, "median_ms": medians}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--part", choices=PARTS, default="feature-maps")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "clicks-ab.json"))
    args = parser.parse_args()
    report = {**where_and_when(), **measure(args.before, args.rounds, args.part)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    for name, medians in report["median_ms"].items():
        print(name, ", ".join(f"{k} {v:.0f} ms" for k, v in medians.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
