"""Presets trained side by side, each in a fresh process, with the machine's limit beside them.

`bench_presets` runs `python -m bench.train PRESET ...` once per preset, one after another, and samples the
resident memory of that child's whole process tree (the training itself runs in a spawned grandchild, the
worker). The child trains through the same TrainingJob the pages and the CLI use and prints one JSON line.

Usage (one preset, what the harness runs): python -m bench.train PRESET [--epochs N] [--limit N] [--no-epoch-eval]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from fmnist_core import people
from fmnist_core.nets import architecture
from fmnist_core.nets.presets import PRESETS, TARGET_ACCURACY, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
STRONG_TARGET = 0.935  # what the "improved" preset must reach within 5x the notebook's wall time
SPEEDRUN_TARGET = 0.930  # what the speedrun preset must reach within the notebook's wall time (mean of its seeds)
SEED_TARGETS = (SPEEDRUN_TARGET, STRONG_TARGET)
SAMPLE_SECONDS = 0.2
ROW_KEYS = (
    "preset",
    "precision",
    "images_per_second",
    "fraction_of_limit",
    "seconds_to_target",
    "seconds_to_0935",
    "final_test_accuracy",
    "peak_rss_mb",
    "mflop_per_image",
)


@dataclass(frozen=True)
class TrainResult:
    """What one child training reports (the JSON line of `python -m bench.train`)."""

    preset: str
    precision: str
    epochs: int
    images_per_second: float
    training_seconds: float  # time inside the fit's training batches (no evaluation)
    fit_seconds: float  # the whole fit, per-epoch evaluation included
    final_test_accuracy: float
    history: list[dict[str, Any]]
    seed: int = 1
    startup_seconds: float | None = None  # from the click (the job's start) until the fit began
    total_seconds: float | None = None  # from the click until the run was saved
    mirror_accuracy: float | None = None  # the final accuracy with mirror images averaged in (presets that ask)


# Presets with a network of their own ("custom" trains the user's spec, so it has no fixed cost to benchmark).
BENCH_PRESETS = tuple(name for name, p in PRESETS.items() if p.architecture in architecture.PRESET_SPECS)


def mflop_per_image(preset: str) -> float:
    """FLOPs of one training image (forward, weight and input gradients) from the preset's layers."""
    return architecture.describe(architecture.PRESET_SPECS[PRESETS[preset].architecture]).mflop_train


def train_here(
    preset: str, epochs: int | None, limit: int | None, evaluate_each_epoch: bool, home: str, seed: int = 1
) -> TrainResult:
    """Train one preset through TrainingJob (so in a worker process, as the app does) and collect its numbers."""
    from fmnist_core.training.jobs import TrainingJob

    config = TrainConfig(preset=preset, epochs=epochs, limit=limit, seed=seed, evaluate_each_epoch=evaluate_each_epoch)
    job = TrainingJob(config, home=Path(home), command=f"python -m bench.train {preset}", actor=people.LOCAL).start()
    job.wait()
    snap = job.snapshot()
    if snap.state == "failed" or snap.save_error:
        raise RuntimeError(f"training {preset} failed: {snap.error or snap.save_error}")
    return TrainResult(
        preset=preset,
        precision=snap.precision or "float32",
        epochs=len(snap.history),
        images_per_second=float(snap.samples_per_second or 0.0),
        training_seconds=float(snap.train_seconds),
        fit_seconds=float(snap.fit_seconds or 0.0),
        final_test_accuracy=float(snap.test_accuracy or 0.0),
        history=[row.to_dict() for row in snap.history],
        seed=seed,
        startup_seconds=(snap.fit_started - snap.started) if snap.fit_started and snap.started else None,
        total_seconds=snap.elapsed,
        mirror_accuracy=snap.mirror_accuracy,
    )


def run_child(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    """Run `python -m bench.train ...` in a fresh process; its JSON and the peak RSS (MB) of its process tree."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.train", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    peak = [0.0]

    def watch() -> None:  # the worker is a grandchild: sum the tree, sampled until the child exits
        try:
            root = psutil.Process(proc.pid)
            while proc.poll() is None:
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:  # a process that just ended
                        pass
                peak[0] = max(peak[0], total / 2**20)
                time.sleep(SAMPLE_SECONDS)
        except psutil.Error:
            pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {err.decode(errors='replace').strip()[-800:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), peak[0]


def child_env(home: str) -> dict[str, str]:
    """The children's environment: their own store, quiet TensorFlow, no admission limit from the caller."""
    env = dict(os.environ, FMNIST_HOME=home, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("FMNIST_MAX_TRAININGS", None)
    return env


def first_elapsed(history: list[dict[str, Any]], target: float) -> float | None:
    """Seconds since the fit began at the end of the first epoch whose test accuracy reached `target`."""
    return next((row["elapsed"] for row in history if (row.get("test_accuracy") or 0) >= target), None)


def row_of(result: TrainResult, peak_rss_mb: float, limits: dict[str, float]) -> dict[str, Any]:
    """The preset's JSON row (keys exactly ROW_KEYS): throughput against its precision's matmul limit.

    Without per-epoch evaluation (the notebook row) the only test accuracy is the final one, reached when the fit ends.
    """
    mflop = mflop_per_image(result.preset)
    gflops = limits["bf16_gflops"] if result.precision == "mixed_bfloat16" else limits["fp32_gflops"]
    evaluated = any(row.get("test_accuracy") is not None for row in result.history)

    def seconds_to(target: float) -> float | None:
        if evaluated:
            return first_elapsed(result.history, target)
        return result.fit_seconds if result.final_test_accuracy >= target else None

    return {
        "preset": result.preset,
        "precision": result.precision,
        "images_per_second": result.images_per_second,
        "fraction_of_limit": result.images_per_second * mflop / (gflops * 1e3) if gflops else None,
        "seconds_to_target": seconds_to(TARGET_ACCURACY),
        "seconds_to_0935": seconds_to(STRONG_TARGET),
        "final_test_accuracy": result.final_test_accuracy,
        "peak_rss_mb": peak_rss_mb,
        "mflop_per_image": mflop,
    }


def bench_presets(
    presets: list[str], limits: dict[str, float], home: str, epochs: int | None = None, limit: int | None = None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Train each preset in its own process; the rows, and per preset the run's details (epochs, seconds).

    The notebook row is its loop as written: no test evaluation between epochs.
    """
    rows, runs = [], {}
    for preset in presets:
        args = [preset] + (["--epochs", str(epochs)] if epochs else []) + (["--limit", str(limit)] if limit else [])
        if preset in ("notebook", "seed"):
            args.append("--no-epoch-eval")
        print(f"bench: training {preset} ({' '.join(args[1:]) or 'full'})...", file=sys.stderr, flush=True)
        started = time.monotonic()
        payload, peak = run_child(args, child_env(home))
        result = TrainResult(**payload)
        rows.append(row_of(result, peak, limits))
        runs[preset] = {
            "epochs": result.epochs,
            "training_seconds": result.training_seconds,
            "fit_seconds": result.fit_seconds,
            "process_seconds": time.monotonic() - started,
            "epoch_seconds": [round(r["seconds"], 1) for r in result.history],
            "epoch_test_accuracy": [r.get("test_accuracy") for r in result.history],
            "seed_row": seed_row(result),
        }
    return rows, runs


def seconds_from_click(result: TrainResult, target: float) -> float | None:
    """Seconds from the click until the end of the first epoch whose test accuracy reached `target` (start-up,
    data and evaluations included); None if none did."""
    at = first_elapsed(result.history, target)
    return None if at is None or result.startup_seconds is None else result.startup_seconds + at


def seed_row(result: TrainResult) -> dict[str, Any]:
    """One seed's numbers for the seeds table: final accuracies and the seconds from the click to each target."""
    return {
        "seed": result.seed,
        "final_test_accuracy": result.final_test_accuracy,
        "mirror_accuracy": result.mirror_accuracy,
        "startup_seconds": result.startup_seconds,
        "total_seconds": result.total_seconds,
        "epoch_test_accuracy": [r.get("test_accuracy") for r in result.history],
        "seconds_from_click": {str(t): seconds_from_click(result, t) for t in SEED_TARGETS},
    }


def seed_rows(
    preset: str, seeds: int, home: str, first: dict[str, Any], epochs: int | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The preset's seed 1 (`first`, from the side-by-side run) and seeds 2..seeds, each in a fresh process: a
    recipe is judged on its spread, not on one lucky seed."""
    out = [first]
    for seed in range(2, seeds + 1):
        args = [preset, "--seed", str(seed)] + (["--epochs", str(epochs)] if epochs else [])
        args += ["--limit", str(limit)] if limit else []
        print(f"bench: training {preset}, seed {seed}...", file=sys.stderr, flush=True)
        payload, _ = run_child(args, child_env(home))
        out.append(seed_row(TrainResult(**payload)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train one preset and print its numbers as JSON.")
    parser.add_argument("preset", choices=BENCH_PRESETS)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-epoch-eval", action="store_true", help="evaluate the test set only at the end")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    home = os.environ.get("FMNIST_HOME") or tempfile.mkdtemp(prefix="fmnist-bench-")
    result = train_here(args.preset, args.epochs, args.limit, not args.no_epoch_eval, home, args.seed)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
