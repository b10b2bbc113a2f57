"""Training start-up, cold worker versus warm worker, in one run on this machine.

Each round is one tiny training as the Train page starts it (`TrainingJob(config).start()`; the fast preset, 600
images, 1 epoch, evaluation and saving included), on a worker spawned at the click (cold) or on a warm worker that
was ready before it (warm); the modes alternate so both see the same machine. Measured from the click: the first
snapshot with a batch count (what the page's progress bar shows), the result (evaluated and saved), when each
phase was first seen, and the worker's CPU-seconds to each (independent of other load; workers run at nice 19).

Usage: python -m bench.startup [--rounds 3] [--limit 600] [--out bench/measured/startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.limits import where_and_when
from fmnist_core import people

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "measured" / "startup.json"
POLL_SECONDS = 0.01
READY_TIMEOUT = 600.0


def _cpu_and_rss(pid: int | None) -> tuple[float | None, float | None]:
    """User + system CPU seconds of the process so far and its RSS in MB, or Nones when it is not there."""
    if pid is None:
        return None, None
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            times, rss = process.cpu_times(), process.memory_info().rss
    except psutil.Error:
        return None, None
    return times.user + times.system, rss / 2**20


def _wait_for_warm_workers() -> tuple[int, float]:
    """Ask for warm workers and wait until every one is ready; returns a ready pid and the seconds it took."""
    from fmnist_core.training import jobs

    started = time.monotonic()
    jobs.warm_up()
    while True:
        ready, every = jobs.WARM.ready_pids(), jobs.WARM.pids()
        if ready and sorted(ready) == sorted(every):
            return ready[0], time.monotonic() - started
        if time.monotonic() - started > READY_TIMEOUT:
            raise RuntimeError("no warm worker became ready")
        time.sleep(0.05)


def one_round(mode: str, limit: int, home: Path) -> dict[str, Any]:
    """One training from the click to its result; `mode` is "cold" or "warm"."""
    from fmnist_core.nets.presets import TrainConfig
    from fmnist_core.training import jobs
    from fmnist_core.training.jobs import TrainingJob

    warm_pid, warm_up_seconds = None, None
    if mode == "warm":
        warm_pid, warm_up_seconds = _wait_for_warm_workers()
    else:
        jobs.WARM.shut_down()
        if jobs.WARM.pids():
            raise RuntimeError("a warm worker is left for the cold round")
    cpu_before, waiting_rss = _cpu_and_rss(warm_pid)
    cpu_before = cpu_before or 0.0  # a warm worker's warm-up is not the click's
    load = list(os.getloadavg())
    job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=limit), home=home, actor=people.LOCAL)
    clicked = time.monotonic()
    job.start()
    phases: dict[str, float] = {}
    first_batch = first_batch_cpu = last_cpu = None
    peak_rss = 0.0
    while not job.finished:
        snap = job.snapshot()
        now = time.monotonic() - clicked
        phases.setdefault(snap.phase, round(now, 3))
        cpu, rss = _cpu_and_rss(snap.worker_pid)
        last_cpu = cpu if cpu is not None else last_cpu
        peak_rss = max(peak_rss, rss or 0.0)
        if first_batch is None and snap.batch > 0:
            first_batch, first_batch_cpu = now, cpu
        time.sleep(POLL_SECONDS)
    result = time.monotonic() - clicked
    snap = job.snapshot()
    if snap.state != "done":
        raise RuntimeError(f"the {mode} training ended {snap.state}: {snap.error}")
    if mode == "warm" and snap.worker_pid != warm_pid:
        raise RuntimeError(f"the warm round trained on pid {snap.worker_pid}, not the warm worker {warm_pid}")
    return {
        "mode": mode,
        "first_batch_s": round(first_batch, 3) if first_batch is not None else None,
        "result_s": round(result, 3),
        "worker_cpu_s_to_first_batch": None if first_batch_cpu is None else round(first_batch_cpu - cpu_before, 2),
        "worker_cpu_s_to_result": None if last_cpu is None else round(last_cpu - cpu_before, 2),
        "phases_first_seen_s": phases,
        "warm_up_s": None if warm_up_seconds is None else round(warm_up_seconds, 2),
        "warm_up_cpu_s": round(cpu_before, 2) if warm_pid is not None else None,  # the waiting worker's CPU so far
        "warm_worker_rss_mb": None if waiting_rss is None else round(waiting_rss),  # what a waiting one holds
        "worker_peak_rss_mb": round(peak_rss),  # sampled every POLL_SECONDS
        "test_accuracy": snap.test_accuracy,
        "precision": snap.precision,
        "worker_pid": snap.worker_pid,
        "load_average_before": load,
    }


def summarize(rounds: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per mode and measure: median, min and max over the rounds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in ("cold", "warm"):
        mine = [r for r in rounds if r["mode"] == mode]
        out[mode] = {}
        for key in ("first_batch_s", "result_s", "worker_cpu_s_to_first_batch", "worker_cpu_s_to_result"):
            values = [r[key] for r in mine if r[key] is not None]
            if values:
                out[mode][key] = {
                    "median": round(statistics.median(values), 3),
                    "min": round(min(values), 3),
                    "max": round(max(values), 3),
                }
    return out


def measure(rounds: int, limit: int) -> dict[str, Any]:
    """Alternate cold and warm rounds (one training slot, so one warm worker) and summarize them."""
    os.environ["FMNIST_MAX_TRAININGS"] = "1"
    from fmnist_core.training import jobs

    report: dict[str, Any] = {
        **where_and_when(),
        "cores": os.cpu_count(),
        "training": {"preset": "fast", "epochs": 1, "images": limit},
        "rounds": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="fmnist-startup-") as home:
            for _ in range(rounds):
                for mode in ("cold", "warm"):
                    row = one_round(mode, limit, Path(home))
                    report["rounds"].append(row)
                    print(json.dumps(row), flush=True)
    finally:
        jobs.WARM.shut_down()
    report["summary"] = summarize(report["rounds"])
    report["load_average_after"] = list(os.getloadavg())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="trainings per mode (default 3)")
    parser.add_argument("--limit", type=int, default=600, help="training images (default 600)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"where the JSON goes (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    report = measure(args.rounds, args.limit)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    return 0


if __name__ == "__main__":  # spawned workers import this file as __mp_main__: nothing may run then
    raise SystemExit(main())
