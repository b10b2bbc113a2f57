"""What is expensive and depends only on a run, computed once and kept beside it on disk.

Test-set probabilities, per-channel maxima of a layer and the embedding's points depend on nothing but the run's
weights and the test set, yet cost seconds (t-SNE: tens). Kept in memory alone they are paid again by every server
restart and every other server process of a class; kept here they are paid once per run. A cache file names the
model file it came from (size and modification time), so a run saved again under the same id is recomputed, and
deleting a run removes its folder (store.delete_run). A folder that cannot be written costs only the saving: the
result is still returned.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core import store

log = logging.getLogger(__name__)

FOLDER = ".runcache"  # inside FMNIST_HOME: one sub-folder per run id
VERSION = 1  # bump when what a cache file holds changes meaning
_KEY = "__key__"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")

Arrays = dict[str, np.ndarray]


def folder(run_id: str, home: Path | None = None) -> Path:
    """The run's cache folder (shipped runs' caches live in FMNIST_HOME too: the package folder may be read-only)."""
    store.validate_run_id(run_id)
    return (home or store.home_dir()) / FOLDER / run_id


def _file(run_id: str, name: str, home: Path | None) -> Path:
    stem = name if _SAFE_NAME.match(name) else hashlib.sha256(name.encode()).hexdigest()[:32]
    return folder(run_id, home) / f"{stem}.npz"


def fingerprint(run_id: str, home: Path | None = None) -> str:
    """What the cached results were computed from: the model file's size and modification time."""
    stat = store.model_file(run_id, home).stat()
    return f"v{VERSION}:{stat.st_size}:{stat.st_mtime_ns}"


def load(run_id: str, name: str, home: Path | None = None) -> Arrays | None:
    """The arrays kept under `name` for this run, or None if absent, stale (another model file) or unreadable."""
    path = _file(run_id, name, home)
    try:
        key = fingerprint(run_id, home)
        with open(path, "rb") as raw, np.load(raw, allow_pickle=False) as npz:  # closed even when torn
            if str(npz[_KEY]) != f"{key}:{name}":
                return None
            return {k: npz[k] for k in npz.files if k != _KEY}
    except FileNotFoundError:
        return None
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        zipfile.BadZipFile,
        store.StoreError,
    ) as exc:  # a torn or foreign file: compute again
        log.info("run cache %s unreadable (%s); recomputing", path, exc)
        return None


def save(run_id: str, name: str, arrays: Arrays, home: Path | None = None) -> bool:
    """Keep `arrays` under `name` for this run (atomically); False, logged, when the folder cannot be written."""
    path = _file(run_id, name, home)
    try:
        key = fingerprint(run_id, home)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.npz")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **{_KEY: np.array(f"{key}:{name}")}, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, store.StoreError) as exc:
        log.warning("could not keep %s for run %s on disk: %s", name, run_id, exc)
        return False
    return True


def cached(run_id: str, name: str, compute: Callable[[], Arrays], home: Path | None = None) -> Arrays:
    """The arrays under `name`, computed by `compute()` and kept when there are none yet."""
    found = load(run_id, name, home)
    if found is not None:
        return found
    arrays = compute()
    save(run_id, name, arrays, home)
    return arrays


def forget(run_id: str, home: Path | None = None) -> None:
    """Remove everything kept for a run (it was deleted)."""
    shutil.rmtree(folder(run_id, home), ignore_errors=True)


# --- the three things pages ask for -------------------------------------------------------------------------
PROBABILITIES = "test-probabilities"


def test_probabilities(
    run_id: str, model: Callable[[], Any], images: np.ndarray, home: Path | None = None
) -> np.ndarray:
    """(N, 10) float32 probabilities of the test images; `model()` is only called when they are not on disk."""
    from fmnist_core.inference import predict_proba

    def compute() -> Arrays:
        return {"probabilities": predict_proba(model(), images).astype(np.float32)}

    return cached(run_id, PROBABILITIES, compute, home)["probabilities"]


def _maxima_name(layer: str) -> str:
    return f"maxima-{layer}"


def channel_maxima(
    run_id: str, model: Callable[[], Any], images: np.ndarray, layer: str, home: Path | None = None
) -> Any:
    """activations.channel_maxima of `layer` over the test images, from disk when kept.

    When it must be computed, every layer with feature maps is computed in the same pass and kept: a learner
    who opens one layer opens the others next, and the pass costs about what one layer alone does.
    """
    from fmnist_core import activations

    found = load(run_id, _maxima_name(layer), home)
    if found is None:
        loaded = model()
        every = activations.channel_maxima_of_layers(loaded, images, activations.spatial_layers(loaded))
        if layer not in every:
            activations.check_spatial_layer(loaded, layer)  # raises the one-sentence error
        for name, maxima in every.items():
            arrays = {
                "maxima": maxima.maxima,
                "rows": maxima.rows,
                "cols": maxima.cols,
                "map_shape": np.array(maxima.map_shape, dtype=np.int64),
            }
            save(run_id, _maxima_name(name), arrays, home)
            if name == layer:
                found = arrays
    shape = tuple(int(d) for d in found["map_shape"])
    return activations.ChannelMaxima(layer, found["maxima"], found["rows"], found["cols"], shape)  # type: ignore[arg-type]


def embedding(
    run_id: str,
    model: Callable[[], Any],
    images: np.ndarray,
    method: str,
    seed: int = 0,
    home: Path | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """embedding.embed of the test images by `method`, from disk when kept (`seconds` is the first computation's)."""
    from fmnist_core import embedding as core

    def compute() -> Arrays:
        found = core.embed(model(), images, method, seed=seed, progress=progress)
        return {"layer": np.array(found.layer), "points": found.points, "seconds": np.array(found.seconds)}

    a = cached(run_id, f"embedding-{method}-{seed}", compute, home)
    return core.Embedding(str(a["layer"]), method, a["points"], float(a["seconds"]))
