"""First visits with a just-trained model: the four pages a learner opens first, with and without what its
worker prepared, side by side on one server.

    python -m bench.first_visits [--rounds 3] [--busy 2] [--by click|address] -> bench/measured/first-visits.json

One fresh store; the command line trains two runs alike (600 images, 1 epoch, as a first run in class), each
through a worker that keeps what the pages read first beside the run (fmnist_core.analysis.run_results.prepare).
For one of them that folder is removed, so its pages compute everything on the first visit, as before the
worker prepared it. One `streamlit run app.py` server, Chromium at 1400x900; each round opens each page in a fresh
browser context, with each run (which goes first alternates), as a person's first visit (a fresh server each
round, warmed by a visit with the shipped model: TensorFlow and the test set are loaded on a server in use).
`--busy N` keeps N other trainings running meanwhile (the command line, in a loop), as on a class's server.

Time: from the click on the page's link in the sidebar (`--by click`, the way a learner goes from page to page once
the app is open; Home with the run is opened first, untimed) or from the address typed (`--by address`, which adds
the browser loading the app itself, about the Home floor printed) to the page's heading drawn and the script run
finished. Server time: the page runs the server logged meanwhile ($FMNIST_TIMINGS). The rest is the browser
drawing the page, here on the server's own two cores; in a class each learner's browser runs on their own computer.

Targets: with two other trainings running (`--busy 2`), each prepared page's first visit by click under 3 s; on an
idle machine under 1.5 s.
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

from playwright.sync_api import sync_playwright

from bench.browser import APP_IDLE, ROOT, launch_chromium, start_server, stop_server
from bench.limits import where_and_when
from fmnist_core.runs import paths

OUT = ROOT / "bench" / "measured" / "first-visits.json"
PAGES = {
    "Test images": "/test_images?image=0",
    "Feature maps": "/feature_maps?image=0&layer=conv2d&channel=0",
    "Model": "/model",
    "Embedding": "/embedding",
}
BUSY_TARGET_S, IDLE_TARGET_S = 3.0, 1.5
RUNS = {"prepared": "bench-prepared", "not prepared": "bench-unprepared"}
TRAIN = ["--preset", "fast", "--epochs", "1", "--limit", "600"]


def train(home: str, run_id: str, seed: int) -> None:
    """One run; each run its own seed: runs with equal weights would share what the server keeps in memory, and the
    second page visited would not be a first visit."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fmnist_core",
            "train",
            *TRAIN,
            "--seed",
            str(seed),
            "--run-id",
            run_id,
            "--output-dir",
            home,
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def busy_trainings(home: str, count: int) -> list[subprocess.Popen]:
    """`count` shell loops, each training one small run after another (until killed)."""
    loop = (
        f"i=0; while true; do i=$((i+1)); {sys.executable} -m fmnist_core train {' '.join(TRAIN)} "
        f'--run-id busy-$$-$i --output-dir "{home}" >/dev/null 2>&1; done'
    )
    return [subprocess.Popen(["bash", "-c", loop], cwd=ROOT, start_new_session=True) for _ in range(count)]


def _settled(page) -> None:  # noqa: ANN001 - a Playwright Page
    page.get_by_role("heading", level=1).first.wait_for(timeout=180_000)
    page.wait_for_timeout(250)
    page.locator(APP_IDLE).wait_for(state="attached", timeout=180_000)


def server_ms(timings: Path, since: int) -> float:
    """Milliseconds of page runs the server logged ($FMNIST_TIMINGS) after its first `since` lines."""
    lines = timings.read_text().splitlines()[since:] if timings.exists() else []
    return sum(
        json.loads(line)["ms"] for line in lines if line.strip() and json.loads(line)["label"].startswith("page")
    )


def logged(timings: Path) -> int:
    return len(timings.read_text().splitlines()) if timings.exists() else 0


def visit(  # noqa: ANN001 - a Playwright Browser
    browser, url: str, timings: Path, title: str | None = None, warm: str | None = None
) -> tuple[float, float]:
    """Seconds to a page settled in a fresh browser session, and the server's seconds of page runs meanwhile:
    from typing `url`, or, with `title`, from clicking
    that page's sidebar link once `url` (Home with the run) has settled. `warm`, opened first and untimed, is the
    same page with the shipped model: the browser has then loaded and cached the page's scripts (plotly's alone
    is megabytes), as a learner's has who used the app before training a model."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    if warm is not None:
        page.goto(warm)
        _settled(page)
    if title is not None:
        page.goto(url)
        _settled(page)
        link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
        page.wait_for_timeout(500)  # the page runs before the click have logged their time
        before = logged(timings)
        started = time.perf_counter()
        link.click()
        page.get_by_role("heading", level=1, name=title).first.wait_for(timeout=180_000)
    else:
        before = logged(timings)
        started = time.perf_counter()
        page.goto(url)
    _settled(page)
    seconds = time.perf_counter() - started
    context.close()
    return seconds, server_ms(timings, before) / 1000


def run(rounds: int, busy: int, by: str = "click") -> dict:
    report = where_and_when()
    results: dict[str, dict[str, list[float]]] = {kind: {name: [] for name in PAGES} for kind in RUNS}
    server: dict[str, dict[str, list[float]]] = {kind: {name: [] for name in PAGES} for kind in RUNS}
    floor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fmnist-first-") as home:
        for seed, run_id in enumerate(RUNS.values(), start=1):
            train(home, run_id, seed)
        shutil.rmtree(paths.cache_dir(RUNS["not prepared"], Path(home)), ignore_errors=True)
        loops = busy_trainings(home, busy)
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                for _ in range(rounds):
                    timings = Path(home) / "timings.jsonl"
                    process, url, _ = start_server(
                        env={"FMNIST_HOME": home, "FMNIST_WARM_IDLE_SECONDS": "0", "FMNIST_TIMINGS": str(timings)}
                    )
                    try:
                        # A server in use has TensorFlow and the test set loaded already: not a new model's cost.
                        visit(browser, url + "/test_images?image=0&model=default", timings)
                        floor.append(
                            visit(browser, url + "/?model=default", timings)[0]
                        )  # a page that computes nothing
                        for number, (name, path) in enumerate(PAGES.items()):
                            kinds = list(RUNS.items())
                            for kind, run_id in kinds if number % 2 else kinds[::-1]:  # neither always first
                                if by == "click":
                                    warm = f"{url}{path}{'&' if '?' in path else '?'}model=default"
                                    seconds, on_server = visit(
                                        browser, f"{url}/?model={run_id}", timings, title=name, warm=warm
                                    )
                                else:
                                    joiner = "&" if "?" in path else "?"
                                    seconds, on_server = visit(browser, f"{url}{path}{joiner}model={run_id}", timings)
                                results[kind][name].append(seconds)
                                server[kind][name].append(on_server)
                            shutil.rmtree(paths.cache_dir(RUNS["not prepared"], Path(home)), ignore_errors=True)
                    finally:
                        stop_server(process)
                browser.close()
        finally:
            for loop in loops:
                subprocess.run(["pkill", "-TERM", "-g", str(loop.pid)], check=False)
    rows = {
        name: {
            kind: {
                "seconds": [round(s, 2) for s in results[kind][name]],
                "median_s": round(statistics.median(results[kind][name]), 2),
                "server_seconds": [round(s, 2) for s in server[kind][name]],
                "server_median_s": round(statistics.median(server[kind][name]), 2),
            }
            for kind in RUNS
        }
        for name in PAGES
    }
    return {
        **report,
        "command": f"python -m bench.first_visits --rounds {rounds} --busy {busy} --by {by}",
        "busy_trainings": busy,
        "by": by,
        "target_s": BUSY_TARGET_S if busy else IDLE_TARGET_S,
        "home_page_median_s": round(statistics.median(floor), 2),
        "pages": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.first_visits", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="other trainings running meanwhile")
    parser.add_argument("--by", choices=("click", "address"), default="click", help="how the page is reached")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/measured/first-visits[-busy].json")
    args = parser.parse_args(argv)
    report = run(args.rounds, args.busy, args.by)
    args.out = args.out or OUT.with_name(f"first-visits{'-busy' if args.busy else ''}.json")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Home (computes nothing, the floor of a first visit): {report['home_page_median_s']:.2f} s")
    for name, kinds in report["pages"].items():
        print(
            f"{name:<13} "
            + "  ".join(
                f"{kind}: {row['median_s']:.2f} s (server {row['server_median_s']:.2f} s)"
                for kind, row in kinds.items()
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
