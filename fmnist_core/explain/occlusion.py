"""Occlusion: cover a square of the image with the background and see how much p(class) drops, at every position
of the patch. Model-agnostic (no gradients), so it also tests what the gradient methods claim."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.nets.inference import as_model_input, compiled_forward

PATCH_RANGE = (2, 14)
DEFAULT_PATCH = 6
DEFAULT_STRIDE = 2
FILL = 0.0  # the background of Fashion-MNIST: black
BATCH = 1024  # positions per model call: stride 1 with a 2-px patch is 729 of them, one call


@dataclass(frozen=True)
class Occlusion:
    """Per position: p(class | image) - p(class | image with the patch filled); and that grid spread over pixels."""

    grid: np.ndarray  # (rows, cols), row-major from the top-left position
    tops: np.ndarray  # each grid row's top pixel
    lefts: np.ndarray  # each grid column's left pixel
    map: np.ndarray  # (28, 28): at each pixel, the mean over the patch positions that cover it
    class_index: int
    patch: int
    stride: int
    p_image: float


def positions(size: int, patch: int, stride: int) -> np.ndarray:
    """Top (or left) pixels of the patch: every `stride` px, plus the last fit so the far edge is covered too."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.array(starts, dtype=np.int64)


def check_patch(patch: int, stride: int) -> None:
    """ValueError in one sentence for a patch or stride outside the ranges the page offers."""
    low, high = PATCH_RANGE
    if not low <= patch <= high:
        raise ValueError(f"the patch must be {low} to {high} px, not {patch}")
    if not 1 <= stride <= patch:
        raise ValueError(f"the stride must be 1 to the patch size ({patch}) px, not {stride}")


def occlusion(
    model: Any,
    image: np.ndarray,
    class_index: int,
    patch: int = DEFAULT_PATCH,
    stride: int = DEFAULT_STRIDE,
    fill: float = FILL,
) -> Occlusion:
    """Slide a `patch` x `patch` square of `fill` over the image in steps of `stride`; all positions in one batch."""
    check_patch(patch, stride)
    x = as_model_input(image)[0, :, :, 0]
    tops, lefts = positions(28, patch, stride), positions(28, patch, stride)
    covered = np.repeat(x[None], len(tops) * len(lefts), axis=0)
    for k, (top, left) in enumerate((t, lf) for t in tops for lf in lefts):
        covered[k, top : top + patch, left : left + patch] = fill
    forward = compiled_forward(model)
    batch = np.concatenate([x[None], covered])[..., None].astype(np.float32)
    probs = np.concatenate([np.asarray(forward(batch[i : i + BATCH])) for i in range(0, len(batch), BATCH)])
    p = probs[:, int(class_index)].astype(np.float64)
    grid = (p[0] - p[1:]).reshape(len(tops), len(lefts))
    total = np.zeros((28, 28))
    count = np.zeros((28, 28))
    for r, top in enumerate(tops):
        for c, left in enumerate(lefts):
            total[top : top + patch, left : left + patch] += grid[r, c]
            count[top : top + patch, left : left + patch] += 1
    return Occlusion(
        grid=grid,
        tops=tops,
        lefts=lefts,
        map=total / count,
        class_index=int(class_index),
        patch=patch,
        stride=stride,
        p_image=float(p[0]),
    )
