"""The Embedding page's data: the test set's last-hidden-layer features projected to 2-D, once per (model, method)."""

from __future__ import annotations

from typing import Any

from fmnist_core.analysis import run_results
from ui.loaders import cached_model, test_set_or_message


def embedding(run_id: str, created: str | None, method: str, progress: Any = None) -> Any:
    """The test set's last-hidden-layer features projected by `method`, once per (model, method).

    Kept on disk beside the run (fmnist_core.runs.cache, read back at once), not in st.cache_data:
    `progress(fraction, text)` draws a progress bar, and Streamlit refuses a cached function that draws into a
    container from outside it (CacheReplayClosureError).
    """

    test = test_set_or_message()
    model = lambda: cached_model(run_id, created)  # noqa: E731 - loaded only when not kept on disk
    return run_results.embedding(run_id, model, test.images, method, seed=0, progress=progress)
