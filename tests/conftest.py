"""Fixtures shared by the test modules; plain helpers live in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import HAS_REAL_DATA, REAL_DATA_DIR


@pytest.fixture
def store_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty saved-run store: FMNIST_HOME points at it for this test."""
    home = tmp_path / "fmnist_home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def test_set():
    """The real 10,000 test images (Debian's copy); skipped where it is not installed."""
    from fmnist_core import data

    if not HAS_REAL_DATA:
        pytest.skip(f"real Fashion-MNIST not found in {REAL_DATA_DIR}")
    return data.load_test_set(REAL_DATA_DIR)


@pytest.fixture(scope="session")
def model():
    """The shipped default model (a module may define its own `model` fixture instead)."""
    from fmnist_core import store

    if not (store.ASSETS_DIR / "default.keras").exists():
        pytest.skip("the shipped default model is not there")
    return store.load_model(store.DEFAULT_RUN_ID)
