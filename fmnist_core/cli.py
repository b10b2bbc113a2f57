"""Command line: python -m fmnist_core {train,evaluate,predict,activations,exemplars,explain-cell,attribute,sanity,flip,
suspects,visualize,models,arch} [--json].

Errors print one line on stderr and exit non-zero; tracebacks are for bugs, not for bad input.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from fmnist_core import architecture, cli_explain, cli_visualize, data, people, store
from fmnist_core.cli_common import CliError, _emit, _index, _load, _positive, _whole
from fmnist_core.presets import PRESET_ALIASES
from fmnist_core.training import DEFAULT_PRESET, PRESETS, ConfigError, Snapshot, TrainConfig

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's arguments; common options are accepted before or after the subcommand."""

    def common(suppress: bool) -> argparse.ArgumentParser:
        # Subcommands repeat the options with SUPPRESS defaults, so a value given before the subcommand survives.
        def default(value: Any) -> Any:
            return argparse.SUPPRESS if suppress else value

        options = argparse.ArgumentParser(add_help=False)
        options.add_argument("--model", default=default(store.DEFAULT_RUN_ID), help="run id (default: shipped model)")
        options.add_argument("--data-dir", default=default(None), help="folder with the four IDX .gz files")
        options.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
        return options

    parser = _Parser(
        prog="python -m fmnist_core",
        description="Fashion-MNIST CNN: train, evaluate, inspect.",
        parents=[common(suppress=False)],
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", parents=[common(suppress=True)], help="train a model and save it as a run")
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

    sub.add_parser("evaluate", parents=[common(suppress=True)], help="test loss and accuracy of a model")
    predict = sub.add_parser("predict", parents=[common(suppress=True)], help="predict one test image")
    predict.add_argument("--index", type=_index, required=True)
    act = sub.add_parser("activations", parents=[common(suppress=True)], help="layer outputs for one test image")
    act.add_argument("--index", type=_index, required=True)
    _add_lab_commands(sub, common(suppress=True))
    bench = sub.add_parser("bench", help="the benchmark: same as `python -m bench` from the repository's root")
    bench.add_argument("--quick", action="store_true", help="one epoch per preset")
    bench.add_argument("--preset", action="append", dest="presets", help="preset to include (repeatable)")
    bench.add_argument("--out", default=None, help="JSON path (default bench/measured/bench-{quick,full}.json)")
    models = sub.add_parser("models", parents=[common(suppress=True)], help="list saved runs")
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
    arch = sub.add_parser(
        "arch", parents=[common(suppress=True)], help="check a network spec (JSON) and show its layers and cost"
    )
    arch.add_argument("spec", metavar="SPEC.json", help='the spec file, e.g. {"conv": [{"filters": 32, "kernel": 3}]}')
    return parser


def _add_lab_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """exemplars and explain-cell: what excites a channel, and how one cell of a feature map is computed."""
    ex = sub.add_parser("exemplars", parents=[common], help="test images that excite one channel most")
    ex.add_argument("--layer", required=True, help="a conv or pool layer, e.g. conv2d_1")
    ex.add_argument("--channel", type=_whole, required=True)
    ex.add_argument("--top", type=_positive, default=9, help="how many images (default 9)")
    ex.add_argument("--class", dest="class_index", type=_whole, default=None, help="only images of this class (0..9)")
    cell = sub.add_parser("explain-cell", parents=[common], help="how one cell of a feature map is computed")
    cell.add_argument("--index", type=_index, required=True, help="test image")
    cell.add_argument("--layer", required=True, help="a conv or pool layer, e.g. conv2d")
    cell.add_argument("--channel", type=_whole, required=True)
    cell.add_argument("--row", type=_whole, required=True)
    cell.add_argument("--col", type=_whole, required=True)
    cli_explain.add_commands(sub, common)  # attribute, sanity, flip; visualize: modules of their own
    cli_visualize.add_commands(sub, common)
    sus = sub.add_parser("suspects", parents=[common], help="test images whose label looks wrong (cleanlab)")
    sus.add_argument("--top", type=_positive, default=None, help="only the N most suspect (default: all)")


def cmd_predict(args: argparse.Namespace) -> None:
    from fmnist_core.inference import predict_proba

    test = data.load_test_set(args.data_dir)
    model = _load(args)
    probs = predict_proba(model, test.images[args.index])[0]
    pred, actual = int(probs.argmax()), int(test.labels[args.index])
    payload = {
        "index": args.index,
        "model": args.model,
        "predicted": pred,
        "predicted_label": data.CLASS_NAMES[pred],
        "actual": actual,
        "actual_label": data.CLASS_NAMES[actual],
        "correct": pred == actual,
        "probabilities": [float(p) for p in probs],
    }
    lines = [
        f"image {args.index}: predicted {pred} {data.CLASS_NAMES[pred]}, actual {actual} {data.CLASS_NAMES[actual]}"
    ]
    lines += [f"  {i} {name:<12} {p:8.4f}" for i, (name, p) in enumerate(zip(data.CLASS_NAMES, probs, strict=True))]
    _emit(args, payload, "\n".join(lines))


def cmd_activations(args: argparse.Namespace) -> None:
    from fmnist_core.activations import layer_outputs

    test = data.load_test_set(args.data_dir)
    outputs = layer_outputs(_load(args), test.images[args.index])
    layers = [
        {"name": name, "shape": list(arr.shape), "min": float(arr.min()), "max": float(arr.max())}
        for name, arr in outputs.items()
    ]
    text = "\n".join(f"{row['name']:<18} {tuple(row['shape'])}" for row in layers)
    _emit(args, {"index": args.index, "model": args.model, "layers": layers}, text)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from fmnist_core.inference import evaluate

    test = data.load_test_set(args.data_dir)
    result = evaluate(_load(args), test.images, test.labels)
    payload = {"model": args.model, "loss": result.loss, "accuracy": result.accuracy, "n": result.n}
    _emit(
        args,
        payload,
        f"{args.model}: test loss {result.loss:.4f}, accuracy {result.accuracy:.4f} on {result.n} images",
    )


def cmd_models(args: argparse.Namespace) -> None:
    if args.import_file:
        # The command line is the machine's administrator: it may act for anyone, with no per-person limits.
        actor = people.administrator(args.owner)
        result = store.import_model_details(args.import_file, name=args.name, data_dir=args.data_dir, actor=actor)
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
    from fmnist_core.training import TrainingJob

    arch = architecture.to_dict(read_spec(args.arch)) if args.arch else None
    preset = args.preset or ("custom" if arch is not None else DEFAULT_PRESET)
    if preset in PRESET_ALIASES:
        print(f"note: --preset {preset} is now called {PRESET_ALIASES[preset]}", file=sys.stderr)
    data.find_data_dir(args.data_dir)  # fail fast, before a worker starts
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
        "history": snap.history,
    }
    text = (
        f"saved run {snap.run_id}: test accuracy {snap.test_accuracy:.4f}, "
        f"{snap.samples_per_second:.0f} images/s, {snap.fit_seconds:.1f} s"
    )
    _emit(args, payload, text)


def _preset_spec(preset: str) -> dict[str, Any] | None:
    """The spec of a preset's built-in network (None if it has none)."""
    spec = architecture.PRESET_SPECS.get(PRESETS[preset].architecture)
    return architecture.to_dict(spec) if spec is not None else None


def _report_epochs(args: argparse.Namespace, snap: Snapshot, reported: int) -> int:
    for row in snap.history[reported:]:
        test = f", test accuracy {row['test_accuracy']:.4f}" if row["test_accuracy"] is not None else ""
        print(
            f"epoch {row['epoch']}/{snap.epochs}: loss {row['loss']:.4f}, accuracy {row['accuracy']:.4f}{test}"
            f" ({row['seconds']:.1f} s)",
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


def cmd_exemplars(args: argparse.Namespace) -> None:
    from fmnist_core.activations import channel_maxima, top_exemplars

    test = data.load_test_set(args.data_dir)
    model = _load(args)
    try:
        maxima = channel_maxima(model, test.images, args.layer)
        found = top_exemplars(maxima, args.channel, k=args.top, labels=test.labels, class_index=args.class_index)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    images = [{"index": e.index, "value": e.value, "row": e.row, "col": e.col} for e in found]
    lines = [f"{args.layer} channel {args.channel}: the {len(images)} test images that excite it most"]
    lines += [f"  #{e.index:<5} {e.value:9.4f} at row {e.row}, col {e.col}" for e in found]
    _emit(args, {"layer": args.layer, "channel": args.channel, "images": images}, "\n".join(lines))


def cmd_explain_cell(args: argparse.Namespace) -> None:
    from fmnist_core.explain import explain_cell

    test = data.load_test_set(args.data_dir)
    model = _load(args)
    try:
        cell = explain_cell(model, test.images[args.index], args.layer, args.channel, args.row, args.col)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    payload = {
        "layer": cell.layer,
        "channel": cell.channel,
        "row": cell.row,
        "col": cell.col,
        "value": cell.value,
        "pre_activation": cell.pre_activation,
        "bias": cell.bias,
        "receptive_field": list(cell.receptive_field),
        "contributions": [float(c) for c in cell.contributions] if cell.contributions is not None else None,
        "kind": cell.kind,
        "source_layer": cell.source_layer,
        "window": list(cell.window),
        "winner": list(cell.winner) if cell.winner is not None else None,
        "note": cell.note,
    }
    _emit(args, payload, cell.describe())


def cmd_suspects(args: argparse.Namespace) -> None:
    from fmnist_core.inference import predict_proba
    from fmnist_core.labels import find_suspects

    test = data.load_test_set(args.data_dir)
    found = find_suspects(test.labels, predict_proba(_load(args), test.images), top=args.top)
    lines = [f"{len(found)} suspect labels, most suspect first (quality: lower is more suspect)"]
    lines += [
        f"  #{s.index:<5} labelled {data.CLASS_NAMES[s.given]:<12} suggested {data.CLASS_NAMES[s.suggested]:<12} "
        f"{s.quality:.2e}"
        for s in found
    ]
    _emit(args, [s.to_json() for s in found], "\n".join(lines))


def _bench(args: argparse.Namespace) -> int:
    """Hand over to the benchmark package (bench/ beside fmnist_core in a checkout; not part of the domain)."""
    try:
        from bench.__main__ import main as bench_main
    except ImportError:
        raise CliError("the benchmark lives in bench/ of the repository: run `python -m bench` from its root") from None
    argv = (["--quick"] if args.quick else []) + [f"--preset={p}" for p in args.presets or []]
    return bench_main(argv + ([f"--out={args.out}"] if args.out else []))


COMMANDS = {
    "arch": cmd_arch,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "activations": cmd_activations,
    "models": cmd_models,
    "exemplars": cmd_exemplars,
    "explain-cell": cmd_explain_cell,
    "suspects": cmd_suspects,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        if args.command == "bench":
            return _bench(args)
        if args.command == "train":
            cmd_train(args, argv)
        else:
            {**COMMANDS, **cli_explain.COMMANDS, **cli_visualize.COMMANDS}[args.command](args)
    except (data.DataError, store.StoreError, ConfigError, CliError, architecture.SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if not args.json and args.command == "train":
        print(f"({time.monotonic() - started:.1f} s in all)", file=sys.stderr)
    return 0
