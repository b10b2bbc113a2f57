"""Watch it learn: at each epoch end, the first conv layer's kernels and its maps of a few fixed test images.

The worker captures one `Frame` per epoch (numpy arrays, read-only so the job's snapshots can share them
without copying); the run keeps them as a sidecar (fmnist_core.store). Maps are stored as uint8, each
(image, channel) scaled to its own range: the page draws each channel on its own scale anyway, and a
10-epoch run of the notebook's network stays near 1 MB instead of 8 MB in float16.
TensorFlow is imported only inside `capture_function`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.data import Split, samples_per_class


def _frozen(array: np.ndarray, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype)  # a copy: nothing outside can change it later
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Frame:
    """One epoch's end: kernels (kh, kw, filters) of input channel 0, and maps (samples, h, w, filters) as
    uint8 with each (sample, filter) spanning lo..hi (samples, filters)."""

    epoch: int
    kernels: np.ndarray
    maps: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def feature_maps(self, sample: int) -> np.ndarray:
        """One sample's maps (h, w, filters) in float32, back from uint8 (to 1/255 of each channel's range)."""
        span = (self.hi[sample] - self.lo[sample]).astype(np.float32)
        return self.lo[sample] + self.maps[sample].astype(np.float32) * (span / 255.0)


@dataclass(frozen=True)
class Frames:
    """A training's frames: which layer, which test images (indices), one Frame per finished epoch."""

    layer: str
    samples: tuple[int, ...]
    epochs: tuple[Frame, ...] = ()

    def with_frame(self, frame: Frame) -> Frames:
        """A new Frames with `frame` appended (the arrays are shared, not copied, so they are made read-only:
        a frame that came through a pipe was unpickled writeable)."""
        for array in (frame.kernels, frame.maps, frame.lo, frame.hi):
            array.flags.writeable = False
        return Frames(self.layer, self.samples, (*self.epochs, frame))

    def frame(self, epoch: int) -> Frame:
        """The frame of a 1-based epoch number; KeyError when that epoch has none."""
        for frame in self.epochs:
            if frame.epoch == epoch:
                return frame
        raise KeyError(f"no frame for epoch {epoch}")


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
        kernels=_frozen(np.asarray(kernel)[:, :, 0, :], np.float32),
        maps=_frozen(q, np.uint8),
        lo=_frozen(lo, np.float32),
        hi=_frozen(hi, np.float32),
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
