"""The benchmark in one command: the machine's matmul limit, the presets side by side, inference and memory.

    python -m bench            # full: every preset with its own epochs (~15 min on 2 cores) -> bench/measured/bench-full.json
    python -m bench --quick    # one epoch each (~4 min)                                     -> bench/measured/bench-quick.json

Numbers, not pass/fail: everything compared is measured in this one invocation, one fresh process after another.
The JSON carries the git commit and the machine; the table printed at the end is docs/performance.md's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import limits as limits_module
from bench.train import (
    BENCH_PRESETS,
    SEED_TARGETS,
    SPEEDRUN_TARGET,
    STRONG_TARGET,
    bench_presets,
    child_env,
    seed_rows,
)
from fmnist_core.nets.presets import TARGET_ACCURACY, preset_name

ROOT = Path(__file__).resolve().parent.parent
MEASURED = ROOT / "bench" / "measured"
DEFAULT_PRESETS = ("notebook", "fast", "speedrun", "improved")


def python_module(module: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `python -m module args` in a fresh process and return the JSON of its last line."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ratios(rows: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """The issue's targets as ratios against the notebook's recipe (its row) of this same run.

    Measurements from before the rename call the notebook's row "seed"; they read the same.
    """
    by = {preset_name(row["preset"]): row for row in rows}
    runs = {preset_name(name): run for name, run in runs.items()}
    out: dict[str, float | None] = {}
    if "notebook" not in by:
        return out
    seed_ips, seed_wall = by["notebook"]["images_per_second"], runs["notebook"]["fit_seconds"]
    out["seed_wall_seconds"] = seed_wall
    if "fast" in by:
        out["fast_vs_seed_images_per_second"] = by["fast"]["images_per_second"] / seed_ips
        s = by["fast"]["seconds_to_target"]
        out["fast_seconds_to_target_vs_seed_wall"] = s / seed_wall if s is not None else None
    if "improved" in by:
        s = by["improved"]["seconds_to_0935"]
        out["improved_seconds_to_0935_vs_seed_wall"] = s / seed_wall if s is not None else None
    return out


def seed_summary(seeds: list[dict[str, Any]], notebook_wall: float | None) -> dict[str, Any]:
    """A preset's seeds in a few numbers: mean and spread of the final accuracies (plain and with mirror images),
    and per target the seeds' seconds from the click against the notebook's wall time of the same run."""
    finals = [s["final_test_accuracy"] for s in seeds]
    mirrors = [s["mirror_accuracy"] for s in seeds if s.get("mirror_accuracy") is not None]
    out: dict[str, Any] = {
        "seeds": len(seeds),
        "mean_final_test_accuracy": sum(finals) / len(finals),
        "spread_final_test_accuracy": max(finals) - min(finals),
        "mean_mirror_accuracy": sum(mirrors) / len(mirrors) if mirrors else None,
        "mean_total_seconds": sum(s["total_seconds"] or 0 for s in seeds) / len(seeds),
        "targets": {},
    }
    for target in SEED_TARGETS:
        times = [s["seconds_from_click"].get(str(target)) for s in seeds]
        reached = [t for t in times if t is not None]
        out["targets"][str(target)] = {
            "seeds_reaching": len(reached),
            "seconds_from_click": times,
            "worst_vs_notebook_wall": (max(reached) / notebook_wall)
            if notebook_wall and len(reached) == len(seeds)
            else None,
        }
    if notebook_wall:
        out["mean_total_vs_notebook_wall"] = out["mean_total_seconds"] / notebook_wall
    return out


def format_seeds(report: dict[str, Any]) -> list[str]:
    """The seeds table: each seed of each preset trained more than once, and the targets against the notebook."""
    seeds = report.get("seeds") or {}
    if not seeds:
        return []
    lines = [
        "",
        "| preset | seed | final test acc | with mirror images | s from click to 0.930 | s to 0.935 | s to the end |",
        "|---|---|---|---|---|---|---|",
    ]

    def secs(value: float | None) -> str:
        return f"{value:.1f}" if value is not None else "never"

    for preset, block in seeds.items():
        for s in block["runs"]:
            mirror = f"{s['mirror_accuracy']:.4f}" if s.get("mirror_accuracy") is not None else "-"
            t = s["seconds_from_click"]
            lines.append(
                f"| {preset} | {s['seed']} | {s['final_test_accuracy']:.4f} | {mirror} | "
                f"{secs(t.get(str(SPEEDRUN_TARGET)))} | {secs(t.get(str(STRONG_TARGET)))} | {secs(s['total_seconds'])} |"
            )
    for preset, block in seeds.items():
        summary = block["summary"]
        parts = [
            f"{preset}: mean final test accuracy **{summary['mean_final_test_accuracy']:.4f}** "
            f"(spread {summary['spread_final_test_accuracy']:.4f} over {summary['seeds']} seeds)"
        ]
        if summary.get("mean_mirror_accuracy") is not None:
            parts.append(f"with mirror images {summary['mean_mirror_accuracy']:.4f}")
        if summary.get("mean_total_vs_notebook_wall") is not None:
            parts.append(f"click to result {summary['mean_total_vs_notebook_wall']:.2f}x the notebook's wall time")
        for target, t in summary["targets"].items():
            worst = t["worst_vs_notebook_wall"]
            parts.append(
                f"{target} reached by {t['seeds_reaching']} of {summary['seeds']} seeds"
                + (f", the slowest at {worst:.2f}x" if worst is not None else "")
            )
        lines += ["", "; ".join(parts) + "."]
    return lines


def format_table(report: dict[str, Any]) -> str:
    """docs/performance.md's training table, the limits and the ratios, as Markdown."""

    def secs(value: float | None) -> str:
        return f"{value:.1f}" if value is not None else "never"

    m = report["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, bfloat16 {'native' if m['bf16'] else 'not native'}; "
        f"matmul limit (2 threads): {m['fp32_gflops']:.0f} GFLOP/s float32, {m['bf16_gflops']:.0f} GFLOP/s bfloat16. "
        f"Commit {report['commit'][:12]}, {report['measured_at']}.",
        "",
        "| preset | precision | epochs | images/s | MFLOP/image | of limit | s to 0.9137 | s to 0.935 "
        "| final test acc | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["presets"]:
        run = report["runs"][r["preset"]]
        limit = f"{r['fraction_of_limit']:.0%}" if r["fraction_of_limit"] is not None else "?"
        lines.append(
            f"| {r['preset']} | {r['precision']} | {run['epochs']} | {r['images_per_second']:,.0f} | "
            f"{r['mflop_per_image']:.1f} | {limit} | {secs(r['seconds_to_target'])} | {secs(r['seconds_to_0935'])} | "
            f"{r['final_test_accuracy']:.4f} | {r['peak_rss_mb']:,.0f} |"
        )
    q = report.get("ratios") or {}
    if "seed_wall_seconds" in q:
        parts = [f"the notebook's recipe: {q['seed_wall_seconds']:.1f} s for its epochs"]
        if q.get("fast_vs_seed_images_per_second") is not None:
            parts.append(f"fast/seed images/s **{q['fast_vs_seed_images_per_second']:.2f}x**")
        if "fast_seconds_to_target_vs_seed_wall" in q:
            v = q["fast_seconds_to_target_vs_seed_wall"]
            parts.append(f"fast reaches {TARGET_ACCURACY} at " + (f"{v:.2f}x" if v is not None else "never") + " it")
        if "improved_seconds_to_0935_vs_seed_wall" in q:
            v = q["improved_seconds_to_0935_vs_seed_wall"]
            parts.append(f"improved reaches {STRONG_TARGET} at " + (f"{v:.2f}x" if v is not None else "never") + " it")
        lines += ["", "; ".join(parts) + "."]
    lines += format_seeds(report)
    inf = report.get("inference")
    if inf:
        lines += [
            "",
            f"Activations of a new image: {inf['activations_new_image_ms_median']:.1f} ms median "
            f"({inf['activations_new_image_ms_p95']:.1f} ms p95); whole test set predictions: "
            f"{inf['predict_test_set_seconds']:.2f} s (first call {inf['predict_test_set_first_seconds']:.2f} s); "
            f"server RSS over {len(inf['rss_after_trainings_mb'])} trainings: "
            f"{', '.join(f'{v:.0f}' for v in inf['rss_after_trainings_mb'])} MB.",
        ]
    return "\n".join(lines)


def run(
    quick: bool = False,
    presets: list[str] | None = None,
    limit: int | None = None,
    matmul_size: int = limits_module.DEFAULT_SIZE,
    inference: bool = True,
    out: str | None = None,
    seeds: int = 1,
) -> dict[str, Any]:
    """Measure everything, write the JSON and return the report."""
    presets = presets or [p for p in DEFAULT_PRESETS if p in BENCH_PRESETS]
    with tempfile.TemporaryDirectory(prefix="fmnist-bench-") as home:
        env = child_env(home)
        report: dict[str, Any] = {
            "commit": limits_module.git_commit(),
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python -m bench" + (" --quick" if quick else ""),
            "quick": quick,
            "python": platform.python_version(),
            "load_average_before": list(os.getloadavg()),
        }
        print("bench: matmul limits...", file=sys.stderr, flush=True)
        lim = python_module("bench.limits", ["--size", str(matmul_size)], env)
        report["machine"] = limits_module.machine(lim["fp32_gflops"], lim["bf16_gflops"])
        rows, runs = bench_presets(presets, report["machine"], home, epochs=1 if quick else None, limit=limit)
        report["presets"], report["runs"] = rows, runs
        report["ratios"] = ratios(rows, runs)
        if seeds > 1:
            wall = runs.get("notebook", {}).get("fit_seconds")
            report["seeds"] = {}
            for preset in presets:
                if preset_name(preset) == "notebook":
                    continue
                first = runs[preset]["seed_row"]
                more = seed_rows(preset, seeds, home, first, epochs=1 if quick else None, limit=limit)
                report["seeds"][preset] = {"runs": more, "summary": seed_summary(more, wall)}
        if inference:
            print("bench: inference latency and memory over trainings...", file=sys.stderr, flush=True)
            report["inference"] = python_module(
                "bench.inference", ["--limit", str(limit or (2000 if quick else 10_000))], env
            )
        report["load_average_after"] = list(os.getloadavg())
    path = Path(out) if out else MEASURED / ("bench-quick.json" if quick else "bench-full.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"\n(JSON written to {path})")
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch per preset")
    parser.add_argument("--preset", action="append", dest="presets", choices=BENCH_PRESETS, help="repeatable")
    parser.add_argument("--limit", type=int, default=None, help="training images per preset (default: all 60,000)")
    parser.add_argument("--matmul-size", type=int, default=limits_module.DEFAULT_SIZE)
    parser.add_argument(
        "--seeds", type=int, default=1, help="train every preset but the notebook this many times (seeds 1..N) more"
    )
    parser.add_argument("--no-inference", dest="inference", action="store_false", help="skip bench.inference")
    parser.add_argument("--out", default=None, help="JSON path (default bench/measured/bench-{quick,full}.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run(args.quick, args.presets, args.limit, args.matmul_size, args.inference, args.out, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
