"""The Test images page's "Your image" tab: upload an image and see what the model makes of it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.components.upload import show_upload_pair, upload_widget
from ui.figures.probabilities import probability_bars
from ui.loaders import upload_probabilities
from ui.sections.shared.why import why_panel
from ui.session import link_params

UPLOAD_PAIR_PX = 360  # the upload and what the model sees, side by side
PROBABILITIES_PX = 440


def upload_section(info: Any, key: str) -> None:
    """Upload an image, see what the model makes of it: the prepared input, prediction, probabilities, why."""
    st.caption(
        "PNG, JPEG, WebP, BMP or GIF (first frame). It is turned into a 28×28 light-on-dark image like the data."
    )
    upload = upload_widget(key)
    if upload is None:
        return
    probs = upload_probabilities(info.id, info.created, upload["digest"], upload["image"])
    predicted = int(probs.argmax())
    # Fixed widths in a row that wraps: side by side on a wide screen, stacked on a narrow one, never squeezed.
    row = st.container(horizontal=True, gap="medium")
    left, right = row.container(width=UPLOAD_PAIR_PX), row.container(width=PROBABILITIES_PX)
    with left:
        show_upload_pair(upload)
        st.markdown(f"**Predicted: {CLASS_NAMES[predicted]}** ({probs[predicted]:.1%})")
        st.page_link(
            "pages/feature_maps.py",
            label="See its feature maps",
            icon=":material/layers:",
            query_params=link_params(source="upload"),
        )
    with right:
        st.plotly_chart(probability_bars(probs, CLASS_NAMES), width="stretch", key=f"{key}_probs")
    why_panel(info, upload["image"], predicted, key=f"{key}_why")
