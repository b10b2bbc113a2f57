"""Time estimates against what happened: the presets and two custom networks, each trained twice here.

    python -m bench.estimate            # first 6,000 images x 1 epoch, then 30,000 x 2 -> bench/measured/estimate.json
    python -m bench.estimate --quick    # first 3,000 x 1, then 6,000 x 2               -> bench/measured/estimate-quick.json

One fresh store, one training at a time. For each network: the estimate from the runs so far (none before the
first training; rough when only other networks were measured), then a first training; the estimate again
(measured now, from that run, for other fields), then a second, bigger training. Each runs as the Train page's
does (TrainingJob, a worker process) and is timed from start() to its result. Numbers, not pass/fail:
`ratio` is measured / estimated, and the range the estimate gave is beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.limits import where_and_when
from fmnist_core import people
from fmnist_core.nets import architecture
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import store
from fmnist_core.training import estimate

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "bench" / "measured"
# Two networks of the custom preset: a small one, and one heavy in batch norm and wide maps (slower than its FLOPs).
SMALL_NETWORK = {
    "conv": [{"filters": 16, "kernel": 3, "padding": "same", "pool": "max"}, {"filters": 32, "kernel": 3}],
    "dense": [64],
}
WIDE_NETWORK = {
    "conv": [
        {"filters": 48, "kernel": 5, "padding": "same", "batch_norm": True, "pool": "max"},
        {"filters": 64, "kernel": 3, "padding": "same", "batch_norm": True, "pool": "max"},
    ],
    "dense": [128],
    "dropout": 0.25,
}
NETWORKS: dict[str, tuple[str, dict[str, Any] | None]] = {  # name -> (preset, custom network)
    "fast": ("fast", None),
    "notebook": ("notebook", None),
    "improved": ("improved", None),
    "custom-small": ("custom", SMALL_NETWORK),
    "custom-wide": ("custom", WIDE_NETWORK),
}
SIZES = {  # (images, epochs) of the first and the second training
    "quick": ((3_000, 1), (6_000, 2)),
    "full": ((6_000, 1), (30_000, 2)),
}


@dataclass(frozen=True)
class Case:
    """One training of the check: which network, which step, and the fields as set."""

    network: str
    step: str  # "first" or "second"
    config: TrainConfig


def cases(networks: list[str], sizes: tuple[tuple[int, int], tuple[int, int]]) -> list[Case]:
    """Each network's first and second training, in order (the second learns from the first)."""
    out = []
    for name in networks:
        preset, arch = NETWORKS[name]
        for step, (images, epochs) in zip(("first", "second"), sizes, strict=True):
            out.append(Case(name, step, TrainConfig(preset=preset, arch=arch, epochs=epochs, limit=images, seed=1)))
    return out


def row(
    case: Case, guess: estimate.Estimate | None, measured: float, timings: dict[str, float], load: float | None = None
) -> dict[str, Any]:
    """The JSON row of one training: the fields, what was estimated before it, what it took, and the machine's
    1-minute load when it started (other work on the cores slows it)."""
    plan = estimate.plan_of(case.config)
    return {
        "network": case.network,
        "step": case.step,
        "preset": case.config.preset,
        "mflop_train": round(plan.mflop_train, 3),
        "epochs": plan.epochs,
        "images": plan.images,
        "batch_size": plan.batch_size,
        "estimate": None
        if guess is None
        else {
            "seconds": round(guess.seconds, 1),
            "low": round(guess.low, 1),
            "high": round(guess.high, 1),
            "confidence": guess.confidence,
            "fixed_seconds": round(guess.fixed_seconds, 1),
            "epoch_seconds": round(guess.epoch_seconds, 1),
            "based_on": list(guess.runs),
        },
        "load_average_at_start": None if load is None else round(load, 2),
        "measured_seconds": round(measured, 1),
        "ratio": round(measured / guess.seconds, 3) if guess else None,
        "run_timings": {key: round(value, 2) for key, value in timings.items()},
    }


def train_timed(config: TrainConfig, home: Path) -> tuple[float, dict[str, float]]:
    """Train as the Train page does; seconds from start() to the result, and the run's recorded timings."""
    from fmnist_core.training.jobs import TrainingJob

    started = time.monotonic()
    job = TrainingJob(config, home=home, command="python -m bench.estimate", actor=people.LOCAL).start()
    job.wait()
    measured = time.monotonic() - started
    snap = job.snapshot()
    if snap.state != "done" or not snap.run_id:
        raise RuntimeError(f"training {config.preset} failed: {snap.error or snap.save_error}")
    return measured, store.get_run(snap.run_id, home).metadata.timings


def format_table(report: dict[str, Any]) -> str:
    """The rows as Markdown: estimate (range, confidence), measured, ratio."""
    lines = [
        f"{report['cpu']}, commit {report['commit'][:12]}, {report['measured_at']} ({report['mode']}).",
        "",
        "| network | training | estimate (range) | confidence | measured | measured / estimate |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        guess = r["estimate"]
        if guess:
            shown = f"{guess['seconds']:.0f} s ({guess['low']:.0f}-{guess['high']:.0f})"
            confidence, ratio = guess["confidence"], f"{r['ratio']:.2f}"
        else:
            shown, confidence, ratio = "none (nothing measured here yet)", "-", "-"
        lines.append(
            f"| {r['network']} | {r['images']:,} x {r['epochs']} | {shown} | {confidence} | "
            f"{r['measured_seconds']:.0f} s | {ratio} |"
        )
    return "\n".join(lines)


def run(quick: bool, networks: list[str], out: str | None = None, keep: str | None = None) -> dict[str, Any]:
    """Train every case one after another in a fresh store (kept in `keep` when given, to study the runs), write
    the JSON and return the report."""
    mode = "quick" if quick else "full"
    report: dict[str, Any] = {
        **where_and_when(),
        "command": "python -m bench.estimate" + (" --quick" if quick else ""),
        "mode": mode,
        "executor_and_host": list(estimate.this_machine()),
        "rows": [],
    }
    with tempfile.TemporaryDirectory(prefix="fmnist-bench-estimate-") as folder:
        home = Path(keep or folder)
        home.mkdir(parents=True, exist_ok=True)
        if any(home.glob("*.json")):
            raise SystemExit(f"{home} already holds runs; the check needs a fresh store")
        for case in cases(networks, SIZES[mode]):
            guess = estimate.estimate(case.config, store.list_runs(home))
            print(f"bench.estimate: {case.network} ({case.step})...", file=sys.stderr, flush=True)
            load = os.getloadavg()[0]
            measured, timings = train_timed(case.config, home)
            report["rows"].append(row(case, guess, measured, timings, load))
    report["load_average_after"] = list(os.getloadavg())
    path = Path(out) if out else MEASURED / f"estimate{'-quick' if quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"\n(JSON written to {path})")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller trainings (3,000 x 1 then 6,000 x 2)")
    parser.add_argument("--network", action="append", dest="networks", choices=list(NETWORKS), help="repeatable")
    parser.add_argument("--out", default=None, help="JSON path (default bench/measured/estimate[-quick].json)")
    parser.add_argument("--keep", default=None, metavar="DIR", help="train into this (new, empty) store and keep it")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for spec in (SMALL_NETWORK, WIDE_NETWORK):
        architecture.parse_spec(spec)  # a bad network fails before anything trains
    run(args.quick, args.networks or list(NETWORKS), args.out, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
