"""Per-layer outputs for one image, and a mosaic that tiles a layer's channels into one 2-D array.

One multi-output model per loaded model is built once and reused (a weak cache keyed by the model), so
scrubbing through images costs a single forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.nets.inference import NUM_CLASSES, as_model_input, per_model


def activation_function(model: Any) -> Any:
    """keras.Model(input, [every layer's output]) compiled as a tf.function, built once per model."""

    def build() -> Any:
        import keras
        import tensorflow as tf

        multi = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
        return tf.function(lambda x: multi(x, training=False), reduce_retracing=True, autograph=False)

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


# --- what excites a channel: every test image's per-channel maximum ---------------------------------
@dataclass(frozen=True)
class ChannelMaxima:
    """For one layer: each image's maximum over positions of each channel, and where it occurs.

    maxima, rows and cols are (N, C); a channel's exemplars are the images with its highest maxima.
    """

    layer: str
    maxima: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    map_shape: tuple[int, int, int]

    @property
    def channels(self) -> int:
        return self.map_shape[2]


@dataclass(frozen=True)
class Exemplar:
    """One image that excites a channel: its index, the channel's maximum and that maximum's cell."""

    index: int
    value: float
    row: int
    col: int


def check_spatial_layer(model: Any, layer: str) -> tuple[int, int, int]:
    """The (H, W, C) output shape of a layer with feature maps, or a ValueError in one sentence naming the choices."""
    spatial = spatial_layers(model)
    if layer not in spatial:
        raise ValueError(f"layer {layer!r} has no feature maps; choose one of {', '.join(spatial)}")
    return tuple(int(d) for d in model.get_layer(layer).output.shape[1:])


def spatial_layers(model: Any) -> list[str]:
    """The layers with feature maps (conv and pool outputs), in order."""
    return [lyr.name for lyr in model.layers if len(lyr.output.shape) == 4]


def _maxima_function(model: Any, layers: tuple[str, ...]) -> Any:
    """A sub-model up to the deepest of `layers` that reduces each layer's maps to their maximum and argmax.

    Reducing inside the graph keeps the transfer at (batch, C) instead of (batch, H, W, C): for conv2d on the
    whole test set that is 2.5 MB instead of 1.7 GB. One pass serves every layer asked for, so a page that will
    want each layer in turn pays one forward pass over the test set, not one per layer.
    """

    def build() -> Any:
        import keras
        import tensorflow as tf

        sub = keras.Model(model.inputs[0], [model.get_layer(name).output for name in layers])

        def reduce(x: Any) -> tuple[Any, ...]:
            outputs = sub(x, training=False)
            outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
            reduced = []
            for maps in outputs:
                flat = tf.reshape(maps, (tf.shape(maps)[0], -1, tf.shape(maps)[3]))
                reduced += [tf.reduce_max(flat, axis=1), tf.argmax(flat, axis=1, output_type=tf.int32)]
            return tuple(reduced)

        return tf.function(reduce, reduce_retracing=True, autograph=False)

    return per_model(model, f"maxima:{','.join(layers)}", build)


def channel_maxima_of_layers(
    model: Any, images: np.ndarray, layers: list[str], batch_size: int = 1000
) -> dict[str, ChannelMaxima]:
    """Every image's per-channel maximum and its (row, col) for each of `layers`, in one batched pass."""
    names = tuple(layers)
    shapes = {name: check_spatial_layer(model, name) for name in names}
    x = as_model_input(images)
    reduce = _maxima_function(model, names)
    parts: dict[str, tuple[list, list]] = {name: ([], []) for name in names}
    for start in range(0, len(x), batch_size):
        out = reduce(x[start : start + batch_size])
        for k, name in enumerate(names):
            parts[name][0].append(np.asarray(out[2 * k], dtype=np.float32))
            parts[name][1].append(np.asarray(out[2 * k + 1]))
    found = {}
    for name in names:
        shape, (maxima, where) = shapes[name], parts[name]
        flat = np.concatenate(where) if where else np.zeros((0, shape[2]), np.int32)
        values = np.concatenate(maxima) if maxima else np.zeros((0, shape[2]), np.float32)
        rows, cols = np.divmod(flat, shape[1])
        found[name] = ChannelMaxima(name, values, rows.astype(np.int16), cols.astype(np.int16), shape)
    return found


def channel_maxima(model: Any, images: np.ndarray, layer: str, batch_size: int = 1000) -> ChannelMaxima:
    """Every image's per-channel maximum of `layer` and its (row, col), computed in batches."""
    return channel_maxima_of_layers(model, images, [layer], batch_size)[layer]


def top_exemplars(
    maxima: ChannelMaxima,
    channel: int,
    k: int = 9,
    labels: np.ndarray | None = None,
    class_index: int | None = None,
) -> list[Exemplar]:
    """The k images whose maximum of `channel` is highest (highest first; ties by lower index), optionally of one class."""
    if not 0 <= channel < maxima.channels:
        raise ValueError(f"channel {channel} does not exist in {maxima.layer} (0..{maxima.channels - 1})")
    if k < 1:
        raise ValueError(f"the number of images must be 1 or more, not {k}")
    candidates = np.arange(len(maxima.maxima))
    if class_index is not None:
        if labels is None:
            raise ValueError("a class filter needs the images' labels")
        if not 0 <= class_index < NUM_CLASSES:
            raise ValueError(f"class {class_index} is outside 0..{NUM_CLASSES - 1}")
        candidates = candidates[np.asarray(labels)[candidates] == class_index]
    values = maxima.maxima[candidates, channel]
    order = candidates[np.lexsort((candidates, -values))][:k]
    return [
        Exemplar(int(i), float(maxima.maxima[i, channel]), int(maxima.rows[i, channel]), int(maxima.cols[i, channel]))
        for i in order
    ]


def layer_maps(model: Any, images: np.ndarray, layer: str) -> np.ndarray:
    """One layer's (N, H, W, C) maps for a few images (the exemplars), from the same per-model sub-model cache."""
    check_spatial_layer(model, layer)

    def build() -> Any:
        import keras
        import tensorflow as tf

        sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
        return tf.function(lambda x: sub(x, training=False), reduce_retracing=True, autograph=False)

    return np.asarray(per_model(model, f"maps:{layer}", build)(as_model_input(images)), dtype=np.float32)
