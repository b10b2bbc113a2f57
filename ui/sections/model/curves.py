"""The Model page's comparison of runs: which runs can be compared, the table's rows, and when a chart misleads."""

from __future__ import annotations

from typing import Any

from fmnist_core.nets import architecture
from fmnist_core.nets.presets import PRESETS
from fmnist_core.runs.metadata import RunInfo


def comparable_runs(all_runs: list[RunInfo]) -> list[RunInfo]:
    """Runs with epochs to draw: saved ones (newest first) before the shipped ones, so the default comparison is
    the user's latest two."""
    return sorted((r for r in all_runs if r.usable and r.metadata.history), key=lambda r: r.shipped)


def loss_warning(picked: list[RunInfo]) -> str | None:
    """A sentence when the test-loss chart compares presets whose losses differ by design (label smoothing)."""
    smoothed = sorted({r.preset for r in picked if r.preset in PRESETS and PRESETS[r.preset].label_smoothing})
    if smoothed and len({r.preset for r in picked}) > 1:
        return (
            f"Test loss is not comparable across these presets: {', '.join(smoothed)} trains with label smoothing, "
            "which raises its loss floor. Compare accuracy instead."
        )
    return None


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def comparison_rows(picked: list[RunInfo], labels: dict[str, str]) -> list[dict[str, Any]]:
    """One row per run: its result, its cost and the settings it was trained with (blank for an import)."""
    rows = []
    for r in picked:
        meta, settings = r.metadata, r.metadata.settings
        spec = meta.spec()
        rows.append(
            {
                "run": labels[r.id],
                "test accuracy": None if r.test_accuracy is None else f"{r.test_accuracy:.2%}",
                "images/s": None if meta.samples_per_second is None else int(round(meta.samples_per_second)),
                "seconds": _rounded(meta.seconds, 1),
                "epochs": len(meta.history),
                "training images": meta.train_images,
                "batch size": settings.batch_size if settings else None,
                "learning rate": settings.learning_rate if settings else None,
                "seed": settings.seed if settings else None,
                "status": r.status,
                "preset": r.preset,
                "network": architecture.summary_line(spec) if spec else "imported",
                "id": r.id,
            }
        )
    return rows
