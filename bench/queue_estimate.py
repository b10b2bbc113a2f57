"""Estimates that include the wait: three people press Train together on this machine.

    python -m bench.queue_estimate [--people 3] [--images 6000] [--epochs 1] -> bench/measured/queue-estimate.json

One fresh store. A first training alone teaches the estimate this machine's speed (as a class's first run does).
Then each person's page asks for the wait (fmnist_core.training.jobs.queue_wait: the trainings running and
waiting ahead, sharing the cores) and presses Train, one right after the other, through the real queue with the
server's default number of trainings at once. Each is timed from its start() to its saved result. Reported per
person: what the page said before the click (the first of three cannot know the other two are coming), what it
says once all three have pressed (the queued ones "starts in …, done in …", the running ones "sharing the machine
…: done in …"; fmnist_core.training.jobs.TrainingJob.expected_wait), what the estimate alone would have said, and
what happened; `ratio` is measured / what the page said after the clicks, and the target is every ratio within
1.5x either way.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.limits import where_and_when
from fmnist_core import people, settings
from fmnist_core.nets.presets import DEFAULT_PRESET, TrainConfig
from fmnist_core.training import jobs

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "measured" / "queue-estimate.json"
TARGET_RATIO = 1.5
SETTLE_SECONDS = 1.0


def run(count: int, images: int, epochs: int) -> dict[str, Any]:
    """The measurement (see the module docstring); the store is a fresh temporary folder."""
    report = where_and_when()
    with tempfile.TemporaryDirectory(prefix="fmnist-queue-") as home:
        os.environ[settings.HOME] = home
        config = TrainConfig(preset=DEFAULT_PRESET, epochs=epochs, limit=images)
        first = jobs.TrainingJob(config, actor=people.person("first@bench")).start()
        first.wait()
        if first.snapshot().state != "done":
            raise SystemExit(f"the first training failed: {first.snapshot().error}")
        before: list[tuple[Any, float | None]] = []
        started: list[tuple[str, Any, float]] = []
        for i in range(count):
            who = f"student{i + 1}@bench"
            alone = jobs.alone_seconds(config)
            before.append(((None if alone is None else jobs.queue_wait(alone)), alone))  # the page before the click
            job = jobs.TrainingJob(config, actor=people.person(who))
            started.append((who, job.start(), time.monotonic()))
        time.sleep(SETTLE_SECONDS)  # each job's thread has joined the queue: what each person's page now says
        said = [(job.expected_wait(), time.monotonic()) for _, job, _ in started]
        rows = []
        for (who, job, clicked), (wait, when), (first, alone) in zip(started, said, before, strict=True):
            job.wait()
            snap = job.snapshot()
            measured = (snap.ended or time.monotonic()) - clicked
            expected = None if wait is None else (when - clicked) + wait.done_seconds
            rows.append(
                {
                    "person": who,
                    "state": snap.state,
                    "before_click_done_in_s": None if first is None else round(first.done_seconds, 1),
                    "after_clicks_starts_in_s": None if wait is None else round(wait.start_seconds, 1),
                    "after_clicks_done_in_s": None if expected is None else round(expected, 1),
                    "alone_estimate_s": None if alone is None else round(alone, 1),
                    "measured_s": round(measured, 1),
                    "ratio": None if expected is None else round(measured / expected, 2),
                    "ratio_if_alone": None if alone is None else round(measured / alone, 2),
                }
            )
    ok = all(r["ratio"] is not None and 1 / TARGET_RATIO <= r["ratio"] <= TARGET_RATIO for r in rows)
    return {
        **report,
        "command": f"python -m bench.queue_estimate --people {count} --images {images} --epochs {epochs}",
        "preset": DEFAULT_PRESET,
        "trainings_at_once": settings.max_trainings(),
        "cores": os.cpu_count(),
        "target": f"every ratio within {TARGET_RATIO}x",
        "met": ok,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue_estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3)
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    report = run(args.people, args.images, args.epochs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for row in report["rows"]:
        print(
            f"{row['person']:<18} before the click: {row['before_click_done_in_s']} s; after: starts in "
            f"{row['after_clicks_starts_in_s']} s, result in {row['after_clicks_done_in_s']} s; took {row['measured_s']} s "
            f"(ratio {row['ratio']}; the estimate alone: {row['ratio_if_alone']})"
        )
    print("target met" if report["met"] else "target NOT met", f"({report['target']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
