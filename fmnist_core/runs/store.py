"""Saved runs: `<run_id>.keras` + `<run_id>.json` in a home folder, written atomically, loaded safely.

A run is listed only when its JSON exists, and the JSON is written after the model file (and the optional
`<run_id>.frames.npz` sidecar of "watch it learn"), each through a temporary file and an atomic rename; so a
crash mid-save never leaves a half run in the list.
Shipped models live in fmnist_core/assets/ and are never deleted. Only a JSON that names its own id is a run
(is_run_file): shared state and stray files in the home are never listed or deleted as runs.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmnist_core import people
from fmnist_core.errors import StoreError
from fmnist_core.runs import cache, paths
from fmnist_core.runs.archive import cached_inspect
from fmnist_core.runs.frames import Frames, write_frames
from fmnist_core.runs.metadata import METADATA_VERSION, RunInfo, RunMetadata, check_run_name
from fmnist_core.runs.paths import (
    DEFAULT_RUN_ID,
    FRAMES_SUFFIX,
    RUN_ID_PATTERN,
    frames_file,
    home_dir,
    new_run_id,
    run_paths,
    shared_dir,
    validate_run_id,
)
from fmnist_core.runs.records import text

log = logging.getLogger(__name__)
DELETED_FILE = "deleted-runs.json"
_KEEP_DELETED = 2000  # deletion records kept, newest last
_DELETED_LOCK = threading.Lock()


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON through a temporary file and a rename: a reader sees the old file or the new one, never half."""
    text = json.dumps(value, indent=1, default=_json_default)
    _atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def is_run_file(json_path: Path) -> bool:
    """Whether a JSON file in the home is a run's metadata, written by this store.

    A run's JSON names its own id (every version ever written does); one that cannot be read is a damaged run
    only when its model file lies beside it. Anything else (a stray or shared file) is not a run.
    """
    if json_path.name.startswith(".") or not RUN_ID_PATTERN.match(json_path.stem):
        return False
    try:
        raw = json.loads(json_path.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return json_path.with_suffix(".keras").is_file()
    if isinstance(raw, dict):
        return raw.get("id") == json_path.stem
    return json_path.with_suffix(".keras").is_file()


# Layer classes a model file may contain; anything else (Lambda, custom classes) is refused before loading.
def rename_run(run_id: str, name: str | None, home: Path | None = None, *, actor: people.Actor) -> RunInfo:
    """Give a saved run a readable name (None or "" removes it); the JSON is rewritten atomically. Only those who
    may delete a run may rename it (people.check_delete)."""
    _, json_path, shipped = run_paths(run_id, home)
    if shipped:
        raise StoreError(f"{run_id} is a shipped model and cannot be renamed")
    try:
        raw = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise StoreError(f"no saved run with id {run_id!r}") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"the metadata of {run_id} cannot be read: {exc}") from None
    meta = RunMetadata.from_dict(raw)
    if not people.may_see(actor, meta.owner):
        raise StoreError(f"no saved run with id {run_id!r}")
    try:
        people.check_delete(actor, run_id, meta.owner, doing="rename")
    except people.NotAllowed as exc:
        raise StoreError(str(exc)) from None
    meta.name = check_run_name(name) if name else None
    text = json.dumps(meta.to_dict(), indent=2, default=_json_default)
    try:
        _atomic_write(json_path, lambda p: p.write_text(text))
    except OSError as exc:
        raise StoreError(f"could not rename run {run_id}: {_describe_os_error(exc, json_path.parent)}") from exc
    return get_run(run_id, home)


def _atomic_write(path: Path, write, before_rename: Callable[[], None] | None = None) -> None:
    """Write through a temporary file in the same folder, fsync, then rename over the target.

    `before_rename` runs once the temporary file is complete: the worker's test hook pauses or dies there.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; saved runs should be as readable as any file
    try:
        write(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _describe_os_error(exc: OSError, folder: Path) -> str:
    import errno

    if exc.errno == errno.ENOSPC:
        return f"the disk holding {folder} is full"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{folder} is read-only or not writable"
    return f"{exc.strerror or exc} ({folder})"


def save_run(
    model: Any,
    metadata: RunMetadata | dict[str, Any],
    run_id: str | None = None,
    home: Path | None = None,
    frames: Frames | None = None,
    before_rename: Callable[[], None] | None = None,
    prepare: Callable[[str], None] | None = None,
) -> str:
    """Save model, frames (when given) and metadata atomically; return the run id. Raises StoreError (model
    untouched) on failure.

    A dict is read as RunMetadata first (so it is written in the current version's shape). `before_rename` is
    called before each file is renamed into place (a test hook of the worker's). `prepare(run_id)` runs once the
    model file is in place and before the metadata makes the run listed: what the pages read first is kept then.
    The metadata is written as it is after `prepare` (the worker adds the preparation's time to its timings).
    """
    base = home or home_dir()
    meta = metadata if isinstance(metadata, RunMetadata) else RunMetadata.from_dict(metadata)
    run_id = validate_run_id(run_id or new_run_id(meta.preset or "run"))
    shipping = base.resolve() == paths.ASSETS_DIR  # deliberately (re)training a shipped model
    if not shipping and (paths.ASSETS_DIR / f"{run_id}.json").exists():
        raise StoreError(f"{run_id} is the id of a shipped model; choose another run id")
    if not shipping and (base / f"{run_id}.json").exists():
        raise StoreError(f"a run with id {run_id} exists already; delete it first or choose another id")
    created = meta.created or datetime.now(UTC).isoformat(timespec="seconds")

    def text() -> str:
        final = replace(meta, id=run_id, created=created, version=METADATA_VERSION)
        return json.dumps(final.to_dict(), indent=2, default=_json_default)

    text()  # a value JSON cannot hold fails here, before any file is written
    try:
        _atomic_write(base / f"{run_id}.keras", lambda p: model.save(p), before_rename)
        if frames is not None and frames.epochs:
            _atomic_write(frames_file(run_id, base), lambda p: write_frames(p, frames), before_rename)
        if prepare is not None:
            _prepare(prepare, run_id)
        _atomic_write(base / f"{run_id}.json", lambda p: p.write_text(text()), before_rename)
    except OSError as exc:
        raise StoreError(f"could not save run {run_id}: {_describe_os_error(exc, base)}") from exc
    return run_id


def _prepare(prepare: Callable[[str], None], run_id: str) -> None:
    """Run the caller's preparation of a run's caches; a failure costs only the cache, never the run."""
    try:
        prepare(run_id)
    except Exception:  # noqa: BLE001 - whatever went wrong, the pages compute it on demand instead
        log.warning("could not prepare the caches of run %s", run_id, exc_info=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _read_info(run_id: str, json_path: Path, model_path: Path, shipped: bool) -> RunInfo:
    try:
        meta = json.loads(json_path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
    except (OSError, ValueError) as exc:
        return RunInfo(id=run_id, status="damaged", shipped=shipped, error=f"metadata unreadable ({exc})")
    reason = cached_inspect(model_path)
    metadata = RunMetadata.from_dict(meta)
    has_frames = json_path.with_name(f"{run_id}{FRAMES_SUFFIX}").is_file()
    return RunInfo(
        id=run_id,
        status="damaged" if reason else metadata.status,
        test_accuracy=metadata.test_accuracy,
        test_loss=metadata.test_loss,
        created=metadata.created,
        preset=metadata.preset,
        shipped=shipped,
        error=reason,
        metadata=metadata,
        has_frames=has_frames,
    )


def list_runs(
    home: Path | None = None, include_shipped: bool = True, actor: people.Actor | None = None
) -> list[RunInfo]:
    """Shipped models first, then saved runs newest first; damaged ones are listed with their reason.

    With an actor, only the runs that actor may see (people.may_see); without, all (the store's own use).
    """
    runs: list[RunInfo] = []
    if include_shipped:
        for json_path in sorted(paths.ASSETS_DIR.glob("*.json")):
            if RUN_ID_PATTERN.match(json_path.stem):
                runs.append(_read_info(json_path.stem, json_path, json_path.with_suffix(".keras"), True))
        runs.sort(key=lambda r: (r.id != DEFAULT_RUN_ID, r.id))
    base = home or home_dir()
    saved: list[RunInfo] = []
    if base.is_dir():
        for json_path in base.glob("*.json"):
            run_id = json_path.stem
            if not is_run_file(json_path):
                continue
            if (paths.ASSETS_DIR / json_path.name).exists():
                continue  # a shipped id cannot be shadowed by a file in the store
            saved.append(_read_info(run_id, json_path, json_path.with_suffix(".keras"), False))
    saved.sort(key=lambda r: (r.created or "", r.id), reverse=True)
    if actor is not None:
        saved = [r for r in saved if people.may_see(actor, r.metadata.owner)]
    return runs + saved


def get_run(run_id: str, home: Path | None = None, actor: people.Actor | None = None) -> RunInfo:
    """One run's info; StoreError if it does not exist, or (given an actor) that actor may not see it: a run
    someone may not see is answered as one that does not exist, so its id tells nothing."""
    model_path, json_path, shipped = run_paths(run_id, home)
    if not shipped and not is_run_file(json_path):
        raise StoreError(missing_run_message(run_id, home))
    info = _read_info(run_id, json_path, model_path, shipped)
    if actor is not None and not people.may_see(actor, info.metadata.owner, shipped):
        raise StoreError(f"no saved run with id {run_id!r}")
    return info


def load_model(run_id: str, home: Path | None = None) -> Any:
    """Load a run's model with Keras' safe mode on, after the cheap checks; StoreError with the reason if not."""
    info = get_run(run_id, home)
    if not info.usable:
        raise StoreError(f"run {run_id} is damaged: {info.error}")
    model_path, _, _ = run_paths(run_id, home)
    from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

    quiet_import_tensorflow()
    import keras

    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files; all mean "this file is unusable"
        raise StoreError(f"run {run_id} could not be loaded: {str(exc).splitlines()[0][:200]}") from exc
    in_shape = tuple(model.inputs[0].shape[1:]) if model.inputs else None
    out_shape = tuple(model.outputs[0].shape[1:]) if model.outputs else None
    if in_shape != (28, 28, 1) or out_shape != (10,):
        raise StoreError(
            f"run {run_id} is an incompatible model: input {in_shape}, output {out_shape}; expected (28, 28, 1) -> (10,)"
        )
    return model


def model_file(run_id: str, home: Path | None = None) -> Path:
    """Path of a run's .keras file (for downloads); StoreError if the run does not exist."""
    model_path, json_path, _ = run_paths(run_id, home)
    if not json_path.is_file() or not model_path.is_file():
        raise StoreError(f"no saved run with id {run_id!r}")
    return model_path


def history_csv(info: RunInfo) -> str:
    """A run's per-epoch history as CSV text."""
    columns = ["epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds", "complete"]
    rows = [",".join(columns)]
    for row in info.metadata.history:
        rows.append(",".join("" if getattr(row, c) is None else str(getattr(row, c)) for c in columns))
    return "\n".join(rows) + "\n"


def delete_run(run_id: str, home: Path | None = None, *, actor: people.Actor) -> None:
    """Remove a saved run (JSON first, so it leaves the list at once) if the actor may (people.check_delete:
    its owner, a teacher, or no sign-in); StoreError with one sentence otherwise. Shipped models are refused."""
    model_path, json_path, shipped = run_paths(run_id, home)
    if shipped:
        raise StoreError(f"{run_id} is a shipped model and cannot be deleted")
    if not is_run_file(json_path):
        raise StoreError(missing_run_message(run_id, home))
    owner = _owner_of(json_path)
    if not people.may_see(actor, owner):
        raise StoreError(f"no saved run with id {run_id!r}")
    try:
        people.check_delete(actor, run_id, owner)
    except people.NotAllowed as exc:
        raise StoreError(str(exc)) from None
    json_path.unlink(missing_ok=True)
    model_path.unlink(missing_ok=True)
    json_path.with_name(f"{run_id}{FRAMES_SUFFIX}").unlink(missing_ok=True)
    _record_deletion(run_id, owner, actor, home)
    cache.forget(run_id, home)


def _deleted_path(home: Path | None) -> Path:
    return shared_dir(home) / DELETED_FILE


def _record_deletion(run_id: str, owner: str | None, actor: people.Actor, home: Path | None) -> None:
    """Remember who deleted a run, so a page still showing it can say what happened (best effort)."""
    if actor.kind == "admin":
        by = "the server's administrator"
    elif actor.signed_in and actor.id == owner:
        by = "its owner"
    elif actor.teacher:
        by = "a teacher"
    else:
        by = ""  # no sign-in: one person's app, so "deleted" says it all
    path = _deleted_path(home)
    with _DELETED_LOCK:
        records = _read_deleted(path)
        records.pop(run_id, None)
        records[run_id] = {"by": by, "when": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            write_json_atomic(path, dict(list(records.items())[-_KEEP_DELETED:]))
        except OSError:
            pass  # the run is gone either way; only the later explanation is lost


def _read_deleted(path: Path) -> dict[str, dict[str, str]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, dict)}


def deleted_by(run_id: str, home: Path | None = None) -> str | None:
    """Who deleted a run ("a teacher", "its owner", "" without sign-in), or None when the store has no record."""
    record = _read_deleted(_deleted_path(home)).get(run_id)
    return None if record is None else text(record.get("by"))


def missing_run_message(run_id: str, home: Path | None = None) -> str:
    """The sentence for a run that is not there: who deleted it when the store knows, else that it does not exist."""
    by = deleted_by(run_id, home)
    if by is not None:
        return f"Run {run_id} was deleted{f' by {by}' if by else ''}; choose another model."
    return f"no saved run with id {run_id!r}"


def _owner_of(json_path: Path) -> str | None:
    """The owner recorded in a run's JSON (None when there is none or the JSON cannot be read)."""
    try:
        raw = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return None
    return text(raw.get("owner")) if isinstance(raw, dict) else None
