"""The Model page's confusion matrix and per-class metrics, whose cells open Test images filtered to them.

The matrix is a table drawn by our own script (ui/confusion_grid.js, a Streamlit v2 component), not a plotly
heatmap: the heatmap cost the browser about 0.3 s whenever the model changed (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.colors
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.nets.inference import per_class_metrics
from ui.scripts import component_script
from ui.state import link_params

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
    fill = plotly.colors.sample_colorscale("Blues", level.ravel().tolist())
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


@st.fragment
def confusion_section(run_id: str, matrix: np.ndarray) -> None:
    """The confusion matrix and the per-class metrics. A fragment: a click on a cell reruns only this before it
    opens Test images filtered to the cell, not the whole page."""
    row = st.container(horizontal=True, gap="large")  # wraps onto two rows in a narrow window
    cm, metrics = row.container(width=560), row.container(width=380)
    with cm:
        result = _component()(
            key=f"confusion_{run_id}", data=grid_data(matrix, list(CLASS_NAMES)), on_cell_change=lambda: None
        )
        st.caption("Click a cell to see its images on Test images.")
        cell = clicked_cell(result.get("cell") if hasattr(result, "get") else None, len(CLASS_NAMES))
        if cell is not None:
            st.switch_page("pages/test_images.py", query_params=link_params(actual=cell[0], predicted=cell[1]))
    with metrics:
        st.markdown("**Per-class metrics**")
        st.dataframe(
            per_class_metrics(matrix),
            hide_index=True,
            column_config={
                "precision": st.column_config.NumberColumn(format="%.3f"),
                "recall": st.column_config.NumberColumn(format="%.3f"),
                "f1": st.column_config.NumberColumn(format="%.3f"),
            },
        )
