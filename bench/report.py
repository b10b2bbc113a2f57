"""Regenerate docs/performance.md's tables from bench/measured/*.json, so no number there is typed by hand.

Usage: python -m bench.report [--check]

Each table sits between `<!-- table:NAME -->` and `<!-- /table:NAME -->` in docs/performance.md; the prose around
them (how to read a table, its history) is kept. `--check` exits 1 when the file differs from what the JSON gives
(tests/test_bench.py runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from typing import Any

from bench.browser import ROOT

MEASURED = ROOT / "bench" / "measured"
DOC = ROOT / "docs" / "performance.md"


def _where(report: dict[str, Any], file: str) -> str:
    """The line under each table: file, machine, commit, time, load."""
    load = report.get("load_average_before")
    load_text = f", load average {load[0]:.1f} before" if load else ""
    cpu = report.get("cpu") or (report.get("machine") or {}).get("cpu", "?")
    commit = (report.get("commit") or "?")[:7]
    return f"`bench/measured/{file}`: {cpu}, commit {commit}, {report.get('measured_at', '?')}{load_text}."


def clicks_table(report: dict[str, Any], file: str) -> str:
    """The list of clicks a learner makes: first visit and median, browser and server side, against the target."""
    lines = [
        "| interaction | first visit (browser) | median (browser) | median (server) | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in report["interactions"].items():
        lines.append(
            f"| {name} | {r['first_browser_ms']:,.0f} ms | {r['median_browser_ms']:,.0f} ms | "
            f"{r['median_server_ms']:,.0f} ms | < {r['target_ms']:,} ms | {'yes' if r['met'] else '**no**'} |"
        )
    return "\n".join(lines) + f"\n\n{report['rounds']} rounds each; " + _where(report, file)


def startup_table(report: dict[str, Any], file: str) -> str:
    """Click to first batch and to result, cold versus warm worker."""
    t = report["training"]
    lines = [
        "| worker | click → first batch (median, min–max) | click → result | worker CPU-s to result |",
        "|---|---|---|---|",
    ]
    for mode in ("cold", "warm"):
        s = report["summary"].get(mode) or {}
        if not s:
            continue

        def cell(key: str, s: dict = s) -> str:
            v = s.get(key)
            return f"{v['median']:.1f} s ({v['min']:.1f}–{v['max']:.1f})" if v else "—"

        cpu = s.get("worker_cpu_s_to_result")
        lines.append(
            f"| {mode} | {cell('first_batch_s')} | {cell('result_s')} | {cpu['median']:.1f} |"
            if cpu
            else f"| {mode} | {cell('first_batch_s')} | {cell('result_s')} | — |"
        )
    rounds = len(report["rounds"]) // 2
    head = f"{t['preset']}, {t['epochs']} epoch of {t['images']} images, {rounds} rounds per mode, alternating; "
    return "\n".join(lines) + "\n\n" + head + _where(report, file)


def training_table(report: dict[str, Any], file: str) -> str:
    """The presets' training speed and accuracy (bench/__main__.py's own table)."""
    from bench.__main__ import format_table

    return format_table(report) + "\n\n" + _where(report, file)


def tricks_table(report: dict[str, Any], file: str) -> str:
    """What each trick buys (bench/tricks.py's own table)."""
    from bench.tricks import format_table

    return format_table(report) + "\n\n" + _where(report, file)


def tsne_table(report: dict[str, Any], file: str) -> str:
    """The Embedding page's t-SNE settings against openTSNE's (bench/tsne.py), with PCA's agreement for scale."""
    lines = ["| t-SNE settings | median time | 10-neighbour class agreement |", "|---|---|---|"]
    for name, r in report["settings"].items():
        lines.append(f"| {name} | {r['median_seconds']:.1f} s | {r['agreement']:.3f} |")
    lines.append(f"| PCA, for scale | — | {report['pca_agreement']:.3f} |")
    head = f"Model `{report['run']}`, 10,000 test images, {report['rounds']} rounds alternating; "
    return "\n".join(lines) + "\n\n" + head + _where(report, file)


def suite_cpu_table(report: dict[str, Any], file: str) -> str:
    """The suite's CPU-seconds by kind of process (bench/suite_cpu.py)."""
    sampled = sum(row["cpu_s"] for row in report["kinds"].values())
    lines = ["| processes | CPU-seconds | share | how many |", "|---|---|---|---|"]
    for kind, row in report["kinds"].items():
        lines.append(f"| {kind} | {row['cpu_s']:,.0f} | {row['cpu_s'] / sampled:.0%} | {row['processes']} |")
    head = (
        f"`{report['last_line'].strip('= ')}`; wall {report['wall_s'] / 60:.1f} min, the machine busy "
        f"{report['busy_cpu_s'] / 60:.1f} CPU-min ({sampled / 60:.1f} seen in processes); "
    )
    return "\n".join(lines) + "\n\n" + head + _where(report, file)


def suite_cpu_compare_table(report: dict[str, Any], file: str) -> str:
    """The suite's CPU-seconds by kind, this tree beside the one before it (suite-cpu-before.json, the same
    machine), and the slowest tests of this tree's run."""
    before = json.loads((MEASURED / "suite-cpu-before.json").read_text())
    kinds = list(dict.fromkeys([*report["kinds"], *before["kinds"]]))
    lines = ["| processes | before: CPU-s (how many) | now: CPU-s (how many) |", "|---|---|---|"]

    def cell(run: dict[str, Any], kind: str) -> str:
        row = run["kinds"].get(kind)
        return "—" if row is None else f"{row['cpu_s']:,.0f} ({row['processes']})"

    for kind in kinds:
        lines.append(f"| {kind} | {cell(before, kind)} | {cell(report, kind)} |")
    total = {name: sum(r["cpu_s"] for r in run["kinds"].values()) for name, run in (("b", before), ("n", report))}
    lines.append(f"| **all** | **{total['b']:,.0f}** | **{total['n']:,.0f}** ({total['n'] / total['b']:.0%}) |")
    lines.append("")
    lines.append(
        f"Before: `{before['last_line'].strip('= ')}` (commit {before['commit'][:7]}); now: "
        f"`{report['last_line'].strip('= ')}`; " + _where(report, file)
    )
    lines += ["", "| slowest now | seconds | phase |", "|---|---|---|"]
    for row in report.get("slowest", []):
        lines.append(f"| `{row['test']}` | {row['seconds']:.1f} | {row['phase']} |")
    return "\n".join(lines)


TABLES: dict[str, tuple[str, Callable[[dict[str, Any], str], str]]] = {
    "clicks": ("clicks.json", clicks_table),
    "startup": ("startup.json", startup_table),
    "training": ("bench-full.json", training_table),
    "speedrun": ("bench-speedrun.json", training_table),
    "tricks": ("tricks.json", tricks_table),
    "tsne": ("tsne.json", tsne_table),
    "suite-cpu": ("suite-cpu.json", suite_cpu_table),
    "suite-cpu-compare": ("suite-cpu.json", suite_cpu_compare_table),
}
_BLOCK = re.compile(r"(<!-- table:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /table:(?P=name) -->)", re.S)


def render(text: str) -> str:
    """`text` with every marked table replaced by what its JSON gives now."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in TABLES:
            raise SystemExit(f"docs/performance.md names an unknown table {name!r}; known: {', '.join(TABLES)}")
        file, build = TABLES[name]
        path = MEASURED / file
        body = build(json.loads(path.read_text()), file) if path.exists() else f"(no `bench/measured/{file}` yet)"
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return _BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/performance.md is out of date")
    args = parser.parse_args(argv)
    text = DOC.read_text()
    fresh = render(text)
    if args.check:
        if fresh != text:
            print("docs/performance.md is out of date: run python -m bench.report", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh)
    print(f"wrote {DOC.relative_to(ROOT)} ({len(_BLOCK.findall(fresh))} tables)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
