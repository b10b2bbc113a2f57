"""The Embedding page's data: the test set's last-hidden-layer features projected to 2-D, once per (model, method),
with a progress bar while t-SNE runs."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.analysis import run_results
from fmnist_core.analysis.embedding import TSNE
from fmnist_core.runs import metadata
from ui.loaders import cached_model, test_set_or_message


def projection(info: metadata.RunInfo, method: str) -> Any:
    """The projection for the active run: t-SNE with a progress bar (its first time per model takes seconds), PCA
    under a spinner."""
    if method == TSNE:
        bar = st.empty()

        def show(fraction: float, text: str) -> None:
            bar.progress(fraction, text=f"t-SNE of 10,000 images, once per model: {text}")

        result = embedding(info.id, info.created, method, progress=show)
        bar.empty()
        return result
    with st.spinner("Projecting..."):
        return embedding(info.id, info.created, method)


def embedding(run_id: str, created: str | None, method: str, progress: Any = None) -> Any:
    """The test set's last-hidden-layer features projected by `method`, once per (model, method).

    Kept on disk beside the run (fmnist_core.runs.cache, read back at once), not in st.cache_data:
    `progress(fraction, text)` draws a progress bar, and Streamlit refuses a cached function that draws into a
    container from outside it (CacheReplayClosureError).
    """

    test = test_set_or_message()
    model = lambda: cached_model(run_id, created)  # noqa: E731 - loaded only when not kept on disk
    return run_results.embedding(run_id, model, test.images, method, seed=0, progress=progress)
