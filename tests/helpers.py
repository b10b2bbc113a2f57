"""Test helpers shared by the test modules: where the real data is, a writer of small (optionally broken) IDX
sets, the Python that runs `python -m fmnist_core` children, and their environment."""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

REAL_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
HAS_REAL_DATA = all((REAL_DATA_DIR / name).is_file() for name in IDX_FILES.values())
requires_real_data = pytest.mark.skipif(
    not HAS_REAL_DATA,
    reason=f"real Fashion-MNIST not found in {REAL_DATA_DIR} (apt-get install dataset-fashion-mnist)",
)
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))

# Ways write_idx_set can break one file.
CORRUPTIONS = ("truncated_gzip", "not_gzip", "empty", "bad_magic", "size_27", "short_body", "label_10")


def idx_images_bytes(images: np.ndarray, magic: int = 2051) -> bytes:
    """Raw (not gzipped) IDX3: big-endian magic, count, rows, cols, then the pixels."""
    n, rows, cols = images.shape
    return struct.pack(">IIII", magic, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels_bytes(labels: np.ndarray, magic: int = 2049) -> bytes:
    """Raw (not gzipped) IDX1: big-endian magic, count, then one byte per label."""
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


@dataclass
class IdxSet:
    """What write_idx_set wrote: the folder, each file's path, and the arrays in them."""

    folder: Path
    paths: dict[str, Path]
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _broken(kind: str, key: str, images: np.ndarray, labels: np.ndarray) -> bytes:
    """The file's bytes as written to disk (gzipped unless the corruption says otherwise)."""
    is_images = key.endswith("images")
    good = idx_images_bytes(images) if is_images else idx_labels_bytes(labels)
    if kind == "truncated_gzip":
        packed = gzip.compress(good)
        return packed[: len(packed) // 2]
    if kind == "not_gzip":
        return np.random.default_rng(7).integers(0, 256, 300, dtype=np.uint8).tobytes()
    if kind == "empty":
        return b""
    if kind == "bad_magic":  # the other file type's magic: a label file where images belong and vice versa
        raw = idx_images_bytes(images, magic=2049) if is_images else idx_labels_bytes(labels, magic=2051)
    elif kind == "size_27":
        raw = idx_images_bytes(np.zeros((len(images), 27, 27), np.uint8)) if is_images else good
    elif kind == "short_body":
        raw = good[:-5]
    elif kind == "label_10":
        bad = labels.copy()
        bad[-1] = 10
        raw = good if is_images else idx_labels_bytes(bad)
    else:
        raise ValueError(f"unknown corruption {kind!r}; one of {CORRUPTIONS}")
    return gzip.compress(raw)


def write_idx_set(
    folder: Path,
    n_train: int = 12,
    n_test: int = 6,
    corrupt: dict[str, str] | None = None,
    seed: int = 0,
) -> IdxSet:
    """Write the four Fashion-MNIST .gz files with seeded random content; `corrupt` maps a file key
    ("train_images", "test_labels", ...) to one of CORRUPTIONS."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    corrupt = corrupt or {}
    paths = {}
    for key, name in IDX_FILES.items():
        split = key.split("_")[0]
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if key in corrupt:
            payload = _broken(corrupt[key], key, images, labels)
        else:
            payload = gzip.compress(idx_images_bytes(images) if key.endswith("images") else idx_labels_bytes(labels))
        paths[key] = folder / name
        paths[key].write_bytes(payload)
    return IdxSet(folder=folder, paths=paths, **arrays)


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for `python -m fmnist_core` children: our store, the repo importable, TF log level unset."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "FMNIST_DATA_DIR")}
    env.update(FMNIST_HOME=str(home), PYTHONPATH=str(REPO_ROOT), **extra)
    return env


# A custom network heavy in batch norm and wide early maps, so slower than its FLOPs say (the custom network
# ran at 268 images/s while the editor promised ~19 s per epoch).
WIDE_NETWORK = {
    "conv": [{"filters": 96, "kernel": 5, "padding": "same", "batch_norm": True, "pool": "max"}],
    "dense": [64],
}


def timed_run_metadata(
    preset: str = "fast",
    epochs: int = 2,
    images: int = 6_000,
    batch_size: int | None = None,
    arch: dict | None = None,
    per_image: float = 0.002,
    evaluation: tuple[float, ...] = (8.0, 5.0),
    start: float = 2.0,
    tensorflow: float = 36.0,
    data_seconds: float = 3.0,
    build: float = 2.0,
    first_batch: float = 18.0,
    final_evaluation: float = 4.0,
    other: float = 5.0,
    status: str = "finished",
    node: str | None = None,
    executor: str = "local-process",
) -> dict:
    """A run's metadata with the timings a worker records, consistent with each other: epochs of `images` at
    `per_image` seconds (the fit's first report takes `first_batch` instead), `evaluation` seconds per epoch
    (the last value repeats), and a total from launch to result. The defaults are the issue's training: fast,
    6,000 images x 2 epochs, 36 s loading TensorFlow, 18 s for the first batch, 105 s in all."""
    import socket

    from fmnist_core.nets.presets import PRESETS

    batch_size = batch_size or PRESETS[preset].batch_size
    chunk = min(images, batch_size * PRESETS[preset].steps_per_execution)  # the first report's images
    history, elapsed = [], 0.0
    for epoch in range(1, epochs + 1):
        train = first_batch + (images - chunk) * per_image if epoch == 1 else images * per_image
        seconds = train + evaluation[min(epoch, len(evaluation)) - 1]
        elapsed += seconds
        history.append(
            {
                "epoch": epoch,
                "loss": 0.5,
                "accuracy": 0.8,
                "test_loss": 0.4,
                "test_accuracy": 0.85,
                "seconds": seconds,
                "train_seconds": train,
                "elapsed": elapsed,
                "batches": -(-images // batch_size),
                "complete": True,
            }
        )
    steady_images = epochs * images - chunk
    timings = {
        "start_seconds": start,
        "tensorflow_seconds": tensorflow,
        "data_seconds": data_seconds,
        "build_seconds": build,
        "first_batch_seconds": first_batch,
        "steady_train_seconds": steady_images * per_image,
        "steady_train_images": steady_images,
        "final_evaluation_seconds": final_evaluation,
    }
    # Launch to result: start-up, the fit (its epochs hold the first batch, training and evaluations), the rest.
    timings["total_seconds"] = start + tensorflow + data_seconds + build + elapsed + final_evaluation + other
    return {
        "preset": preset,
        "architecture": PRESETS[preset].architecture,
        "arch": arch,
        "settings": {"preset": preset, "epochs": epochs, "batch_size": batch_size, "limit": images, "seed": 1},
        "status": status,
        "history": history,
        "test_accuracy": 0.85,
        "test_loss": 0.4,
        "train_images": images,
        "seconds": elapsed,
        "executor": executor,
        "node": socket.gethostname() if node is None else node,
        "timings": timings,
    }


def poll(condition: Callable[[], bool], what: str, timeout: float, interval: float = 0.02) -> None:
    """Wait until `condition()` is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(interval)


def session_shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every pytest-xdist process of this session sees (under the controller's basetemp, the parent of
    each process's own), so work done once for the whole run lands there; without xdist, under our basetemp."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / name
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if absent): the other xdist process waits instead of doing the
    same work at the same time."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def preparing_runs() -> Iterator[None]:
    """Trainings started inside keep what their pages read first, as a real server's do (the suite turns that off
    elsewhere: tests/conftest.py)."""
    from fmnist_core import settings

    before = os.environ.get(settings.PREPARE_RUNS)
    os.environ[settings.PREPARE_RUNS] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(settings.PREPARE_RUNS, None)
        else:
            os.environ[settings.PREPARE_RUNS] = before
