"""The typed rows inside a run: an epoch of its history, reading a layer row and the settings from JSON.

A run's JSON is read by every version to come, so each row keeps the keys it does not know (`extra`) and writes
them back; `unknown_keys` lets the Model page name them. Plain data, no TensorFlow.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields
from typing import Any

from fmnist_core.nets.architecture import LayerRow
from fmnist_core.nets.presets import TrainConfig


def number(value: Any) -> float | None:
    """A JSON number as a float (None for anything else, booleans included)."""
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None


def whole(value: Any) -> int | None:
    """A JSON whole number as an int (None for anything else, booleans included)."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None


def text(value: Any) -> str | None:
    """A JSON string (None for anything else)."""
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def split_known(raw: dict[str, Any], readers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(known fields converted by their reader, everything else as stored): a known key whose value has the wrong
    type is kept as stored, not lost or trusted; a reader returns None for a value it cannot take."""
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        reader = readers.get(key)
        converted = reader(value) if reader else None
        if converted is None:
            if value is not None or reader is None:
                extra[key] = value
        else:
            known[key] = converted
    return known, extra


@dataclass(frozen=True)
class EpochRow:
    """One epoch of a training: train loss and accuracy, the test figures when evaluated, its time."""

    epoch: int
    loss: float | None = None
    accuracy: float | None = None
    test_loss: float | None = None  # None when the epoch was not evaluated
    test_accuracy: float | None = None
    seconds: float = 0.0  # the whole epoch, test evaluation included
    train_seconds: float | None = None  # its batches alone (the rest of `seconds` is the evaluation)
    elapsed: float = 0.0  # since the fit began
    batches: int | None = None
    complete: bool = True  # False for an epoch cut short by Stop
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], position: int = 0) -> EpochRow:
        """Read a stored row; a row without a readable epoch number takes its place in the list (1-based)."""
        known, extra = split_known(raw, _EPOCH_READERS)
        known.setdefault("epoch", position + 1)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: every field (None included, as always written), then the kept unknown keys."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**out, **self.extra}


def why_train_below_test(row: EpochRow) -> str | None:
    """One sentence for a learner when an epoch's train accuracy (in whole percent) is below its test accuracy,
    else None. Keras' train accuracy is a running average over the epoch's batches, taken while the weights still
    change and with dropout and augmentation on; the test accuracy is measured once, on the epoch's final weights."""
    if row.accuracy is None or row.test_accuracy is None or round(row.accuracy * 100) >= round(row.test_accuracy * 100):
        return None
    return (
        f"Train accuracy ({row.accuracy:.0%}) is below test accuracy ({row.test_accuracy:.0%}) because it is an "
        "average over the whole epoch, counted while the network was still learning (and while dropout or changed "
        "images such as flips made training harder); test accuracy is measured once, at the end of the epoch."
    )


_EPOCH_READERS: dict[str, Any] = {
    "epoch": whole,
    "loss": number,
    "accuracy": number,
    "test_loss": number,
    "test_accuracy": number,
    "seconds": number,
    "train_seconds": number,
    "elapsed": number,
    "batches": whole,
    "complete": _flag,
}


def layer_row(raw: dict[str, Any]) -> LayerRow:
    """A stored layer row, its unknown keys kept (the output shape comes back from JSON as a list)."""
    readers = {
        "name": text,
        "type": text,
        "output_shape": lambda v: tuple(v) if isinstance(v, list | tuple) else None,
        "params": whole,
        "flops": whole,
    }
    known, extra = split_known(raw, readers)
    return LayerRow(
        name=known.get("name", "?"),
        type=known.get("type", "?"),
        output_shape=known.get("output_shape", ()),
        params=known.get("params", 0),
        flops=known.get("flops"),
        extra=extra,
    )


def layer_dict(row: LayerRow) -> dict[str, Any]:
    """A layer row as JSON: its fields, then the unknown keys it was read with."""
    out = {f.name: getattr(row, f.name) for f in fields(row) if f.name != "extra"}
    return {**out, "output_shape": list(row.output_shape), **row.extra}


_SETTINGS_READERS: dict[str, Any] = {
    "preset": text,
    "epochs": whole,
    "batch_size": whole,
    "learning_rate": number,
    "seed": whole,
    "limit": whole,
    "evaluate_each_epoch": _flag,
    "arch": lambda v: v if isinstance(v, dict) else None,
}


def settings(raw: dict[str, Any]) -> tuple[TrainConfig | None, dict[str, Any]]:
    """Stored settings as the TrainConfig they were, and their unknown keys; (None, {}) for none (an import)."""
    if not raw:
        return None, {}
    known, extra = split_known(raw, _SETTINGS_READERS)
    return TrainConfig(**known), extra
