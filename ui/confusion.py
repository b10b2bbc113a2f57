"""The Model page's confusion matrix and per-class metrics, whose cells open Test images filtered to them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist_core.data import CLASS_NAMES
from fmnist_core.inference import per_class_metrics
from ui.figures import confusion_figure
from ui.state import link_params


@st.fragment
def confusion_section(run_id: str, matrix: np.ndarray) -> None:
    """The confusion matrix and the per-class metrics. A fragment: a click on a cell reruns only this before it
    opens Test images filtered to the cell, not the whole page."""
    row = st.container(horizontal=True, gap="large")  # wraps onto two rows in a narrow window
    cm, metrics = row.container(width=560), row.container(width=380)
    with cm:
        event = st.plotly_chart(
            confusion_figure(matrix, CLASS_NAMES),
            width="stretch",
            key=f"confusion_{run_id}",
            on_select="rerun",
            selection_mode="points",
            config={"displayModeBar": False},
        )
        st.caption("Click a cell to see its images on Test images.")
        points = event.selection.points if event else []
        if points:
            # Marker k of the clickable trace is cell (k // 10, k % 10); point_index survives any customdata encoding.
            index = points[0].get("point_index")
            if isinstance(index, int) and 0 <= index < matrix.size:
                actual_class, predicted_class = divmod(index, matrix.shape[1])
                st.switch_page(
                    "pages/test_images.py",
                    query_params=link_params(actual=actual_class, predicted=predicted_class),
                )
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
