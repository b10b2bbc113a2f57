"""Cached loaders shared by the pages: the test set, a run's model, and what a model computes on the test set or an
uploaded image.

Models load once per process (st.cache_resource, keyed by run id and its creation time) and are read-only;
predictions and activations are cached per (run, image) with st.cache_data. Heavy imports happen inside the
functions so pages that don't need TensorFlow never import it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.analysis import run_results
from fmnist_core.data import fashion_mnist
from fmnist_core.runs import metadata, store


# --- the data -------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading Fashion-MNIST...")
def _test_set() -> fashion_mnist.Split:
    return fashion_mnist.load_test_set()


def test_set_or_message() -> fashion_mnist.Split | None:
    """The test set, or None after showing one clear message with the fix (the page keeps working)."""
    try:
        return _test_set()
    except fashion_mnist.DataError as exc:
        st.error(f"**Fashion-MNIST is not available.** {exc}")
        return None


# --- a run's model and what it computes -------------------------------------------------------------
@st.cache_resource(max_entries=6, show_spinner="Loading the model...")
def cached_model(run_id: str, created: str | None) -> Any:
    return store.load_model(run_id)


def model_or_message(info: metadata.RunInfo) -> Any | None:
    """The loaded Keras model for a run, or None after showing why it can't be loaded."""
    try:
        return cached_model(info.id, info.created)
    except store.StoreError as exc:
        st.error(f"**The model could not be loaded.** {exc}")
        return None


@st.cache_data(max_entries=6, show_spinner="Predicting all 10,000 test images...")
def test_probabilities(run_id: str, created: str | None) -> np.ndarray:
    """Probabilities for the whole test set, once per model (float32), kept on disk beside the run."""

    return run_results.test_probabilities(run_id, lambda: cached_model(run_id, created), _test_set().images)


@st.cache_data(max_entries=6, show_spinner="Looking for test images whose label may be wrong...")
def suspect_labels(run_id: str, created: str | None) -> list[Any]:
    """cleanlab's suspect test labels under this model, most suspect first, from the cached test probabilities."""
    from fmnist_core.analysis.suspect_labels import find_suspects

    return find_suspects(_test_set().labels, test_probabilities(run_id, created))


@st.cache_data(max_entries=64, show_spinner=False)
def upload_activations(run_id: str, created: str | None, digest: str, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for an uploaded image (keyed by its digest)."""
    from fmnist_core.analysis.activations import layer_outputs

    return layer_outputs(cached_model(run_id, created), image)


@st.cache_data(max_entries=64, show_spinner=False)
def upload_probabilities(run_id: str, created: str | None, digest: str, image: np.ndarray) -> np.ndarray:
    """Class probabilities for an uploaded image."""
    from fmnist_core.nets.inference import predict_proba

    return predict_proba(cached_model(run_id, created), image)[0]


@st.cache_data(max_entries=256, show_spinner=False)
def image_activations(run_id: str, created: str | None, image_index: int) -> dict[str, np.ndarray]:
    """Every layer's output for one test image, once per (model, image)."""
    from fmnist_core.analysis.activations import layer_outputs

    return layer_outputs(cached_model(run_id, created), _test_set().images[image_index])
