"""Command line for making models: train (a preset, or your own network from a spec), arch (check a spec, show its
layers and cost) and models (list, delete or import saved runs). Registered by fmnist_core.cli.commands."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fmnist_core import people
from fmnist_core.cli.common import CliError, _emit, _positive
from fmnist_core.data import fashion_mnist
from fmnist_core.nets import architecture
from fmnist_core.nets.presets import DEFAULT_PRESET, PRESET_ALIASES, PRESETS, TrainConfig, preset_name
from fmnist_core.runs import importer, store
from fmnist_core.training.live_state import Snapshot


def add_train_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """train: its options (a preset or --arch, the fit's numbers, where and for whom the run is saved)."""
    train = sub.add_parser("train", parents=[common], help="train a model and save it as a run")
    train.add_argument(
        "--preset",
        default=None,
        choices=sorted([*PRESETS, *PRESET_ALIASES]),
        help=f"training recipe (default {DEFAULT_PRESET}; 'custom' with --arch; 'seed' is the old name of 'notebook')",
    )
    train.add_argument("--arch", metavar="SPEC.json", default=None, help="train your own network (architecture spec)")
    train.add_argument("--epochs", type=_positive, default=None)
    train.add_argument("--batch-size", type=_positive, default=None)
    train.add_argument("--learning-rate", type=float, default=None)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--limit", type=_positive, default=None, help="use only this many training images")
    train.add_argument("--run-id", default=None, help="save under this id (default: generated)")
    train.add_argument("--output-dir", default=None, help="save into this folder (default: FMNIST_HOME or ./models)")
    train.add_argument("--owner", default=None, help="the identity the run belongs to (default: local)")


def add_run_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """models and arch: the saved runs (list, delete, import a .keras file) and checking a network spec."""
    models = sub.add_parser("models", parents=[common], help="list saved runs")
    models.add_argument("--delete", metavar="RUN_ID", default=None, help="delete a saved run")
    models.add_argument(
        "--import",
        dest="import_file",
        metavar="FILE.keras",
        default=None,
        help="check, evaluate on the test set and store a .keras model (at most 50 MB; no custom code)",
    )
    models.add_argument("--name", default=None, help="run id for the imported model (default: generated)")
    models.add_argument("--owner", default=None, help="the identity the imported run belongs to (default: local)")
    arch = sub.add_parser("arch", parents=[common], help="check a network spec (JSON) and show its layers and cost")
    arch.add_argument("spec", metavar="SPEC.json", help='the spec file, e.g. {"conv": [{"filters": 32, "kernel": 3}]}')


def cmd_models(args: argparse.Namespace) -> None:
    if args.import_file:
        # The command line is the machine's administrator: it may act for anyone, with no per-person limits.
        actor = people.administrator(args.owner)
        result = importer.import_model(args.import_file, name=args.name, data_dir=args.data_dir, actor=actor)
        info = result.info
        payload = {
            "id": result.run_id,
            "status": info.status,
            "test_accuracy": info.test_accuracy,
            "test_loss": info.test_loss,
            "params": info.metadata.params,
            "owner": info.metadata.owner,
            "input_scaling": info.metadata.input_scaling,
            "notes": list(result.notes),
        }
        text = "\n".join(
            [
                f"imported {result.run_id}: test accuracy {info.test_accuracy:.4f}, loss {info.test_loss:.4f}, "
                f"{info.metadata.params:,} parameters",
                f"inputs: {info.metadata.input_scaling}",
                *result.notes,
            ]
        )
        _emit(args, payload, text)
        return
    if args.name:
        raise CliError("--name goes with --import")
    if args.owner:
        raise CliError("--owner goes with --import (or with train)")
    if args.delete:
        store.delete_run(args.delete, actor=people.ADMIN)
        _emit(args, {"deleted": args.delete}, f"deleted {args.delete}")
        return
    runs = store.list_runs()
    payload = [
        {
            "id": r.id,
            "test_accuracy": r.test_accuracy,
            "created": r.created,
            "preset": r.preset,
            "status": r.status,
            "shipped": r.shipped,
            "owner": r.metadata.owner,
            "error": r.error,
        }
        for r in runs
    ]
    lines = [f"{'id':<34} {'accuracy':>8}  {'status':<9} {'preset':<8} {'owner':<20} created"]
    for r in runs:
        acc = f"{r.test_accuracy:.4f}" if r.test_accuracy is not None else "-"
        extra = f"  ({r.error})" if r.error else (" (shipped)" if r.shipped else "")
        owner = r.metadata.owner or "-"
        lines.append(f"{r.id:<34} {acc:>8}  {r.status:<9} {r.preset or '-':<8} {owner:<20} {r.created or '-'}{extra}")
    _emit(args, payload, "\n".join(lines))


def cmd_train(args: argparse.Namespace, argv: Sequence[str] | None = None) -> None:
    from fmnist_core.training.jobs import TrainingJob

    arch = architecture.to_dict(read_spec(args.arch)) if args.arch else None
    asked = args.preset or ("custom" if arch is not None else DEFAULT_PRESET)
    preset = preset_name(asked)  # an old name trains, and is reported, as the preset it now is
    fashion_mnist.find_data_dir(args.data_dir)  # fail fast, before a worker starts
    config = TrainConfig(
        preset=preset,
        arch=arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        limit=args.limit,
    )
    command = "python -m fmnist_core " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    home = Path(args.output_dir) if args.output_dir else None
    actor = people.administrator(args.owner)  # the machine's administrator, training for --owner
    job = TrainingJob(config, home=home, data_dir=args.data_dir, run_id=args.run_id, command=command, actor=actor)
    if asked != preset:  # after the settings are checked, so a bad setting is still the only line
        print(f"note: --preset {asked} is now called {preset}", file=sys.stderr)
    job.start()
    reported = 0
    try:
        while not job.wait(0.5):
            reported = _report_epochs(args, job.snapshot(), reported)
    except KeyboardInterrupt:
        print("stopping after the current batch...", file=sys.stderr)
        job.stop()
        job.wait()
    snap = job.snapshot()
    _report_epochs(args, snap, reported)
    if snap.state == "failed":
        raise CliError(f"training failed: {snap.error}")
    if snap.save_error:
        raise CliError(snap.save_error)
    payload = {
        "run_id": snap.run_id,
        "status": "stopped" if snap.state == "stopped" else "finished",
        "preset": preset,
        "arch": job.config.arch or _preset_spec(preset),
        "epochs": len(snap.history),
        "seconds": snap.fit_seconds,
        "samples_per_second": snap.samples_per_second,
        "seconds_to_target": snap.seconds_to_target,
        "test_loss": snap.test_loss,
        "test_accuracy": snap.test_accuracy,
        "precision": snap.precision,
        "executor": snap.executor,
        "node": snap.node,
        "owner": job.owner,
        "history": [row.to_dict() for row in snap.history],
    }
    text = (
        f"saved run {snap.run_id}: test accuracy {snap.test_accuracy:.4f}, "
        f"{snap.samples_per_second:.0f} images/s, {snap.fit_seconds:.1f} s"
    )
    _emit(args, payload, text)


def _preset_spec(preset: str) -> dict[str, Any] | None:
    """The spec of a preset's built-in network (None if it has none); an old name is the preset it now is."""
    found = PRESETS.get(preset_name(preset))
    if found is None:
        raise CliError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    spec = architecture.PRESET_SPECS.get(found.architecture)
    return architecture.to_dict(spec) if spec is not None else None


def _report_epochs(args: argparse.Namespace, snap: Snapshot, reported: int) -> int:
    for row in snap.history[reported:]:
        test = f", test accuracy {row.test_accuracy:.4f}" if row.test_accuracy is not None else ""
        print(
            f"epoch {row.epoch}/{snap.epochs}: loss {row.loss:.4f}, accuracy {row.accuracy:.4f}{test}"
            f" ({row.seconds:.1f} s)",
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )
    return len(snap.history)


def read_spec(path: str) -> architecture.ArchSpec:
    """A spec file, validated; CliError or SpecError with one sentence when it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the spec {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return architecture.parse_spec(text)


def cmd_arch(args: argparse.Namespace) -> None:
    described = architecture.describe(read_spec(args.spec))
    lines = [f"{'layer':<22} {'type':<20} {'output shape':<16} {'params':>10} {'MFLOP':>8}"]
    for row in described.layers:
        shape = "x".join(str(d) for d in row.output_shape)
        lines.append(f"{row.name:<22} {row.type:<20} {shape:<16} {row.params:>10,} {(row.flops or 0) / 1e6:>8.3f}")
    lines.append(
        f"{described.params:,} parameters; {described.mflop_forward:.2f} MFLOP per image forward, "
        f"{described.mflop_train:.2f} per training image (forward + gradients)"
    )
    _emit(args, described.to_json(), "\n".join(lines))


COMMANDS = {"arch": cmd_arch, "train": cmd_train, "models": cmd_models}
