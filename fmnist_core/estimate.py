"""How long a training will take here, from what earlier trainings of the same preset measured on this machine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """Expected wall seconds of a training, and the run whose measured speed it scales."""

    seconds: float
    source_run: str
    seconds_per_image_epoch: float


def estimate_training_seconds(preset: str, epochs: int, images: int, runs: Iterable[Any]) -> Estimate | None:
    """Scale the newest run of `preset` that recorded per-epoch times (test evaluation included) to this size.

    Saved runs come first (newest first, trained on this machine), shipped models last; None when no run of
    the preset has per-epoch times.
    """
    ordered = sorted(runs, key=lambda r: bool(getattr(r, "shipped", False)))
    for run in ordered:
        if run.metadata.preset != preset:
            continue
        history = run.metadata.history or []
        trained = run.metadata.train_images
        complete = [row for row in history if row.get("complete", True) and row.get("seconds")]
        if not complete or not trained:
            continue
        per_image_epoch = sum(row["seconds"] for row in complete) / (len(complete) * trained)
        return Estimate(per_image_epoch * epochs * images, run.id, per_image_epoch)
    return None
