"""What the command line's modules share: the expected failure (CliError), argument types and the output.

Here rather than in fmnist_core.cli.commands so that cli can import the modules that add commands (cli_train, cli_explain,
cli_visualize) and they can import this without importing cli back.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from fmnist_core.data import fashion_mnist
from fmnist_core.runs import store


class CliError(Exception):
    """An expected failure: shown as one line, exit code 1."""


def _index(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--index must be a whole number, not {value!r}") from None
    if not 0 <= number < fashion_mnist.EXPECTED_COUNT["test"]:
        raise argparse.ArgumentTypeError(f"--index must be from 0 to 9999, not {number}")
    return number


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def _whole(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None


def _emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    print(json.dumps(payload, indent=2) if args.json else text)


def _load(args: argparse.Namespace) -> Any:
    return store.load_model(args.model)
