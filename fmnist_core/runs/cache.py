"""Per-run disk caches: arrays that depend only on a run, computed once (the computation is passed in) and kept.

Kept in memory alone, they are paid again by every server restart and every other server process of a class;
kept here they are paid once per run. A cache file names the model file it came from (size and modification
time), so a run saved again under the same id is recomputed, and deleting a run removes its folder
(store.delete_run). A folder that cannot be written costs only the saving: the result is still returned.
What is kept (test probabilities, channel maxima, embeddings) is fmnist_core.analysis.run_results.
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

import numpy as np

from fmnist_core.errors import StoreError
from fmnist_core.runs.paths import cache_dir, run_paths

log = logging.getLogger(__name__)

VERSION = 1  # bump when what a cache file holds changes meaning
_KEY = "__key__"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")

Arrays = dict[str, np.ndarray]


def folder(run_id: str, home: Path | None = None) -> Path:
    """The run's cache folder (in the home, for shipped runs too: the package folder may be read-only)."""
    return cache_dir(run_id, home)


def _file(run_id: str, name: str, home: Path | None) -> Path:
    stem = name if _SAFE_NAME.match(name) else hashlib.sha256(name.encode()).hexdigest()[:32]
    return folder(run_id, home) / f"{stem}.npz"


def fingerprint(run_id: str, home: Path | None = None) -> str:
    """What the cached results were computed from: the model file's size and modification time."""
    model_path, _, _ = run_paths(run_id, home)
    try:
        stat = model_path.stat()  # a run's model file is in place before its metadata: caches may come between
    except FileNotFoundError:
        raise StoreError(f"no saved run with id {run_id!r}") from None
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
        StoreError,
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
    except (OSError, StoreError) as exc:
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
