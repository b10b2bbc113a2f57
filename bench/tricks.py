"""What each trick buys: the notebook's recipe with speedrun's tricks added one at a time, then the full recipe with
each left out, every row trained in a fresh process, seconds from the process start to the final accuracy.

    python -m bench.tricks                  # every row (~25 min on 2 cores) -> bench/measured/tricks.json
    python -m bench.tricks --ship           # ... and copy it to fmnist_core/nets/tricks_measured.json (the Train page's)
    python -m bench.tricks --child a,b      # one row (what the harness runs): prints one JSON line

Every row evaluates the test set once, at the end (no evaluation between epochs, as the notebook's loop), and
reports the plain accuracy and the one with mirror images beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import limits as limits_module
from bench.train import ROOT, child_env
from fmnist_core.nets import tricks as tricks_module

MEASURED = ROOT / "bench" / "measured" / "tricks.json"


def rows_to_measure() -> list[tuple[str, tuple[str, ...]]]:
    """(kind, tricks) per row: the build-up from the notebook, then the full recipe without each trick."""
    keys = [t.key for t in tricks_module.TRICKS]
    rows = [("added", tuple(keys[:k])) for k in range(len(keys) + 1)]
    rows += [("left out", tuple(k for k in keys if k != out)) for out in keys]
    return rows


def train_row(tricks: tuple[str, ...], home: str, seed: int = 1) -> dict[str, Any]:
    """Train the recipe with these tricks in this process through the worker's Trainer; its numbers."""
    started = time.monotonic()
    from fmnist_core.nets.presets import TrainConfig
    from fmnist_core.training.events import Evaluated
    from fmnist_core.training.worker import Trainer, WorkerSpec

    preset, settings = tricks_module.recipe(tricks)
    config = TrainConfig(preset="speedrun", seed=seed, evaluate_each_epoch=False, **settings).resolved()
    spec = WorkerSpec(
        config=config,
        home=home,
        data_dir=None,
        run_id=None,
        command="python -m bench.tricks",
        executor="local-process",
        launched_at=time.time(),
        recipe=preset,
    )
    evaluated_at: list[float] = []

    def send(event: Any) -> None:
        if isinstance(event, Evaluated):
            evaluated_at.append(time.monotonic())

    trainer = Trainer(spec, send, threading.Event())
    trainer.run()
    state = trainer.state
    if state.error or not evaluated_at:
        raise RuntimeError(f"training {tricks} failed: {state.error}")
    return {
        "tricks": list(tricks),
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "precision": state.precision,
        "test_accuracy": state.test_accuracy,
        "mirror_accuracy": state.mirror_accuracy,
        "seconds": evaluated_at[0] - started,
        "fit_seconds": state.fit_seconds,
    }


def run_child(tricks: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
    """One row in a fresh process (so no row inherits another's warmed-up TensorFlow)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.tricks", "--child", ",".join(tricks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"row {tricks} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_table(report: dict[str, Any]) -> str:
    """The rows as Markdown: what changed, accuracy (plain and with mirror images) and seconds."""
    titles = {t.key: t.title for t in tricks_module.TRICKS}
    lines = [
        "| row | test accuracy | with mirror images | seconds |",
        "|---|---|---|---|",
    ]
    for row in report["rows"]:
        if row["kind"] == "added":
            name = "the notebook's recipe" if not row["tricks"] else f"+ {titles[row['tricks'][-1]]}"
        else:
            name = f"all but {titles[row['left_out']]}"
        mirror = f"{row['mirror_accuracy']:.4f}" if row.get("mirror_accuracy") is not None else "-"
        lines.append(f"| {name} | {row['test_accuracy']:.4f} | {mirror} | {row['seconds']:.1f} |")
    m = report["machine"]
    lines += [
        "",
        f"One seed each; `python -m bench.tricks` on {m['cpu']} ({m['cores']} cores, bfloat16 "
        f"{'native' if m['bf16'] else 'not native'}), commit {report['commit'][:7]}, {report['measured_at']}.",
    ]
    return "\n".join(lines)


def run(ship: bool, out: Path) -> dict[str, Any]:
    """Measure every row, write the JSON (and the shipped copy) and return the report."""
    keys = [t.key for t in tricks_module.TRICKS]
    with tempfile.TemporaryDirectory(prefix="fmnist-tricks-") as home:
        env = child_env(home)
        report: dict[str, Any] = {
            "commit": limits_module.git_commit(),
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python -m bench.tricks",
            "python": platform.python_version(),
            "machine": limits_module.machine(0.0, 0.0),
            "load_average_before": list(os.getloadavg()),
            "rows": [],
        }
        for kind, tricks in rows_to_measure():
            print(f"bench.tricks: {kind} {','.join(tricks) or 'none'}...", file=sys.stderr, flush=True)
            row = run_child(tricks, env)
            row["kind"] = kind
            if kind == "left out":
                row["left_out"] = next(k for k in keys if k not in tricks)
            report["rows"].append(row)
        report["load_average_after"] = list(os.getloadavg())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if ship:
        shutil.copyfile(out, tricks_module.MEASURED)
    print(format_table(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tricks", description=__doc__.splitlines()[0])
    parser.add_argument("--child", default=None, help="train one row (comma-separated tricks) and print its JSON")
    parser.add_argument(
        "--ship", action="store_true", help="also copy the result to fmnist_core/nets/tricks_measured.json"
    )
    parser.add_argument("--out", type=Path, default=MEASURED)
    args = parser.parse_args(argv)
    if args.child is not None:
        tricks = tuple(t for t in args.child.split(",") if t)
        home = os.environ.get("FMNIST_HOME") or tempfile.mkdtemp(prefix="fmnist-tricks-")
        print(json.dumps(train_row(tricks, home)))
        return 0
    run(args.ship, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
