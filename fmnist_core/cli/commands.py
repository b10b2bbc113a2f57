"""Command line: python -m fmnist_core {train,evaluate,predict,activations,exemplars,explain-cell,attribute,sanity,flip,
suspects,visualize,models,arch} [--json].

Errors print one line on stderr and exit non-zero; tracebacks are for bugs, not for bad input.

This module builds the parser, dispatches and holds the inspection commands (evaluate, predict, activations,
exemplars, explain-cell, suspects); train, models and arch are in cli_train, attribute, sanity and flip in
cli_explain, visualize in cli_visualize, what they all share in cli_common.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from fmnist_core.cli import explain, synthesis, train
from fmnist_core.cli.common import CliError, _emit, _index, _load, _positive, _whole
from fmnist_core.data import fashion_mnist
from fmnist_core.nets import architecture
from fmnist_core.nets.presets import ConfigError
from fmnist_core.runs import paths, store

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
        options.add_argument("--model", default=default(paths.DEFAULT_RUN_ID), help="run id (default: shipped model)")
        options.add_argument("--data-dir", default=default(None), help="folder with the four IDX .gz files")
        options.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
        return options

    parser = _Parser(
        prog="python -m fmnist_core",
        description="Fashion-MNIST CNN: train, evaluate, inspect.",
        parents=[common(suppress=False)],
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train.add_train_command(sub, common(suppress=True))
    sub.add_parser("evaluate", parents=[common(suppress=True)], help="test loss and accuracy of a model")
    predict = sub.add_parser("predict", parents=[common(suppress=True)], help="predict one test image")
    predict.add_argument("--index", type=_index, required=True)
    act = sub.add_parser("activations", parents=[common(suppress=True)], help="layer outputs for one test image")
    act.add_argument("--index", type=_index, required=True)
    _add_lab_commands(sub, common(suppress=True))
    train.add_run_commands(sub, common(suppress=True))
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
    explain.add_commands(sub, common)  # attribute, sanity, flip; visualize: modules of their own
    synthesis.add_commands(sub, common)
    sus = sub.add_parser("suspects", parents=[common], help="test images whose label looks wrong (cleanlab)")
    sus.add_argument("--top", type=_positive, default=None, help="only the N most suspect (default: all)")


def cmd_predict(args: argparse.Namespace) -> None:
    from fmnist_core.nets.inference import predict_proba

    test = fashion_mnist.load_test_set(args.data_dir)
    model = _load(args)
    probs = predict_proba(model, test.images[args.index])[0]
    pred, actual = int(probs.argmax()), int(test.labels[args.index])
    payload = {
        "index": args.index,
        "model": args.model,
        "predicted": pred,
        "predicted_label": fashion_mnist.CLASS_NAMES[pred],
        "actual": actual,
        "actual_label": fashion_mnist.CLASS_NAMES[actual],
        "correct": pred == actual,
        "probabilities": [float(p) for p in probs],
    }
    lines = [
        f"image {args.index}: predicted {pred} {fashion_mnist.CLASS_NAMES[pred]}, actual {actual} {fashion_mnist.CLASS_NAMES[actual]}"
    ]
    lines += [
        f"  {i} {name:<12} {p:8.4f}" for i, (name, p) in enumerate(zip(fashion_mnist.CLASS_NAMES, probs, strict=True))
    ]
    _emit(args, payload, "\n".join(lines))


def cmd_activations(args: argparse.Namespace) -> None:
    from fmnist_core.analysis.activations import layer_outputs

    test = fashion_mnist.load_test_set(args.data_dir)
    outputs = layer_outputs(_load(args), test.images[args.index])
    layers = [
        {"name": name, "shape": list(arr.shape), "min": float(arr.min()), "max": float(arr.max())}
        for name, arr in outputs.items()
    ]
    text = "\n".join(f"{row['name']:<18} {tuple(row['shape'])}" for row in layers)
    _emit(args, {"index": args.index, "model": args.model, "layers": layers}, text)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from fmnist_core.nets.inference import evaluate

    test = fashion_mnist.load_test_set(args.data_dir)
    result = evaluate(_load(args), test.images, test.labels)
    payload = {"model": args.model, "loss": result.loss, "accuracy": result.accuracy, "n": result.n}
    _emit(
        args,
        payload,
        f"{args.model}: test loss {result.loss:.4f}, accuracy {result.accuracy:.4f} on {result.n} images",
    )


def cmd_exemplars(args: argparse.Namespace) -> None:
    from fmnist_core.analysis.activations import channel_maxima, top_exemplars

    test = fashion_mnist.load_test_set(args.data_dir)
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
    from fmnist_core.explain.cells import explain_cell

    test = fashion_mnist.load_test_set(args.data_dir)
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
    from fmnist_core.analysis.suspect_labels import find_suspects
    from fmnist_core.nets.inference import predict_proba

    test = fashion_mnist.load_test_set(args.data_dir)
    found = find_suspects(test.labels, predict_proba(_load(args), test.images), top=args.top)
    lines = [f"{len(found)} suspect labels, most suspect first (quality: lower is more suspect)"]
    lines += [
        f"  #{s.index:<5} labelled {fashion_mnist.CLASS_NAMES[s.given]:<12} suggested {fashion_mnist.CLASS_NAMES[s.suggested]:<12} "
        f"{s.quality:.2e}"
        for s in found
    ]
    _emit(args, [s.to_json() for s in found], "\n".join(lines))


COMMANDS = {
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "activations": cmd_activations,
    "exemplars": cmd_exemplars,
    "explain-cell": cmd_explain_cell,
    "suspects": cmd_suspects,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        if args.command == "train":
            train.cmd_train(args, argv)
        else:
            {**COMMANDS, **train.COMMANDS, **explain.COMMANDS, **synthesis.COMMANDS}[args.command](args)
    except (fashion_mnist.DataError, store.StoreError, ConfigError, CliError, architecture.SpecError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if not args.json and args.command == "train":
        print(f"({time.monotonic() - started:.1f} s in all)", file=sys.stderr)
    return 0
