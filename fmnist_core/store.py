"""Saved runs: `<run_id>.keras` + `<run_id>.json` in a home folder, written atomically, loaded safely.

A run is listed only when its JSON exists, and the JSON is written after the model file (and the optional
`<run_id>.frames.npz` sidecar of "watch it learn"), each through a temporary file and an atomic rename; so a
crash mid-save never leaves a half run in the list.
Shipped models live in fmnist_core/assets/ and are never deleted.
"""

from __future__ import annotations

import io
import json
import numbers
import os
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core import architecture, people, settings
from fmnist_core.watch import Frame, Frames

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_RUN_ID = "default"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
# Layer classes a model file may contain; anything else (Lambda, custom classes) is refused before loading.
ALLOWED_LAYER_CLASSES = {
    "InputLayer",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dense",
    "Dropout",
    "BatchNormalization",
    "Activation",
    "Reshape",
    "ReLU",
    "LeakyReLU",
    "Softmax",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "RandomTranslation",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
}


class StoreError(RuntimeError):
    """A run could not be saved, found or loaded; the message says why in one line."""


# Version 1: files written before RunMetadata existed (no "version" key); 2: adds version, arch, executor, node,
# and the imported-model fields (input_scaling, imported_from, notes); 3: adds timings; 4: adds owner. Readers
# accept them all (a run without owner belongs to nobody: people.check_delete).
METADATA_VERSION = 4


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# How each field is read from JSON: a converter returning None when the stored value has the wrong type.
_READERS: dict[str, Any] = {
    "version": _whole,
    "id": _text,
    "created": _text,
    "status": _text,
    "preset": _text,
    "architecture": _text,
    "arch": lambda v: v if isinstance(v, dict) else None,
    "settings": lambda v: v if isinstance(v, dict) else None,
    "history": lambda v: v if isinstance(v, list) else None,
    "batch_trace": lambda v: v if isinstance(v, list) else None,
    "test_loss": _number,
    "test_accuracy": _number,
    "seconds": _number,
    "train_seconds": _number,
    "samples_per_second": _number,
    "seconds_to_target": _number,
    "target_accuracy": _number,
    "train_images": _whole,
    "precision": _text,
    "precision_note": _text,
    "versions": lambda v: v if isinstance(v, dict) else None,
    "data_fingerprint": _text,
    "command": _text,
    "params": _whole,
    "summary": lambda v: v if isinstance(v, list) else None,
    "executor": _text,
    "node": _text,
    "input_scaling": _text,
    "imported_from": _text,
    "notes": lambda v: v if isinstance(v, list) and all(isinstance(x, str) for x in v) else None,
    "name": _text,
    "owner": _text,
    "timings": lambda v: (
        {k: float(x) for k, x in v.items()}
        if isinstance(v, dict) and all(_number(x) is not None for x in v.values())
        else None
    ),
}


@dataclass
class RunMetadata:
    """A saved run's JSON, typed. Unknown keys (from newer versions or other tools) are kept in `extra` and
    written back; a known key whose value has the wrong type is kept there too rather than lost."""

    version: int = METADATA_VERSION
    id: str | None = None
    created: str | None = None
    status: str = "finished"  # finished | stopped | imported
    preset: str | None = None
    architecture: str | None = None  # a preset network's name ("notebook_cnn", "deep_cnn"; "seed_cnn" in older runs)
    arch: dict[str, Any] | None = None  # the architecture spec (architecture.to_dict), when there is one
    settings: dict[str, Any] = field(default_factory=dict)  # the training settings (TrainConfig as a dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch
    batch_trace: list[dict[str, Any]] = field(default_factory=list)
    test_loss: float | None = None
    test_accuracy: float | None = None
    seconds: float | None = None
    train_seconds: float | None = None
    samples_per_second: float | None = None
    seconds_to_target: float | None = None
    target_accuracy: float | None = None
    train_images: int | None = None
    precision: str | None = None
    precision_note: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    data_fingerprint: str | None = None
    command: str | None = None
    params: int | None = None
    summary: list[dict[str, Any]] = field(default_factory=list)  # model.LayerRow as dicts
    executor: str | None = None
    node: str | None = None
    input_scaling: str | None = None  # what inputs the model expects, when that is an assumption (imports)
    imported_from: str | None = None  # the file name an imported model came from
    notes: list[str] = field(default_factory=list)  # sentences about the run, e.g. how an import was adapted
    name: str | None = None  # a name the user gave the run; the id stays its key
    owner: str | None = None  # who trained or imported it (people.Actor.id); None: saved before runs had owners
    # Seconds of each part of a training (start, tensorflow, data, build, first batch, steady training and its
    # images, final evaluation, total from launch to result): what fmnist_core.estimate learns from.
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunMetadata:
        """Read any version's JSON object; files without "version" are version 1."""
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            reader = _READERS.get(key)
            converted = reader(value) if reader else None
            if converted is None:
                if value is not None or reader is None:
                    extra[key] = value
            else:
                known[key] = converted
        known.setdefault("version", 1)
        # Runs saved before the notebook preset was renamed say "seed" and "seed_cnn": read them by today's names.
        if "preset" in known:
            from fmnist_core.presets import preset_name

            known["preset"] = preset_name(known["preset"])
        if "architecture" in known:
            known["architecture"] = architecture.preset_architecture(known["architecture"])
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to write: every field, then the kept unknown keys."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**out, **self.extra}

    def spec(self) -> architecture.ArchSpec | None:
        """The run's network as a spec: its own, or its preset architecture's; None for an imported model."""
        if self.arch is not None:
            try:
                return architecture.parse_spec(self.arch)
            except architecture.SpecError:
                return None
        return architecture.PRESET_SPECS.get(self.architecture or "")


@dataclass
class RunInfo:
    """What the list of runs shows for one run, read from its JSON (the model file is opened lazily)."""

    id: str
    status: str  # finished | stopped | imported | damaged
    test_accuracy: float | None = None
    test_loss: float | None = None
    created: str | None = None
    preset: str | None = None
    shipped: bool = False
    error: str | None = None
    metadata: RunMetadata = field(default_factory=RunMetadata)
    has_frames: bool = False  # a "watch it learn" sidecar exists (it is checked only when loaded)

    @property
    def usable(self) -> bool:
        return self.status != "damaged"

    def label(self) -> str:
        """What people see for a run: its name (or what it is and when), its accuracy, and a mark if it is
        stopped or damaged; short enough for the sidebar. The id stays the key (links, files, the CLI)."""
        if not self.usable:
            return f"{self.id} (damaged)"
        meta = self.metadata
        if meta.name:
            what = meta.name
        elif self.shipped:
            what = f"{self.id} (shipped)"
        elif self.status == "imported":
            what = f"imported {Path(meta.imported_from or self.id).stem[:18]}"
        else:
            what = f"{self.preset or 'run'} · {_short_time(self.created)}"
        acc = f"{self.test_accuracy:.2%}" if self.test_accuracy is not None else "n/a"
        tag = " · stopped" if self.status == "stopped" else ""
        return f"{what} · {acc}{tag}"


def _short_time(stamp: str | None) -> str:
    """'Nov 29 15:05' from an ISO time; the id's own time when the run has none."""
    try:
        return f"{datetime.fromisoformat(stamp or ''):%b %d %H:%M}"
    except ValueError:
        return "undated"


MAX_NAME = 40


def check_run_name(name: str) -> str:
    """A run name as typed, trimmed; StoreError saying why when it can't be one (empty, too long, control chars)."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise StoreError("a name needs at least one letter or digit")
    if len(cleaned) > MAX_NAME:
        raise StoreError(f"a name has at most {MAX_NAME} characters (this one has {len(cleaned)})")
    if any(not ch.isprintable() for ch in cleaned):
        raise StoreError("a name cannot hold control characters")
    return cleaned


def rename_run(run_id: str, name: str | None, home: Path | None = None, *, actor: people.Actor) -> RunInfo:
    """Give a saved run a readable name (None or "" removes it); the JSON is rewritten atomically. Only those who
    may delete a run may rename it (people.check_delete)."""
    _, json_path, shipped = _paths(run_id, home)
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


def _paths(run_id: str, home: Path | None = None) -> tuple[Path, Path, bool]:
    validate_run_id(run_id)
    shipped = ASSETS_DIR / f"{run_id}.json"
    if shipped.is_file():
        return ASSETS_DIR / f"{run_id}.keras", shipped, True
    base = home or home_dir()
    return base / f"{run_id}.keras", base / f"{run_id}.json", False


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
) -> str:
    """Save model, frames (when given) and metadata atomically; return the run id. Raises StoreError (model
    untouched) on failure.

    A dict is read as RunMetadata first (so it is written in the current version's shape). `before_rename` is
    called before each file is renamed into place (a test hook of the worker's).
    """
    base = home or home_dir()
    meta = metadata if isinstance(metadata, RunMetadata) else RunMetadata.from_dict(metadata)
    run_id = validate_run_id(run_id or new_run_id(meta.preset or "run"))
    shipping = base.resolve() == ASSETS_DIR  # deliberately (re)training a shipped model
    if not shipping and (ASSETS_DIR / f"{run_id}.json").exists():
        raise StoreError(f"{run_id} is the id of a shipped model; choose another run id")
    if not shipping and (base / f"{run_id}.json").exists():
        raise StoreError(f"a run with id {run_id} exists already; delete it first or choose another id")
    created = meta.created or datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(
        replace(meta, id=run_id, created=created, version=METADATA_VERSION).to_dict(), indent=2, default=_json_default
    )
    try:
        _atomic_write(base / f"{run_id}.keras", lambda p: model.save(p), before_rename)
        if frames is not None and frames.epochs:
            _atomic_write(frames_file(run_id, base), lambda p: _write_frames(p, frames), before_rename)
        _atomic_write(base / f"{run_id}.json", lambda p: p.write_text(text), before_rename)
    except OSError as exc:
        raise StoreError(f"could not save run {run_id}: {_describe_os_error(exc, base)}") from exc
    return run_id


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# The archive a .keras file is: exactly these entries (Keras 3 writes them uncompressed).
ARCHIVE_ENTRIES = {"metadata.json", "config.json", "model.weights.h5"}
MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # a 50 MB model plus its config; more is a zip bomb or not ours
MAX_PACKING_RATIO = 100  # weights hardly compress; JSON about 10:1
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MODEL_CLASSES = {"Sequential"}
# Where Keras 3 says its built-in models, layers and their parts live; Keras imports the module a config names.
BUILTIN_MODULES = {"keras", "keras.layers", "keras.initializers", "keras.regularizers", "keras.constraints"}
# Objects other than layers a built-in model's config holds: dtype policies, initialisers, regularisers,
# constraints. Anything else (functions, lambdas, custom classes) is refused before Keras sees the file.
ALLOWED_OBJECT_CLASSES = {
    "DTypePolicy",
    "FloatDTypePolicy",
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "L1",
    "L2",
    "L1L2",
    "OrthogonalRegularizer",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
}


def check_archive(source: Path | bytes, what: str = "model file") -> dict[str, Any]:
    """Every check that needs no Keras: zip structure and sizes (no zip bomb), checksums, the HDF5 weights'
    signature, and a config made only of built-in classes. Returns the parsed config; StoreError says why not.

    Nothing from the file is deserialised here: the config is plain JSON, walked as data.
    """
    if isinstance(source, bytes | bytearray):
        if not source:
            raise StoreError(f"{what} is empty")
        handle: Any = io.BytesIO(source)
    else:
        if not source.is_file():
            raise StoreError(f"{what} is missing")
        if source.stat().st_size == 0:
            raise StoreError(f"{what} is empty")
        handle = source
    if not zipfile.is_zipfile(handle):
        raise StoreError(f"{what} is not a .keras archive (damaged or truncated)")
    try:
        with zipfile.ZipFile(handle) as zf:
            infos = zf.infolist()
            names = {info.filename for info in infos}
            if "config.json" not in names or "model.weights.h5" not in names:
                raise StoreError(f"{what} lacks its config or weights")
            unexpected = sorted(names - ARCHIVE_ENTRIES)
            if unexpected or len(infos) != len(names):
                raise StoreError(f"{what} holds entries a .keras model does not have: {', '.join(unexpected[:3])}")
            _check_sizes(infos, what)
            bad = zf.testzip()
            if bad:
                raise StoreError(f"{what} is corrupt ({bad} fails its checksum)")
            with zf.open("model.weights.h5") as weights:
                if weights.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                    raise StoreError(f"{what}'s weights are not an HDF5 file")
            config = json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise StoreError(f"{what} is damaged ({exc})") from None
    _check_config(config, what)
    return config


def _check_sizes(infos: list[zipfile.ZipInfo], what: str) -> None:
    """Declared sizes bound what zipfile will ever unpack (it stops at file_size and checks the CRC)."""
    total = sum(info.file_size for info in infos)
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > MAX_PACKING_RATIO:
            raise StoreError(
                f"{what} looks like a zip bomb: {info.filename} would unpack {info.compress_size:,} bytes "
                f"into {info.file_size:,} ({ratio:,.0f}:1)"
            )
    if total > MAX_UNPACKED_BYTES:
        raise StoreError(
            f"{what} would unpack to {total:,} bytes, more than the {MAX_UNPACKED_BYTES // 2**20} MB a model may take"
        )


def _check_config(config: Any, what: str) -> None:
    """A Sequential model of allowed layers whose every nested object is a built-in Keras class."""
    if not isinstance(config, dict):
        raise StoreError(f"{what}'s config is not a JSON object")
    if config.get("class_name") not in MODEL_CLASSES:
        raise StoreError(f"{what} holds a {_shown(config.get('class_name'))} model; only Sequential models are loaded")
    layers = _layer_configs(config)
    foreign = sorted({str(layer.get("class_name")) for layer in layers} - ALLOWED_LAYER_CLASSES)
    if foreign:
        raise StoreError(f"{what} contains layers this app does not load: {', '.join(foreign)}")
    for obj in _serialised_objects(config):
        module, name, registered = obj.get("module"), obj.get("class_name"), obj.get("registered_name")
        builtin = module in BUILTIN_MODULES
        known = name in MODEL_CLASSES or name in ALLOWED_LAYER_CLASSES or name in ALLOWED_OBJECT_CLASSES
        if not builtin or not known or registered not in (None, name):
            shown = f"{name} {obj.get('config')}" if name in ("function", "__lambda__") else (registered or name)
            origin = f" from module {_shown(module)}" if not builtin else ""
            raise StoreError(f"{what} contains objects this app does not load: {_shown(shown)}{origin}")


def _shown(value: Any) -> str:
    return str(value)[:60]


def _layer_configs(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every layer entry, nested Sequential models included."""
    found: list[dict[str, Any]] = []
    inner = config.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        for layer in inner["layers"]:
            if isinstance(layer, dict):
                found.append(layer)
                found += _layer_configs(layer)
            else:
                found.append({"class_name": _shown(layer)})
    return found


def _serialised_objects(value: Any) -> list[dict[str, Any]]:
    """Every dict that Keras would deserialise as an object (it has a class_name, module or registered_name).

    compile_config is skipped: loading passes compile=False, and Keras then discards it unread.
    """
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if {"class_name", "module", "registered_name"} & set(value):
            found.append(value)
        for key, item in value.items():
            if key != "compile_config":
                found += _serialised_objects(item)
    elif isinstance(value, list):
        for item in value:
            found += _serialised_objects(item)
    return found


def inspect_model_file(path: Path) -> str | None:
    """Cheap checks without running anything: the reason a .keras file is unusable, or None."""
    try:
        check_archive(path)
    except StoreError as exc:
        return str(exc)
    return None


_inspect_cache: dict[tuple, str | None] = {}
_inspect_lock = threading.Lock()


def _cached_inspect(path: Path) -> str | None:
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return "model file is missing"
    with _inspect_lock:
        if key not in _inspect_cache:
            _inspect_cache[key] = inspect_model_file(path)
        return _inspect_cache[key]


def _read_info(run_id: str, json_path: Path, model_path: Path, shipped: bool) -> RunInfo:
    try:
        meta = json.loads(json_path.read_text())
        if not isinstance(meta, dict):
            raise ValueError("metadata is not an object")
    except (OSError, ValueError) as exc:
        return RunInfo(id=run_id, status="damaged", shipped=shipped, error=f"metadata unreadable ({exc})")
    reason = _cached_inspect(model_path)
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
        for json_path in sorted(ASSETS_DIR.glob("*.json")):
            if RUN_ID_PATTERN.match(json_path.stem):
                runs.append(_read_info(json_path.stem, json_path, json_path.with_suffix(".keras"), True))
        runs.sort(key=lambda r: (r.id != DEFAULT_RUN_ID, r.id))
    base = home or home_dir()
    saved: list[RunInfo] = []
    if base.is_dir():
        for json_path in base.glob("*.json"):
            run_id = json_path.stem
            if json_path.name.startswith(".") or not RUN_ID_PATTERN.match(run_id):
                continue
            if (ASSETS_DIR / json_path.name).exists():
                continue  # a shipped id cannot be shadowed by a file in the store
            saved.append(_read_info(run_id, json_path, json_path.with_suffix(".keras"), False))
    saved.sort(key=lambda r: (r.created or "", r.id), reverse=True)
    if actor is not None:
        saved = [r for r in saved if people.may_see(actor, r.metadata.owner)]
    return runs + saved


def get_run(run_id: str, home: Path | None = None, actor: people.Actor | None = None) -> RunInfo:
    """One run's info; StoreError if it does not exist, or (given an actor) that actor may not see it: a run
    someone may not see is answered as one that does not exist, so its id tells nothing."""
    model_path, json_path, shipped = _paths(run_id, home)
    if not json_path.is_file():
        raise StoreError(f"no saved run with id {run_id!r}")
    info = _read_info(run_id, json_path, model_path, shipped)
    if actor is not None and not people.may_see(actor, info.metadata.owner, shipped):
        raise StoreError(f"no saved run with id {run_id!r}")
    return info


def load_model(run_id: str, home: Path | None = None) -> Any:
    """Load a run's model with Keras' safe mode on, after the cheap checks; StoreError with the reason if not."""
    info = get_run(run_id, home)
    if not info.usable:
        raise StoreError(f"run {run_id} is damaged: {info.error}")
    model_path, _, _ = _paths(run_id, home)
    from fmnist_core._tf import quiet_import_tensorflow

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
    model_path, json_path, _ = _paths(run_id, home)
    if not json_path.is_file() or not model_path.is_file():
        raise StoreError(f"no saved run with id {run_id!r}")
    return model_path


def history_csv(info: RunInfo) -> str:
    """A run's per-epoch history as CSV text."""
    columns = ["epoch", "loss", "accuracy", "test_loss", "test_accuracy", "seconds", "complete"]
    rows = [",".join(columns)]
    for row in info.metadata.history:
        rows.append(",".join("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return "\n".join(rows) + "\n"


def delete_run(run_id: str, home: Path | None = None, *, actor: people.Actor) -> None:
    """Remove a saved run (JSON first, so it leaves the list at once) if the actor may (people.check_delete:
    its owner, a teacher, or no sign-in); StoreError with one sentence otherwise. Shipped models are refused."""
    model_path, json_path, shipped = _paths(run_id, home)
    if shipped:
        raise StoreError(f"{run_id} is a shipped model and cannot be deleted")
    if not json_path.exists() and not model_path.exists():
        raise StoreError(f"no saved run with id {run_id!r}")
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
    from fmnist_core import run_cache  # imports this module

    run_cache.forget(run_id, home)


def _owner_of(json_path: Path) -> str | None:
    """The owner recorded in a run's JSON (None when there is none or the JSON cannot be read)."""
    try:
        raw = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return None
    return _text(raw.get("owner")) if isinstance(raw, dict) else None


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
    model_path, _, _ = _paths(run_id, home)
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
    _, json_path, shipped = _paths(run_id, home)
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


# --- importing a model made elsewhere ------------------------------------------------------------------------
MAX_IMPORT_BYTES = 50 * 1024 * 1024
INPUT_SCALING = "pixels / 255 (0..1), assumed: an imported file does not say how it was trained"


@dataclass(frozen=True)
class ImportResult:
    """What importing gave: the run's id and info (with its accuracy) and what was adapted, in sentences."""

    run_id: str
    info: RunInfo
    notes: tuple[str, ...]


def import_model(
    source: Path | str | bytes,
    name: str | None = None,
    home: Path | None = None,
    data_dir: str | os.PathLike | None = None,
    file_name: str | None = None,
    *,
    actor: people.Actor,
) -> str:
    """Check, load (safe mode), evaluate on the 10,000 test images and store a .keras model; returns its run id.

    Every check that can be made on the bytes comes before Keras deserialises anything (check_archive); no
    code from the file ever runs. A model must take 28x28 or 28x28x1 images and give 10 outputs; 28x28 models
    get a reshape in front, models ending in logits get a softmax, so every page sees (28, 28, 1) -> 10
    probabilities. StoreError (or data.DataError without the test set) says why in one sentence. The actor
    becomes the run's owner; a signed-in person past FMNIST_RUNS_PER_USER is refused before anything is read.
    """
    return import_model_details(source, name, home, data_dir, file_name, actor=actor).run_id


def import_model_details(
    source: Path | str | bytes,
    name: str | None = None,
    home: Path | None = None,
    data_dir: str | os.PathLike | None = None,
    file_name: str | None = None,
    *,
    actor: people.Actor,
) -> ImportResult:
    """import_model, returning the stored run's info and the adaptations made (for the UI and CLI)."""
    base = home or home_dir()
    if actor.signed_in:
        owned = people.owned_by((r.metadata.owner for r in list_runs(base, include_shipped=False)), actor)
        try:
            people.check_new_run(actor, owned)
        except people.LimitReached as exc:
            raise StoreError(str(exc)) from None
    raw, shown = _read_import(source, file_name)
    run_id = validate_run_id(name) if name else new_run_id("imported")
    if (ASSETS_DIR / f"{run_id}.json").exists() or (base / f"{run_id}.json").exists():
        raise StoreError(f"a run with id {run_id} exists already; choose another name")
    check_archive(raw, what=shown)
    model, notes = _load_imported(raw, shown)

    from fmnist_core import data
    from fmnist_core.inference import evaluate
    from fmnist_core.model import summary_rows, total_params

    test = data.load_test_set(data_dir)
    try:
        result = evaluate(model, test.images, test.labels)
    except Exception as exc:  # a model that loads but cannot run on 28x28 images
        raise StoreError(f"{shown} could not be evaluated: {str(exc).splitlines()[0][:200]}") from None
    metadata = RunMetadata(
        status="imported",
        test_loss=result.loss,
        test_accuracy=result.accuracy,
        params=total_params(model),
        summary=[asdict(row) for row in summary_rows(model)],
        input_scaling=INPUT_SCALING,
        imported_from=shown,
        data_fingerprint=_fingerprint(data_dir),
        notes=list(notes),
        owner=actor.id,
    )
    save_run(model, metadata, run_id=run_id, home=base)
    return ImportResult(run_id=run_id, info=get_run(run_id, base), notes=notes)


def _read_import(source: Path | str | bytes, file_name: str | None) -> tuple[bytes, str]:
    """The file's bytes, refused by name or size before anything reads them whole."""
    if isinstance(source, bytes | bytearray):
        shown = file_name or "the uploaded file"
        if file_name and not file_name.lower().endswith(".keras"):
            raise StoreError(f"{shown} is not a .keras file; save the model with model.save('name.keras')")
        if len(source) > MAX_IMPORT_BYTES:
            raise StoreError(f"{shown} is {len(source) / 2**20:.1f} MB; models of up to 50 MB can be imported")
        return bytes(source), shown
    path = Path(source)
    shown = file_name or path.name
    if path.suffix.lower() != ".keras":
        raise StoreError(f"{shown} is not a .keras file; save the model with model.save('name.keras')")
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise StoreError(f"{shown} is {size / 2**20:.1f} MB; models of up to 50 MB can be imported")
        return path.read_bytes(), shown
    except OSError as exc:
        raise StoreError(f"cannot read {shown}: {exc.strerror or exc}") from None


def _load_imported(raw: bytes, shown: str) -> tuple[Any, tuple[str, ...]]:
    """Load checked bytes with safe_mode and adapt the model to what the pages expect."""
    from fmnist_core._tf import quiet_import_tensorflow

    quiet_import_tensorflow()
    import keras

    from fmnist_core.model import as_float32

    with tempfile.TemporaryDirectory(prefix="fmnist-import-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(raw)
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for bad files; all mean "this file is unusable"
            raise StoreError(f"{shown} could not be loaded: {str(exc).splitlines()[0][:200]}") from None
    in_shape = tuple(model.inputs[0].shape[1:]) if model.inputs else None
    out_shape = tuple(model.outputs[0].shape[1:]) if model.outputs else None
    if in_shape not in ((28, 28), (28, 28, 1)):
        raise StoreError(f"{shown} takes input of shape {in_shape}; it must take 28x28 grayscale images")
    if out_shape != (10,):
        raise StoreError(f"{shown} gives outputs of shape {out_shape}; it must give 10 (one per class)")
    _check_spatial_order(model, shown)
    model = as_float32(model)
    notes: list[str] = []
    layers = list(model.layers)
    inserted: set[str] = set()
    if in_shape == (28, 28) and type(layers[0]).__name__ != "Flatten":
        layers.insert(0, keras.layers.Reshape((28, 28), name=_free_name(layers, "to_28x28")))
        inserted.add(layers[0].name)
        notes.append("The model takes 28x28 images; a reshape from 28x28x1 was put in front.")
    elif in_shape == (28, 28):
        notes.append("The model takes 28x28 images; its Flatten layer takes 28x28x1 the same way.")
    if not _ends_in_softmax(layers[-1]):
        layers.append(keras.layers.Softmax(name=_free_name(layers, "softmax")))
        inserted.add(layers[-1].name)
        notes.append("The model's last layer has no softmax; one was added so outputs are probabilities.")
    if inserted or in_shape != (28, 28, 1):
        # The same (trained) layer objects behind a (28, 28, 1) input: weights are shared, not copied.
        model = keras.Sequential([keras.Input((28, 28, 1), name="input"), *layers], name=model.name)
    model, renamed = _with_default_names(model)
    renamed = [(old, new) for old, new in renamed if old not in inserted]  # the note is about the file's layers
    if renamed:
        shown = ", ".join(f"{old} → {new}" for old, new in renamed[:4]) + (", ..." if len(renamed) > 4 else "")
        notes.append(f"Layers were given Keras' default names, as this app's own models have ({shown}).")
    return model, tuple(notes)


SPATIAL_CLASSES = {"Conv2D", "MaxPooling2D", "AveragePooling2D"}


def _check_spatial_order(model: Any, shown: str) -> None:
    """Refuse conv or pool layers after the maps were flattened: pages explain them by their image position."""
    flat_at = None
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in SPATIAL_CLASSES and flat_at is not None:
            raise StoreError(
                f"{shown} has a {kind} layer ({layer.name}) after its {flat_at} layer; this app shows conv and "
                "pool layers only where they work on the image, before it is flattened"
            )
        if flat_at is None and len(layer.output.shape) == 2:
            flat_at = layer.name


def _snake_case(class_name: str) -> str:
    """Keras' default layer name for a class: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _with_default_names(model: Any) -> tuple[Any, list[tuple[str, str]]]:
    """The model with layers named as Keras names them in a fresh process (conv2d, conv2d_1, ...), so pages
    and links that look layers up by name (the first conv is "conv2d") work; returns (model, renames)."""
    config = model.get_config()
    counts: dict[str, int] = {}
    renamed: list[tuple[str, str]] = []
    for layer in config["layers"]:
        if layer.get("class_name") == "InputLayer":
            layer["config"]["name"] = "input"
            continue
        base = _snake_case(layer["class_name"])
        n = counts.get(base, 0)
        counts[base] = n + 1
        new = base if n == 0 else f"{base}_{n}"
        if layer["config"]["name"] != new:
            renamed.append((layer["config"]["name"], new))
            layer["config"]["name"] = new
    if not renamed:
        return model, []
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone, renamed


def _ends_in_softmax(layer: Any) -> bool:
    kind = type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    return kind == "Softmax" or activation == "softmax"


def _free_name(layers: list[Any], wanted: str) -> str:
    taken = {layer.name for layer in layers}
    name, n = wanted, 0
    while name in taken:
        n += 1
        name = f"{wanted}_{n}"
    return name


def _fingerprint(data_dir: str | os.PathLike | None) -> str | None:
    from fmnist_core import data

    try:
        return data.fingerprint(data_dir)
    except data.DataError:
        return None
