"""Watch it learn, kept: the Frame and Frames types, and a run's sidecar `<run_id>.frames.npz` (plain arrays,
checked on load)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.errors import StoreError
from fmnist_core.runs.paths import frames_file, run_paths


def frozen(array: np.ndarray, dtype: Any) -> np.ndarray:
    """A read-only copy: the job's snapshots share frames without copying, so nothing may change them."""
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


# --- watch it learn: the per-epoch frames beside a run ----------------------------------------------------
FRAMES_VERSION = 1
MAX_FRAMES_BYTES = 64 * 1024 * 1024  # far above any real run's (1-2 MB for 10 epochs); more is not ours
MAX_FRAMES_UNPACKED = 256 * 1024 * 1024  # 200 epochs of the notebook's network unpack to about 90 MB
NO_REPLAY_SHIPPED = (
    "The shipped models were trained before this app kept how a training learned, so they have no replay; "
    "train a model here to watch it learn."
)


def write_frames(path: Path, frames: Frames) -> None:
    """One compressed .npz of plain arrays (no objects, so loading never needs pickle)."""
    epochs = frames.epochs
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            version=np.array(FRAMES_VERSION),
            layer=np.array(frames.layer),
            samples=np.array(frames.samples, dtype=np.int32),
            epochs=np.array([f.epoch for f in epochs], dtype=np.int32),
            kernels=np.stack([f.kernels for f in epochs]).astype(np.float32),
            maps=np.stack([f.maps for f in epochs]).astype(np.uint8),
            lo=np.stack([f.lo for f in epochs]).astype(np.float32),
            hi=np.stack([f.hi for f in epochs]).astype(np.float32),
        )


def load_frames(run_id: str, home: Path | None = None) -> Frames:
    """A run's frames, checked; StoreError says in one sentence why there is no replay (none kept, damaged)."""
    _, json_path, shipped = run_paths(run_id, home)
    path = frames_file(run_id, home)
    if not path.is_file():
        if shipped:
            raise StoreError(NO_REPLAY_SHIPPED)
        raise StoreError(f"run {run_id} has no replay: it was saved without its per-epoch frames")
    damaged = f"the replay of run {run_id} is damaged, so it cannot be shown"
    try:
        if path.stat().st_size > MAX_FRAMES_BYTES:
            raise ValueError("too large")
        with zipfile.ZipFile(path) as zf:  # declared sizes bound what np.load will unpack (no zip bomb)
            if sum(info.file_size for info in zf.infolist()) > MAX_FRAMES_UNPACKED:
                raise ValueError("it unpacks to more than a replay can hold")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in ("version", "layer", "samples", "epochs", "kernels", "maps", "lo", "hi")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise StoreError(f"{damaged} ({str(exc).splitlines()[0][:120] or type(exc).__name__})") from None
    reason = _frames_problem(arrays)
    if reason:
        raise StoreError(f"{damaged} ({reason})")
    epochs = tuple(
        Frame(
            epoch=int(arrays["epochs"][i]),
            kernels=_read_only(arrays["kernels"][i]),
            maps=_read_only(arrays["maps"][i]),
            lo=_read_only(arrays["lo"][i]),
            hi=_read_only(arrays["hi"][i]),
        )
        for i in range(len(arrays["epochs"]))
    )
    return Frames(str(arrays["layer"]), tuple(int(i) for i in arrays["samples"]), epochs)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _frames_problem(a: dict[str, np.ndarray]) -> str | None:
    """Why the loaded arrays are not a frames file of this version, or None."""
    if a["version"].shape != () or a["version"].dtype.kind not in "iu" or int(a["version"]) != FRAMES_VERSION:
        return "unknown version"
    if a["layer"].shape != () or a["layer"].dtype.kind != "U":
        return "no layer name"
    k, m, lo, hi, samples, epochs = (a[key] for key in ("kernels", "maps", "lo", "hi", "samples", "epochs"))
    if samples.ndim != 1 or samples.dtype.kind not in "iu" or epochs.ndim != 1 or epochs.dtype.kind not in "iu":
        return "bad sample or epoch numbers"
    if (samples < 0).any() or (epochs < 1).any():
        return "negative sample or epoch numbers"
    n, count = len(samples), len(epochs)
    if count == 0 or k.ndim != 4 or m.ndim != 5 or m.dtype != np.uint8 or k.dtype.kind != "f":
        return "arrays of the wrong shape or type"
    filters = k.shape[3]
    if k.shape[0] != count or m.shape[:2] != (count, n) or m.shape[4] != filters:
        return "arrays that do not match each other"
    if lo.shape != (count, n, filters) or hi.shape != lo.shape or lo.dtype.kind != "f" or hi.dtype.kind != "f":
        return "arrays that do not match each other"
    if not (np.isfinite(k).all() and np.isfinite(lo).all() and np.isfinite(hi).all()):
        return "values that are not numbers"
    return None
