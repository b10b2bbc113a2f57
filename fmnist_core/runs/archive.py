"""Is a .keras file safe to open? Every check that can be made on its bytes, before Keras reads anything.

The archive's entries, sizes and packing ratio (zip bombs), and a config whose every layer and nested object is a
Keras built-in from its public modules: no Lambda, no functions, no custom or registered classes. So no code from
a file a person brings ever runs.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

from fmnist_core.errors import StoreError

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


def cached_inspect(path: Path) -> str | None:
    """inspect_model_file, remembered per (path, size, modification time): listing runs reads no archive twice."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return "model file is missing"
    with _inspect_lock:
        if key not in _inspect_cache:
            _inspect_cache[key] = inspect_model_file(path)
        return _inspect_cache[key]
