"""Page pieces used on more than one page: the image uploader (the "why" panel lives in ui/why.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.data.upload import ACCEPTED_TYPES, PreparedImage, UploadError, prepare_upload
from ui.figures import probability_bars
from ui.why import why_panel

UPLOAD_KEY = "uploaded_image"
UPLOAD_PAIR_PX = 360  # the upload and what the model sees, side by side
PROBABILITIES_PX = 440


def upload_widget(key: str) -> dict[str, Any] | None:
    """The "Upload an image" box; the prepared image is kept in the session so other pages can use it.

    A file that can't be used clears the previous upload, so no stale prediction stays under its error.
    """
    file = st.file_uploader("Upload an image", type=list(ACCEPTED_TYPES), key=key)
    if file is not None:
        raw = file.getvalue()
        digest = hashlib.sha256(raw).hexdigest()[:16]
        current = st.session_state.get(UPLOAD_KEY)
        if current is None or current["digest"] != digest:
            try:
                prepared: PreparedImage = prepare_upload(raw)
            except UploadError as exc:
                st.session_state.pop(UPLOAD_KEY, None)
                st.error(f"**{file.name}** can't be used: {exc}")
                return None
            st.session_state[UPLOAD_KEY] = {
                "name": file.name,
                "digest": digest,
                "image": prepared.image,
                "original": prepared.original,
                "notes": prepared.notes,
            }
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is not None:
        for note in upload["notes"]:
            st.caption(note)
        if st.button("Forget the uploaded image", key=f"{key}_forget"):
            st.session_state.pop(UPLOAD_KEY, None)
            st.rerun()
    return upload


def show_upload_pair(upload: dict[str, Any]) -> None:
    """The upload as sent and the 28x28 the model sees, side by side, each filling its own column."""
    a, b = st.columns(2, gap="medium")
    with a:
        st.image(upload["original"], width="stretch")
        st.caption(f"Uploaded: {upload['name']}")
    with b:
        st.image(np.kron(upload["image"], np.ones((8, 8), dtype=np.uint8)), width="stretch")
        st.caption("What the model sees (28×28)")


def upload_section(info: Any, key: str) -> None:
    """Upload an image, see what the model makes of it: the prepared input, prediction, probabilities, why."""
    from ui.state import link_params, upload_probabilities

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
