"""Watch it learn, captured: at each epoch end, the first conv layer's kernels and its maps of a few test images.

The worker captures one `Frame` (fmnist_core.runs.frames) per epoch; the run keeps them as a sidecar. Maps are stored as uint8, each
(image, channel) scaled to its own range: the page draws each channel on its own scale anyway, and a
10-epoch run of the notebook's network stays near 1 MB instead of 8 MB in float16.
TensorFlow is imported only inside `capture_function`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fmnist_core.data.fashion_mnist import Split, samples_per_class
from fmnist_core.runs.frames import Frame, frozen


def quantise(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(samples, h, w, filters) floats -> uint8 maps and each (sample, filter)'s lo and hi (float32)."""
    maps = np.asarray(maps, dtype=np.float32)
    lo = maps.min(axis=(1, 2))
    hi = maps.max(axis=(1, 2))
    span = np.where(hi > lo, hi - lo, 1.0)[:, None, None, :]
    q = np.rint((maps - lo[:, None, None, :]) / span * 255.0)
    return np.clip(q, 0, 255).astype(np.uint8), lo, hi


def sample_indices(test: Split) -> tuple[int, ...]:
    """The first test image of each class, in class order: fixed, so every run shows the same images."""
    return tuple(found[0] for found in samples_per_class(test).values() if found)


def first_conv_layer(model: Any) -> Any | None:
    """The model's first Conv2D layer (by type, whatever its name), or None when it has none."""
    return next((layer for layer in model.layers if type(layer).__name__ == "Conv2D"), None)


def make_frame(epoch: int, kernel: np.ndarray, maps: np.ndarray) -> Frame:
    """A Frame from a Conv2D kernel (kh, kw, in, filters) and float maps (samples, h, w, filters)."""
    q, lo, hi = quantise(maps)
    return Frame(
        epoch=int(epoch),
        kernels=frozen(np.asarray(kernel)[:, :, 0, :], np.float32),
        maps=frozen(q, np.uint8),
        lo=frozen(lo, np.float32),
        hi=frozen(hi, np.float32),
    )


def capture_function(model: Any, images: np.ndarray) -> tuple[str, Callable[[int], Frame]] | None:
    """(layer name, epoch -> Frame) for this model's first conv layer and `images` (n, 28, 28, 1), scaled as
    the model trains on them; None when the model has no Conv2D. Runs in the worker, between epochs."""
    conv = first_conv_layer(model)
    if conv is None:
        return None
    import keras

    probe = keras.Model(model.inputs[0], conv.output)
    x = np.asarray(images)

    def capture(epoch: int) -> Frame:
        maps = np.asarray(probe(x, training=False), dtype=np.float32)
        return make_frame(epoch, np.asarray(conv.kernel, dtype=np.float32), maps)

    return conv.name, capture
