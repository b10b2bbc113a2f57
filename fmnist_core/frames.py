"""The "watch it learn" sidecar: a run's per-epoch frames in `<run_id>.frames.npz`, plain arrays, checked on load."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from fmnist_core.errors import StoreError
from fmnist_core.watch import Frame, Frames

# --- watch it learn: the per-epoch frames beside a run ----------------------------------------------------
FRAMES_SUFFIX = ".frames.npz"
FRAMES_VERSION = 1
MAX_FRAMES_BYTES = 64 * 1024 * 1024  # far above any real run's (1-2 MB for 10 epochs); more is not ours
MAX_FRAMES_UNPACKED = 256 * 1024 * 1024  # 200 epochs of the notebook's network unpack to about 90 MB
NO_REPLAY_SHIPPED = (
    "The shipped models were trained before this app kept how a training learned, so they have no replay; "
    "train a model here to watch it learn."
)


def frames_file(run_id: str, home: Path | None = None) -> Path:
    """Where a run's frames sidecar is (or would be)."""
    from fmnist_core import store  # imports this module

    model_path, _, _ = store._paths(run_id, home)
    return model_path.with_name(f"{run_id}{FRAMES_SUFFIX}")


def _write_frames(path: Path, frames: Frames) -> None:
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
    from fmnist_core import store  # imports this module

    _, json_path, shipped = store._paths(run_id, home)
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
