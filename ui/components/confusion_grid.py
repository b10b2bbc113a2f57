"""The confusion matrix as a table drawn by our own script (confusion_grid.js, a Streamlit v2 component): counts in
cells coloured by their share of the largest, each cell a button that reports (actual, predicted)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.components.scripts import component_script
from ui.figures.layout import scale_colours

_CSS = """
.fm-cm { font-size: 0.8rem; }
.fm-cm-title { font-weight: 600; font-size: 1rem; margin-bottom: 0.25rem; }
.fm-cm-axis { opacity: 0.8; }
.fm-cm-predicted { text-align: center; padding-left: 5rem; }
.fm-cm-frame { display: flex; align-items: center; gap: 0.25rem; overflow-x: auto; }
.fm-cm-actual { writing-mode: vertical-rl; transform: rotate(180deg); }
.fm-cm-table { border-collapse: collapse; }
.fm-cm-col { vertical-align: bottom; padding: 0 0 0.3rem; font-weight: 400; }
.fm-cm-col span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
.fm-cm-row { text-align: right; padding-right: 0.4rem; font-weight: 400; white-space: nowrap; }
.fm-cm-cell { width: 2.6rem; height: 2.3rem; text-align: center; cursor: pointer; font-variant-numeric: tabular-nums;
  border: 1px solid rgba(128, 128, 128, 0.25); }
.fm-cm-cell:hover, .fm-cm-cell:focus { outline: 2px solid #ff4b4b; outline-offset: -2px; }
"""


@st.cache_resource
def _component() -> Any:
    """Register the component once per server."""
    return st.components.v2.component(
        "fmnist_confusion_matrix", js=component_script("confusion_grid.js"), css=_CSS, isolate_styles=False
    )


def grid_data(matrix: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """What the table shows: counts, each cell's fill (Blues, by its share of the largest count) and a text colour
    that reads on it."""
    counts = np.asarray(matrix, dtype=int)
    if counts.ndim != 2 or counts.shape != (len(class_names), len(class_names)):
        raise ValueError(f"expected a {len(class_names)}x{len(class_names)} matrix, got shape {counts.shape}")
    level = counts / max(int(counts.max()), 1)
    fill = scale_colours("Blues", level)
    return {
        "title": "Confusion matrix",
        "names": list(class_names),
        "z": counts.tolist(),
        "fill": np.asarray(fill, dtype=object).reshape(counts.shape).tolist(),
        "ink": np.where(level > 0.55, "#ffffff", "#0b1f3a").tolist(),
    }


def clicked_cell(value: Any, size: int) -> tuple[int, int] | None:
    """(actual, predicted) from the browser's trigger value, checked; None for anything else."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < size for v in value):
        return None
    return int(value[0]), int(value[1])


def confusion_grid(matrix: np.ndarray, key: str) -> tuple[int, int] | None:
    """Draw the matrix; return (actual, predicted) of the cell just clicked, else None."""
    result = _component()(key=key, data=grid_data(matrix, list(CLASS_NAMES)), on_cell_change=lambda: None)
    return clicked_cell(result.get("cell") if hasattr(result, "get") else None, len(CLASS_NAMES))
