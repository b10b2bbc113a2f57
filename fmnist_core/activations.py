"""Per-layer outputs for one image, and a mosaic that tiles a layer's channels into one 2-D array.

One multi-output model per loaded model is built once and reused (a weak cache keyed by the model), so
scrubbing through images costs a single forward pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fmnist_core.inference import as_model_input, per_model


def activation_function(model: Any) -> Any:
    """keras.Model(input, [every layer's output]) compiled as a tf.function, built once per model."""

    def build() -> Any:
        import keras
        import tensorflow as tf

        multi = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
        return tf.function(lambda x: multi(x, training=False), reduce_retracing=True)

    return per_model(model, "activations", build)


def layer_outputs(model: Any, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for one image, batch axis dropped: conv/pool as (H, W, C), dense as (units,)."""
    x = as_model_input(image)[:1]
    outputs = activation_function(model)(x)
    return {layer.name: np.asarray(out)[0].astype(np.float32) for layer, out in zip(model.layers, outputs, strict=True)}


def channel_mosaic(maps: np.ndarray, columns: int | None = None, gutter: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Tile (H, W, C) into one 2-D array with NaN gutters; also return each pixel's channel (-1 in gutters).

    One heatmap of the mosaic draws far faster than C subplots; the channel grid feeds hover text.
    """
    if maps.ndim != 3:
        raise ValueError(f"expected (H, W, C) feature maps, got shape {maps.shape}")
    h, w, c = maps.shape
    columns = columns or math.ceil(math.sqrt(c))
    rows = math.ceil(c / columns)
    mosaic = np.full((rows * (h + gutter) - gutter, columns * (w + gutter) - gutter), np.nan, dtype=np.float32)
    channel = np.full(mosaic.shape, -1, dtype=np.int32)
    for k in range(c):
        r, col = divmod(k, columns)
        top, left = r * (h + gutter), col * (w + gutter)
        mosaic[top : top + h, left : left + w] = maps[:, :, k]
        channel[top : top + h, left : left + w] = k
    return mosaic, channel


def normalise_channels(maps: np.ndarray) -> np.ndarray:
    """Scale each channel of (H, W, C) to 0..1 by its own min and max (a flat channel becomes 0).

    With one shared scale a few strong channels wash the rest out; per channel, every pattern is visible but
    brightness no longer compares across channels.
    """
    low = maps.min(axis=(0, 1), keepdims=True)
    span = maps.max(axis=(0, 1), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0).astype(np.float32)


def mosaic_cell(
    index: int, shape: tuple[int, int, int], columns: int | None = None, gutter: int = 1
) -> tuple[int, int, int, int]:
    """(top, left, height, width) of channel `index` inside channel_mosaic's layout: to mark the chosen channel."""
    h, w, c = shape
    columns = columns or math.ceil(math.sqrt(c))
    r, col = divmod(index, columns)
    return r * (h + gutter), col * (w + gutter), h, w
