"""A class in minutes: N people press Train together, through the real queue, and the last result is timed.

    python -m bench.class_queue --people 30 [--preset P] [--epochs N]   -> bench/measured/class-queue.json
    FMNIST_RAY_ADDRESS=127.0.0.1:6379 python -m bench.class_queue ...  (the same, on a Ray cluster)

One fresh store; each person (a signed-in student) starts one training of the class preset (the Train page's
default unless --preset) one right after the other, as a class does when the teacher says "go"; the server's
queue runs FMNIST_MAX_TRAININGS at once (default 2), people in turn, each in a warm worker when one is ready.
Reported: seconds from the first click until the last result, each training's accuracy and its wait, and the
order the queue served them. Target: every training at >= 0.90 and the last result within 15 minutes.
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
from typing import Any

from bench.limits import where_and_when
from fmnist_core import people, settings
from fmnist_core.nets.presets import CLASS_PRESET, TrainConfig
from fmnist_core.training import executors, jobs

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "measured" / "class-queue.json"
TARGET_SECONDS = 15 * 60
TARGET_ACCURACY = 0.90


def run(count: int, preset: str, epochs: int | None, limit: int | None) -> dict[str, Any]:
    """The measurement (see the module docstring); the store is a fresh temporary folder."""
    report = where_and_when()
    with tempfile.TemporaryDirectory(prefix="fmnist-class-") as home:
        os.environ[settings.HOME] = home
        config = TrainConfig(preset=preset, epochs=epochs, limit=limit)
        jobs.warm_up()  # the Train page does this when it opens: workers with TensorFlow and the data loaded
        time.sleep(5.0)
        began = time.monotonic()
        started = []
        for i in range(count):
            job = jobs.TrainingJob(config, actor=people.person(f"student{i + 1:02d}@bench"))
            started.append((job.start(), time.monotonic()))
        rows = []
        for job, clicked in started:
            job.wait()
            snap = job.snapshot()
            if snap.state != "done":
                raise SystemExit(f"{job.owner}'s training ended {snap.state}: {snap.error or snap.save_error}")
            rows.append(
                {
                    "who": job.owner,
                    "test_accuracy": snap.test_accuracy,
                    "mirror_accuracy": snap.mirror_accuracy,
                    "clicked_after_seconds": clicked - began,
                    "started_after_seconds": (snap.started - began) if snap.started else None,
                    "ended_after_seconds": (snap.ended - began) if snap.ended else None,
                    "node": snap.node,
                }
            )
        last = max(r["ended_after_seconds"] for r in rows)
        accuracies = [r["test_accuracy"] for r in rows]
        report.update(
            {
                "command": f"python -m bench.class_queue --people {count} --preset {preset}",
                "preset": preset,
                "settings": {"epochs": config.resolved().epochs, "limit": limit},
                "people": count,
                "at_once": settings.max_trainings(),
                "executor": executors.executor_name(),
                "seconds_to_last_result": last,
                "min_test_accuracy": min(accuracies),
                "mean_test_accuracy": statistics.mean(accuracies),
                "order_served": [r["who"] for r in sorted(rows, key=lambda r: r["started_after_seconds"] or 0)],
                "met": last <= TARGET_SECONDS and min(accuracies) >= TARGET_ACCURACY,
                "rows": rows,
            }
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.class_queue", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--preset", default=CLASS_PRESET)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="training images per person (default: all)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    report = run(args.people, args.preset, args.epochs, args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"{args.people} trainings of {args.preset} ({report['at_once']} at once, {report['executor']}): last result "
        f"after {report['seconds_to_last_result']:.0f} s; accuracy {report['min_test_accuracy']:.4f} at worst, "
        f"{report['mean_test_accuracy']:.4f} on average; target met: {report['met']}",
        file=sys.stderr,
    )
    print(json.dumps({k: v for k, v in report.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
