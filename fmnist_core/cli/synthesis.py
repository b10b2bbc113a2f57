"""Command line for synthesised inputs: visualize (the input that maximises a channel's mean activation or a class's
pre-softmax score). Registered by fmnist_core.cli.commands."""

from __future__ import annotations

import argparse
from typing import Any

from fmnist_core.cli.common import CliError, _emit, _load, _whole
from fmnist_core.data import fashion_mnist


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """visualize --layer L --channel C | --class C [--seed S]."""
    vis = sub.add_parser(
        "visualize", parents=[common], help="the input that maximises a channel's mean activation or a class's score"
    )
    vis.add_argument("--layer", default=None, help="a conv or pool layer, e.g. conv2d_1 (with --channel)")
    vis.add_argument("--channel", type=_whole, default=None)
    vis.add_argument("--class", dest="class_index", type=_whole, default=None, help="an output class (0..9)")
    vis.add_argument("--seed", type=_whole, default=0, help="the start's noise (default 0)")


def cmd_visualize(args: argparse.Namespace) -> None:
    from fmnist_core.analysis.synthesis import Target, synthesise

    if (args.class_index is None) == (args.layer is None and args.channel is None):
        raise CliError("give either --layer and --channel, or --class")
    if args.class_index is None and (args.layer is None or args.channel is None):
        raise CliError("--layer and --channel go together")
    target = Target(None, args.class_index) if args.class_index is not None else Target(args.layer, args.channel)
    test = fashion_mnist.load_test_set(args.data_dir)
    try:
        found = synthesise(_load(args), target, seed=args.seed, test_images=test.images)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    text = (
        f"{target.describe()}, seed {args.seed}: objective {found.objective:.4f}; the best test image "
        f"#{found.best_test_index} scores {found.best_test_objective:.4f} ({found.seconds:.2f} s)"
    )
    _emit(args, found.to_json(), text)


COMMANDS = {"visualize": cmd_visualize}
