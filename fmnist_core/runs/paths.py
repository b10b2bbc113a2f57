"""Where a run's files are: ids, the home folder, file names. The leaf every other module of the store imports.

A run is `<run_id>.keras` + `<run_id>.json` (+ `<run_id>.frames.npz`) in the home folder; shipped models live in
fmnist_core/assets/. State that is not a run (quiz scores, deletion records) lives in the home's `shared/`
folder and per-run disk caches in `.runcache/<run_id>/`, both out of reach of every listing of runs.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from fmnist_core import settings
from fmnist_core.errors import StoreError

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_RUN_ID = "default"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
SHARED_FOLDER = "shared"
CACHE_FOLDER = ".runcache"
FRAMES_SUFFIX = ".frames.npz"


def home_dir() -> Path:
    """The store's folder: FMNIST_HOME, else ./models."""
    return settings.home()


def validate_run_id(run_id: object) -> str:
    """Accept only plain ids (letters, digits, _ and -); anything else could reach outside the store."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise StoreError(f"invalid run id {run_id!r}: use letters, digits, '_' and '-' only")
    return run_id


def new_run_id(preset: str, now: datetime | None = None) -> str:
    """Sortable, unique, readable: 20261128-013000-fast-1a2b."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{re.sub(r'[^A-Za-z0-9]', '', preset)[:20]}-{os.urandom(2).hex()}"


def run_paths(run_id: str, home: Path | None = None) -> tuple[Path, Path, bool]:
    """(model file, metadata file, shipped) of a run id; a shipped id is found in the assets, not the home."""
    validate_run_id(run_id)
    shipped = ASSETS_DIR / f"{run_id}.json"
    if shipped.is_file():
        return ASSETS_DIR / f"{run_id}.keras", shipped, True
    base = home or home_dir()
    return base / f"{run_id}.keras", base / f"{run_id}.json", False


def frames_file(run_id: str, home: Path | None = None) -> Path:
    """Where a run's "watch it learn" sidecar is (or would be)."""
    model_path, _, _ = run_paths(run_id, home)
    return model_path.with_name(f"{run_id}{FRAMES_SUFFIX}")


def shared_dir(home: Path | None = None) -> Path:
    """The home's folder for state that is not a run (created on first use by the writer)."""
    return (home or home_dir()) / SHARED_FOLDER


def cache_dir(run_id: str, home: Path | None = None) -> Path:
    """A run's disk-cache folder (shipped runs' caches live in the home too: the package folder may be read-only)."""
    return (home or home_dir()) / CACHE_FOLDER / validate_run_id(run_id)
