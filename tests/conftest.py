"""Fixtures shared by the test modules; plain helpers live in helpers.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fmnist_core import settings
from fmnist_core.runs import paths
from helpers import HAS_REAL_DATA, REAL_DATA_DIR, locked, session_shared_dir

# Tiny real trainings that tests only read (the Model page's comparison, a browser test's confusion-cell click):
# run id -> its TrainConfig. Each is trained once per test session, by whichever xdist process asks first.
TINY_TRAININGS = {
    "tiny-fast": {"preset": "fast", "epochs": 2, "limit": 600, "seed": 3},
    "tiny-improved": {"preset": "improved", "epochs": 2, "limit": 600, "seed": 3},
}
TINY_TRAIN_TIMEOUT = 240  # seconds for one of them to train on a busy 2-core machine


def pytest_configure(config: pytest.Config) -> None:
    """Trainings in tests do not prepare their runs' pages (a few CPU-seconds each, every training of the suite):
    the tests about that preparation turn it on (helpers.preparing_runs), and so do the benchmarks."""
    os.environ.setdefault(settings.PREPARE_RUNS, "0")


@pytest.fixture
def store_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty saved-run store: FMNIST_HOME points at it for this test."""
    home = tmp_path / "fmnist_home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def test_set():
    """The real 10,000 test images (Debian's copy); skipped where it is not installed."""
    from fmnist_core.data import fashion_mnist

    if not HAS_REAL_DATA:
        pytest.skip(f"real Fashion-MNIST not found in {REAL_DATA_DIR}")
    return fashion_mnist.load_test_set(REAL_DATA_DIR)


@pytest.fixture(scope="session")
def model():
    """The shipped default model (a module may define its own `model` fixture instead)."""
    from fmnist_core.runs import store

    if not (paths.ASSETS_DIR / "default.keras").exists():
        pytest.skip("the shipped default model is not there")
    return store.load_model(paths.DEFAULT_RUN_ID)


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A function from a TINY_TRAININGS run id to a folder holding that run as its worker left it (.keras, .json,
    run cache). Each is a real training, done once for the whole session (a worker costs about 25 CPU-seconds,
    and several test modules only read the result); a test copies the files into its own store, never uses the
    folder as one."""
    from fmnist_core import people
    from fmnist_core.nets.presets import TrainConfig
    from fmnist_core.training.jobs import TrainingJob

    shared = session_shared_dir(tmp_path_factory, "tiny_trained")

    def get(run_id: str) -> Path:
        home, done = shared / run_id, shared / f"{run_id}.done"
        with locked(shared / f"{run_id}.lock"):
            if not done.exists():
                shutil.rmtree(home, ignore_errors=True)  # what a failed attempt left
                home.mkdir()
                job = TrainingJob(TrainConfig(**TINY_TRAININGS[run_id]), home=home, run_id=run_id, actor=people.LOCAL)
                job.start().wait(TINY_TRAIN_TIMEOUT)
                assert job.snapshot().run_id == run_id, job.snapshot().error
                done.touch()
        return home

    return get


@pytest.fixture(scope="session")
def shipped_run_cache(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], None]:
    """A function that links a fresh store's run cache of each shipped run (.runcache/default, ...) to one folder
    per shipped run shared by the whole session (every xdist process).

    The shipped models never change, and what is kept for them (test-set probabilities, channel maxima,
    embeddings) depends only on the model file and the test set, so a result one test's page computed is the
    one every later test's page would compute again: 1.5 CPU-seconds for the default model's probabilities, tens
    for the improved model's channel maxima. Files are written atomically (fmnist_core.runs.cache.save), so two processes may
    race to write one. Only for stores read with the real test set: what is kept is not keyed by the images. Not
    for a test whose point is that a page computes one of them, nor for the browser tests' servers (one guards
    a bug that only showed while a real server computed a t-SNE map).
    """
    shared = session_shared_dir(tmp_path_factory, "shipped_run_cache")

    def link(home: Path) -> None:
        folder = home / paths.CACHE_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for json_path in sorted(paths.ASSETS_DIR.glob("*.json")):
            target = shared / json_path.stem
            target.mkdir(exist_ok=True)
            (folder / json_path.stem).symlink_to(target, target_is_directory=True)

    return link
