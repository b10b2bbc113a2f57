"""Benchmark: presets trained side by side, each in a fresh process, plus inference latency and memory.

Numbers, not pass/fail: timings on a shared 2-core machine are noisy, so everything that is compared is
measured in the same invocation, one process after another.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.9137
STRONG_TARGET = 0.935  # what the "improved" preset aims for within 5 minutes (issue 6)


def _child_env(home: str) -> dict[str, str]:
    env = dict(os.environ, FMNIST_HOME=home, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("FMNIST_MAX_TRAININGS", None)
    return env


def run_child(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float, float]:
    """Run `python -m fmnist_core ...` in a fresh process; return its JSON, wall seconds and peak RSS (MB)."""
    import threading

    import psutil

    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fmnist_core", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    peak = [0.0]

    def watch() -> None:  # sample this child's RSS (RUSAGE_CHILDREN would mix all children reaped so far)
        try:
            child = psutil.Process(proc.pid)
            while proc.poll() is None:
                peak[0] = max(peak[0], child.memory_info().rss / 2**20)
                time.sleep(0.2)
        except psutil.Error:
            pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    watcher.join()
    peak_mb = peak[0]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {err.decode(errors='replace').strip()[-500:]}")
    return json.loads(out), time.monotonic() - started, peak_mb


def bench_presets(presets: list[str], quick: bool, home: str) -> list[dict[str, Any]]:
    """Train each preset in its own process and collect images/s, epoch time, time to target, accuracy, RSS."""
    rows = []
    for preset in presets:
        args = ["train", "--preset", preset, "--json", "--seed", "1"]
        if quick:  # one epoch each: enough for images/s; time to target needs the full run
            args += ["--epochs", "1"]
        print(f"bench: training preset {preset} {'(quick)' if quick else ''}...", file=sys.stderr, flush=True)
        result, wall, peak = run_child(args, _child_env(home))
        history = result["history"]
        rows.append(
            {
                "preset": preset,
                "epochs": result["epochs"],
                "images_per_second": result["samples_per_second"],
                "seconds_per_epoch": sum(r["seconds"] for r in history) / len(history),
                "epoch_seconds": [round(r["seconds"], 1) for r in history],
                "seconds_to_target": result["seconds_to_target"],
                "seconds_to_strong_target": next(
                    (r["elapsed"] for r in history if (r["test_accuracy"] or 0) >= STRONG_TARGET), None
                ),
                "final_test_accuracy": result["test_accuracy"],
                "training_seconds": result["seconds"],
                "process_seconds": wall,
                "peak_rss_mb": peak,
                "precision": result["precision"],
            }
        )
    return rows


INTERACTION_SCRIPT = r"""
import json, os, sys, time, gc
import numpy as np
import psutil
from fmnist_core import data, store
from fmnist_core.inference import predict_proba
from fmnist_core.activations import layer_outputs
proc = psutil.Process()
test = data.load_test_set()
t = time.perf_counter(); model = store.load_model("default"); load_s = time.perf_counter() - t
t = time.perf_counter(); predict_proba(model, test.images); first_predict = time.perf_counter() - t
times = []
for _ in range(3):
    t = time.perf_counter(); predict_proba(model, test.images); times.append(time.perf_counter() - t)
layer_outputs(model, test.images[0])
act = []
for i in range(1, 51):
    t = time.perf_counter(); layer_outputs(model, test.images[i]); act.append((time.perf_counter() - t) * 1000)
out = {"model_load_seconds": load_s, "predict_test_set_first_seconds": first_predict,
       "predict_test_set_seconds": float(np.median(times)), "activations_new_image_ms_median": float(np.median(act)),
       "activations_new_image_ms_p95": float(np.percentile(act, 95))}
# memory over consecutive trainings in one process
from fmnist_core.training import TrainConfig, TrainingJob
rss = []
for k in range(6):
    job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=int(sys.argv[1]), seed=k)).start(); job.wait()
    del job; gc.collect(); rss.append(proc.memory_info().rss / 2**20)
out["rss_after_trainings_mb"] = rss
out["rss_growth_after_first_mb"] = rss[-1] - rss[0]
print(json.dumps(out))
"""


def bench_interaction(home: str, limit: int) -> dict[str, Any]:
    """Inference latencies and RSS growth over 6 trainings, in one fresh process."""
    print("bench: inference latency and memory over 6 trainings...", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [sys.executable, "-c", INTERACTION_SCRIPT, str(limit)],
        capture_output=True,
        text=True,
        env=_child_env(home),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"interaction benchmark failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    flags = ""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        pass
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), "?")
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags,
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def format_table(report: dict[str, Any]) -> str:
    """Markdown table of the preset rows plus the ratio line."""
    lines = [
        "| preset | epochs | images/s | s/epoch | s to 0.9137 | s to 0.935 | training s | final test acc "
        "| peak RSS MB | precision |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]

    def when(seconds: float | None) -> str:
        return f"{seconds:.1f}" if seconds is not None else "never"

    for r in report["presets"]:
        lines.append(
            f"| {r['preset']} | {r['epochs']} | {r['images_per_second']:,.0f} | {r['seconds_per_epoch']:.1f} | "
            f"{when(r['seconds_to_target'])} | {when(r.get('seconds_to_strong_target'))} | "
            f"{r['training_seconds']:.0f} | {r['final_test_accuracy']:.4f} | {r['peak_rss_mb']:.0f} | {r['precision']} |"
        )
    if report.get("ratio") is not None:
        lines.append(f"\nimages/s ratio fast/seed: **{report['ratio']:.2f}x**")
    inter = report.get("interaction")
    if inter:
        lines.append(
            f"\nactivations of a new image: {inter['activations_new_image_ms_median']:.1f} ms median "
            f"({inter['activations_new_image_ms_p95']:.1f} ms p95); whole test set predictions: "
            f"{inter['predict_test_set_seconds']:.2f} s (first call {inter['predict_test_set_first_seconds']:.2f} s); "
            f"RSS over 6 trainings: {', '.join(f'{v:.0f}' for v in inter['rss_after_trainings_mb'])} MB "
            f"(growth after the first: {inter['rss_growth_after_first_mb']:+.0f} MB)"
        )
    return "\n".join(lines)


def main(quick: bool = False, presets: list[str] | None = None, out: str | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write JSON; returns the report."""
    from fmnist_core.training import PRESETS

    presets = presets or [p for p in ("seed", "fast", "improved") if p in PRESETS]
    with tempfile.TemporaryDirectory(prefix="fmnist-bench-") as home:
        report: dict[str, Any] = {"machine": machine(), "quick": quick}
        report["presets"] = bench_presets(presets, quick, home)
        by_name = {r["preset"]: r for r in report["presets"]}
        if "seed" in by_name and "fast" in by_name:
            report["ratio"] = by_name["fast"]["images_per_second"] / by_name["seed"]["images_per_second"]
        report["interaction"] = bench_interaction(home, 2000 if quick else 10000)
    path = Path(out or "bench/results/latest.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(format_table(report))
    print(f"\n(JSON written to {path}; machine: {report['machine']})")
    return report
