"""Find, verify and load Fashion-MNIST from its four original IDX .gz files.

Parsing IDX ourselves (gzip + numpy) lets us check every header and name the broken file, and
means the app works offline from Debian's `dataset-fashion-mnist` package.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fmnist_core import settings

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
EXPECTED_COUNT = {"train": 60_000, "test": 10_000}
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_CACHE_DIR = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "datasets" / "fashion-mnist"
FIX_HINT = (
    "Install the data with `apt-get install dataset-fashion-mnist` "
    "or point FMNIST_DATA_DIR at a folder holding the four IDX .gz files."
)


class DataError(RuntimeError):
    """The data set is missing or damaged; the message names the file and the fix."""


@dataclass(frozen=True)
class Split:
    """One split: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _has_all_files(directory: Path) -> bool:
    return all((directory / name).is_file() for name in FILES.values())


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where we look, in order: explicit dir, FMNIST_DATA_DIR, Keras' cache, Debian's package."""
    dirs: list[Path] = []
    if data_dir:
        dirs.append(Path(data_dir))
    elif settings.data_dir():
        dirs.append(Path(settings.data_dir()))
    dirs += [KERAS_CACHE_DIR, DEBIAN_DIR]
    return dirs


def find_data_dir(data_dir: str | os.PathLike | None = None, download: bool = False) -> Path:
    """Return the first folder holding all four files; an explicit folder is never silently skipped."""
    explicit = data_dir or settings.data_dir()
    if explicit:
        path = Path(explicit)
        missing = [name for name in FILES.values() if not (path / name).is_file()]
        if missing:
            raise DataError(f"Fashion-MNIST file {path / missing[0]} is missing. {FIX_HINT}")
        return path
    for directory in candidate_dirs():
        if _has_all_files(directory):
            return directory
    if download:
        return _download_with_keras()
    looked = ", ".join(str(d) for d in candidate_dirs())
    raise DataError(f"Fashion-MNIST was not found (looked in {looked}). {FIX_HINT}")


def _download_with_keras() -> Path:
    """Last resort for users with internet: Keras' downloader fills ~/.keras/datasets/fashion-mnist."""
    try:
        import keras

        keras.datasets.fashion_mnist.load_data()
    except Exception as exc:  # any network or import failure becomes one clear message
        raise DataError(f"Fashion-MNIST was not found and Keras could not download it ({exc}). {FIX_HINT}") from exc
    if not _has_all_files(KERAS_CACHE_DIR):
        raise DataError(f"Keras' download did not leave the files in {KERAS_CACHE_DIR}. {FIX_HINT}")
    return KERAS_CACHE_DIR


def _read_gz(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError as exc:
        raise DataError(f"Fashion-MNIST file {path} is missing. {FIX_HINT}") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"Fashion-MNIST file {path} is damaged or truncated ({exc}). {FIX_HINT}") from exc


def parse_idx_images(path: Path, expected: int | None = None) -> np.ndarray:
    """Decode an IDX3 image file into uint8 (N, 28, 28), checking magic, count and size."""
    raw = _read_gz(path)
    if len(raw) < 16:
        raise DataError(f"Fashion-MNIST file {path} is too short to be an IDX image file. {FIX_HINT}")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IMAGE_MAGIC:
        raise DataError(f"Fashion-MNIST file {path} has magic number {magic}, not {IMAGE_MAGIC} (images). {FIX_HINT}")
    if (rows, cols) != (28, 28):
        raise DataError(f"Fashion-MNIST file {path} holds {rows}x{cols} images, not 28x28. {FIX_HINT}")
    if expected is not None and count != expected:
        raise DataError(f"Fashion-MNIST file {path} holds {count} images, not {expected}. {FIX_HINT}")
    body = raw[16:]
    if len(body) != count * rows * cols:
        raise DataError(
            f"Fashion-MNIST file {path} is truncated: {len(body)} bytes of pixels, "
            f"expected {count * rows * cols}. {FIX_HINT}"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(count, rows, cols)


def parse_idx_labels(path: Path, expected: int | None = None) -> np.ndarray:
    """Decode an IDX1 label file into uint8 (N,), checking magic, count and the 0..9 range."""
    raw = _read_gz(path)
    if len(raw) < 8:
        raise DataError(f"Fashion-MNIST file {path} is too short to be an IDX label file. {FIX_HINT}")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != LABEL_MAGIC:
        raise DataError(f"Fashion-MNIST file {path} has magic number {magic}, not {LABEL_MAGIC} (labels). {FIX_HINT}")
    if expected is not None and count != expected:
        raise DataError(f"Fashion-MNIST file {path} holds {count} labels, not {expected}. {FIX_HINT}")
    body = raw[8:]
    if len(body) != count:
        raise DataError(f"Fashion-MNIST file {path} is truncated: {len(body)} labels, expected {count}. {FIX_HINT}")
    labels = np.frombuffer(body, dtype=np.uint8)
    if labels.size and labels.max() > 9:
        raise DataError(f"Fashion-MNIST file {path} has label {int(labels.max())}, outside 0..9. {FIX_HINT}")
    return labels


_cache: dict[tuple, Split] = {}
_cache_lock = threading.Lock()


def _file_key(path: Path) -> tuple:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def load_split(split: str, data_dir: str | os.PathLike | None = None, download: bool = False) -> Split:
    """Load 'train' or 'test' (decoded once per process; keyed by path, size and mtime so edits are seen)."""
    if split not in EXPECTED_COUNT:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    directory = find_data_dir(data_dir, download=download)
    image_path = directory / FILES[f"{split}_images"]
    label_path = directory / FILES[f"{split}_labels"]
    key = (split, _file_key(image_path), _file_key(label_path))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    images = parse_idx_images(image_path, EXPECTED_COUNT[split])
    labels = parse_idx_labels(label_path, EXPECTED_COUNT[split])
    result = Split(images=images, labels=labels)
    with _cache_lock:
        _cache[key] = result
    return result


def load_test_set(data_dir: str | os.PathLike | None = None) -> Split:
    """The 10,000 test images and labels."""
    return load_split("test", data_dir)


def load_train_set(data_dir: str | os.PathLike | None = None) -> Split:
    """The 60,000 training images and labels."""
    return load_split("train", data_dir)


def scale(images: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """uint8 (N, 28, 28) -> (N, 28, 28, 1) in [0, 1], as the notebook's /255 and reshape."""
    return (images.astype(dtype) / 255.0).reshape(-1, 28, 28, 1)


def fingerprint(data_dir: str | os.PathLike | None = None) -> str:
    """A short sha256 over the four files, recorded with each run so results can be traced to their data."""
    directory = find_data_dir(data_dir)
    digest = hashlib.sha256()
    for name in sorted(FILES.values()):
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:16]


def samples_per_class(split: Split, per_class: int = 1) -> dict[int, list[int]]:
    """Indices of the first `per_class` images of each class, for the home page's sample grid."""
    return {c: [int(i) for i in np.flatnonzero(split.labels == c)[:per_class]] for c in range(len(CLASS_NAMES))}
