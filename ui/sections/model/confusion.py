"""The Model page's confusion matrix and per-class metrics, whose cells open Test images filtered to them.

The matrix is a table drawn by our own component (ui.components.confusion_grid), not a plotly heatmap: the heatmap
cost the browser a noticeable wait whenever the model changed (docs/performance.md).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist_core.nets.inference import per_class_metrics
from ui.components.confusion_grid import confusion_grid
from ui.session import link_params


@st.fragment
def confusion_section(run_id: str, matrix: np.ndarray) -> None:
    """The confusion matrix and the per-class metrics. A fragment: a click on a cell reruns only this before it
    opens Test images filtered to the cell, not the whole page."""
    row = st.container(horizontal=True, gap="large")  # wraps onto two rows in a narrow window
    cm, metrics = row.container(width=560), row.container(width=380)
    with cm:
        cell = confusion_grid(matrix, key=f"confusion_{run_id}")
        st.caption("Click a cell to see its images on Test images.")
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
