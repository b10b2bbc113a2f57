"""What the network trains on: one training image as a preset's own training pipeline feeds it, 8 times.

The views come from fmnist_core.training.pipeline.training_pipeline itself (looked up at call time), seeded, so a change to
the pipeline or its augmentation changes this preview too; nothing here re-implements an augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist_core.nets.presets import PRESETS, Preset

VIEWS = 8
SHIFT_PX = 2  # the pipeline's "shift": pad 2 px of background, take a 28x28 window (checked by the tests)

# What each augmentation does, for people (the pipeline's code is the definition).
AUGMENTATION_TEXT = {
    "flip": "flip: mirrored left-right, with probability 1/2",
    "shift": f"shift: moved up to {SHIFT_PX} px in each direction (background fills the edge), a new offset each time",
}
NONE_TEXT = "none: the network sees each training image exactly as it is (only scaled to 0..1)"


@dataclass(frozen=True)
class TrainingViews:
    """A training image, the versions the preset's pipeline made of it, and what was done to each."""

    preset: str
    image: np.ndarray  # (28, 28) float in 0..1, as the pipeline scales it
    views: np.ndarray  # (VIEWS, 28, 28)
    changes: tuple[str, ...]  # one per view, e.g. "flipped, 1 px right, 2 px up", "as it is"
    augment: tuple[str, ...]

    @property
    def explanation(self) -> list[str]:
        return [AUGMENTATION_TEXT.get(a, a) for a in self.augment] or [NONE_TEXT]


def training_views(preset: Preset | str, image: np.ndarray, label: int, seed: int, count: int = VIEWS) -> TrainingViews:
    """`count` versions of one uint8 (28, 28) training image, made by the preset's training pipeline with `seed`.

    The pipeline gets `count` copies of the image and one batch of `count` is taken: each copy draws its own
    augmentation, exactly as images of a training batch do. Presets without augmentation give the image unchanged.
    """
    from fmnist_core.training import pipeline

    preset = PRESETS[preset] if isinstance(preset, str) else preset
    dtype = np.float64 if preset.input_dtype == "float64" else np.float32
    copies = np.repeat(np.asarray(image, dtype=np.uint8)[None], count, axis=0)
    labels = np.full(count, int(label), dtype=np.int64)
    pipeline = pipeline.training_pipeline(preset, copies, labels, dtype, count, seed)
    batch, _ = next(iter(pipeline))
    views = np.asarray(batch, dtype=np.float32).reshape(count, 28, 28)
    original = copies[0].astype(np.float32) / 255.0
    return TrainingViews(
        preset=preset.name,
        image=original,
        views=views,
        changes=tuple(describe_change(original, view) for view in views),
        augment=tuple(preset.augment),
    )


def describe_change(original: np.ndarray, view: np.ndarray) -> str:
    """Name the flip and shift that turn `original` into `view` ("as it is" when none; "changed" if none fits).

    A reading aid only: it searches flips and shifts for an exact match, it does not make the views.
    """
    padded_original = np.pad(original, SHIFT_PX)
    for flipped in (False, True):
        padded = padded_original[:, ::-1] if flipped else padded_original
        for dy in range(-SHIFT_PX, SHIFT_PX + 1):
            for dx in range(-SHIFT_PX, SHIFT_PX + 1):
                window = padded[SHIFT_PX - dy : SHIFT_PX - dy + 28, SHIFT_PX - dx : SHIFT_PX - dx + 28]
                if np.allclose(window, view, atol=1e-6):
                    return _words(flipped, dy, dx)
    return "changed"


def _words(flipped: bool, dy: int, dx: int) -> str:
    parts = ["flipped"] if flipped else []
    if dx:
        parts.append(f"{abs(dx)} px {'right' if dx > 0 else 'left'}")
    if dy:
        parts.append(f"{abs(dy)} px {'down' if dy > 0 else 'up'}")
    return ", ".join(parts) or "as it is"
