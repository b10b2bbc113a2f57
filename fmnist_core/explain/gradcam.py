"""Grad-CAM: where the last conv block's channels that raise a class score are active, mapped onto the 28x28
image at each cell's true centre; plus the conv-layer facts other pages show (first-layer kernels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fmnist_core.explain.common import NO_CONV, conv_layers, forward_to_logits, normalise
from fmnist_core.nets.inference import as_model_input


def last_conv_layer(model: Any) -> str:
    """The last conv block's output, after its batch norm and activation if it has them.

    Grad-CAM weighs rectified feature maps: in the seed CNN that is the Conv2D itself (relu built in); in the
    improved CNN the Conv2D is linear and followed by BatchNormalization and a relu, and weighing the raw
    conv output gives blank maps (all-negative sums clipped to zero) for most images.
    """
    layers = list(model.layers)
    convs = [i for i, layer in enumerate(layers) if type(layer).__name__ == "Conv2D"]
    if not convs:
        raise ValueError(NO_CONV)
    end = convs[-1]
    while end + 1 < len(layers) and type(layers[end + 1]).__name__ in ("BatchNormalization", "Activation", "ReLU"):
        end += 1
    return layers[end].name


def _cell_centres(model: Any, layer: str, size: int) -> np.ndarray:
    """Input-pixel coordinate of each output cell's centre along one axis, walking convs and pools up to `layer`.

    Unpadded 3x3 convs and 2x2 pools shift and stretch the grid; resizing an 11x11 map over 28x28 would
    misplace the heat by up to 4 pixels.
    """
    offset, scale = cell_grid(model, layer)
    return offset + scale * np.arange(size)


def cell_grid(model: Any, layer: str) -> tuple[float, float]:
    """(centre of cell 0, spacing between cells) in input pixels along one axis: where a map lies over the image."""
    offset, scale = 0.0, 1.0
    for lyr in model.layers:
        kind = type(lyr).__name__
        if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            k = (lyr.kernel_size if kind == "Conv2D" else lyr.pool_size)[0]
            stride = lyr.strides[0]
            if lyr.padding == "valid":
                offset += scale * (k - 1) / 2
            scale *= stride
        if lyr.name == layer:
            break
    return offset, scale


def _to_pixels(cam: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Interpolate a (h, w) map given at cell centres onto the 28x28 pixel grid."""
    pixels = np.arange(28, dtype=np.float64)
    rows = np.stack([np.interp(pixels, centres[: cam.shape[1]], row) for row in cam])
    return np.stack([np.interp(pixels, centres[: cam.shape[0]], col) for col in rows.T]).T


def grad_cam(model: Any, image: np.ndarray, class_index: int | None = None, layer: str | None = None) -> np.ndarray:
    """Grad-CAM heatmap (28, 28) in [0, 1] for `class_index` (default: the predicted class)."""
    import tensorflow as tf

    layer = layer or last_conv_layer(model)
    if layer not in [lyr.name for lyr in model.layers]:
        raise ValueError(f"no layer named {layer!r}")
    x = tf.constant(as_model_input(image)[:1])
    with tf.GradientTape() as tape:
        feature_maps, logits = forward_to_logits(model, x, layer, tape)
        cls = int(tf.argmax(logits[0])) if class_index is None else int(class_index)
        score = logits[:, cls]
    grads = tape.gradient(score, feature_maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * feature_maps, axis=-1))[0].numpy().astype(np.float64)
    centres = _cell_centres(model, layer, max(cam.shape))
    return normalise(_to_pixels(cam, centres))


def first_layer_kernels(model: Any, layer: str | None = None) -> np.ndarray:
    """The first conv layer's kernels as (kh, kw, filters), input channel 0: what it learned to look for.

    ValueError (NO_CONV) for a model without conv layers.
    """
    convs = conv_layers(model)
    if not convs:
        raise ValueError(NO_CONV)
    kernel = model.get_layer(layer or convs[0]).get_weights()[0]
    return np.asarray(kernel[:, :, 0, :], dtype=np.float32)


def heat_on_object(image: np.ndarray, heat: np.ndarray, threshold: float = 0.1) -> float | None:
    """Share of a (28, 28) map's total heat on the object's pixels (brighter than `threshold` of the image's peak).

    A map whose heat lies mostly on the background explains little; the page says so instead of letting it
    look like an answer. None when the map is blank.
    """
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float64))
    total = float(heat.sum())
    if total <= 0:
        return None
    pixels = np.asarray(image, dtype=np.float64).reshape(heat.shape)
    peak = float(pixels.max())
    if peak <= 0:
        return None
    return float(heat[pixels > threshold * peak].sum() / total)
