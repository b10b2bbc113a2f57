"""Fixtures of the page tests: an empty store with the real data, an AppTest factory, small saved runs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import settings
from fmnist_core.runs import paths, store
from helpers import timed_run_metadata
from page_helpers import APP, TIMEOUT, TRAIN_TIMEOUT, clear_caches


@pytest.fixture
def fmnist_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped_run_cache: Callable[[Path], None]
) -> Iterator[Path]:
    """An empty store in tmp_path (its shipped runs' cache shared by the session: tests/conftest.py), the real data
    set, and Streamlit's process-wide caches cleared."""
    home = tmp_path / "fmnist_home"
    home.mkdir()
    shipped_run_cache(home)
    monkeypatch.setenv("FMNIST_HOME", str(home))
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    monkeypatch.setenv(
        settings.WARM_IDLE_SECONDS, "0"
    )  # no warm workers (each imports TensorFlow) unless a test asks for them
    clear_caches()
    yield home
    clear_caches()


@pytest.fixture
def make_app(fmnist_home: Path) -> Iterator[Callable[[], AppTest]]:
    """A factory of AppTests on app.py; any training job still running at teardown is stopped."""
    made: list[AppTest] = []

    def make() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        made.append(at)
        return at

    yield make
    for at in made:
        job = at.session_state["training_job"] if "training_job" in at.session_state else None
        if job is not None and not job.finished:
            job.stop()
            job.wait(TRAIN_TIMEOUT)


@pytest.fixture(scope="module")
def tiny_run_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untrained seed CNN saved once as a run (cheap: no training); tests copy it into their store."""
    from fmnist_core.nets.keras_models import build_notebook_cnn

    folder = tmp_path_factory.mktemp("tiny_run")
    metadata = {
        "preset": "notebook",
        "architecture": "seed_cnn",
        "status": "finished",
        "test_accuracy": 0.1,
        "test_loss": 2.3,
        "history": [],
    }
    run_id = store.save_run(build_notebook_cnn(seed=1), metadata, run_id="tiny-run", home=folder)
    return {"id": run_id, "keras": folder / f"{run_id}.keras", "json": folder / f"{run_id}.json"}


@pytest.fixture
def tiny_run(tiny_run_files: dict[str, Path], fmnist_home: Path) -> str:
    """The tiny run copied into this test's store; returns its id."""
    shutil.copy2(tiny_run_files["keras"], fmnist_home)
    shutil.copy2(tiny_run_files["json"], fmnist_home)
    return str(tiny_run_files["id"])


@pytest.fixture
def timed_run(tiny_run_files: dict[str, Path], fmnist_home: Path) -> Callable[..., str]:
    """A factory of finished runs of this machine with a worker's timings (helpers.timed_run_metadata(**changes)),
    the tiny run's model file standing in for the trained one: the time estimate reads only the metadata."""

    def make(run_id: str, **changes) -> str:
        shutil.copy2(tiny_run_files["keras"], fmnist_home / f"{run_id}.keras")
        meta = {**timed_run_metadata(**changes), "id": run_id, "created": "2026-11-29T10:00:00+00:00", "version": 3}
        (fmnist_home / f"{run_id}.json").write_text(json.dumps(meta))
        return run_id

    return make


@pytest.fixture
def damaged_run(fmnist_home: Path) -> str:
    """A run whose JSON is fine but whose .keras file is garbage."""
    run_id = "broken-run"
    (fmnist_home / f"{run_id}.keras").write_bytes(b"this is not a zip archive" * 10)
    meta = {
        "id": run_id,
        "status": "finished",
        "preset": "notebook",
        "test_accuracy": 0.5,
        "created": "2026-01-01T00:00:00",
    }
    (fmnist_home / f"{run_id}.json").write_text(json.dumps(meta))
    return run_id


@pytest.fixture
def no_data(fmnist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "no_data"
    empty.mkdir()
    monkeypatch.setenv("FMNIST_DATA_DIR", str(empty))
    return empty


@pytest.fixture(scope="session")
def trained_run_files(tiny_trained: Callable[[str], Path]) -> list[str]:
    """Two real tiny trainings (fast, then improved: 600 images, 2 epochs each), trained once for the session
    (tests/conftest.py: tiny_trained); their paths without the suffix."""
    return [str(tiny_trained(run_id) / run_id) for run_id in ("tiny-fast", "tiny-improved")]


@pytest.fixture
def trained_runs(trained_run_files: list[str], fmnist_home: Path) -> list[str]:
    """The two tiny trained runs copied into this test's store; returns their ids (fast's first)."""
    for stem in trained_run_files:
        for suffix in (".keras", ".json"):
            shutil.copy2(stem + suffix, fmnist_home)
    return [Path(stem).name for stem in trained_run_files]


@pytest.fixture(scope="session")
def default_predictions() -> tuple:
    """(predicted, actual) for the 10,000 test images under the shipped default model, computed outside the app."""
    from fmnist_core.data import fashion_mnist
    from fmnist_core.nets.inference import predict_proba

    test = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR)
    predicted = predict_proba(store.load_model(paths.DEFAULT_RUN_ID), test.images).argmax(axis=1)
    return predicted, test.labels.astype(int)
