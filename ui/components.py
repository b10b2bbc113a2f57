"""Page pieces used on more than one page: the image uploader and the "why" panel (Grad-CAM, saliency)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data import CLASS_NAMES
from fmnist_core.upload import ACCEPTED_TYPES, PreparedImage, UploadError, prepare_upload
from ui.figures import overlay_figure

UPLOAD_KEY = "uploaded_image"


def upload_widget(key: str) -> dict[str, Any] | None:
    """The "Upload an image" box; the prepared image is kept in the session so other pages can use it."""
    file = st.file_uploader("Upload an image", type=list(ACCEPTED_TYPES), key=key)
    if file is not None:
        raw = file.getvalue()
        digest = hashlib.sha256(raw).hexdigest()[:16]
        current = st.session_state.get(UPLOAD_KEY)
        if current is None or current["digest"] != digest:
            try:
                prepared: PreparedImage = prepare_upload(raw)
            except UploadError as exc:
                st.error(f"**{file.name}** can't be used: {exc}")
                return st.session_state.get(UPLOAD_KEY)
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
    """The upload as sent and the 28x28 the model sees, side by side."""
    a, b = st.columns(2)
    a.image(upload["original"], caption=f"Uploaded: {upload['name']}", width=200)
    b.image(np.kron(upload["image"], np.ones((8, 8), dtype=np.uint8)), caption="What the model sees (28×28)", width=200)


@st.cache_data(max_entries=128, show_spinner=False)
def _explanations(
    run_id: str, created: str | None, image_digest: str, image: np.ndarray, class_index: int
) -> tuple[np.ndarray, np.ndarray]:
    from fmnist_core.explain import grad_cam, saliency
    from ui.state import cached_model

    model = cached_model(run_id, created)
    return grad_cam(model, image, class_index), saliency(model, image, class_index)


def why_panel(info: Any, image: np.ndarray, predicted: int, key: str) -> None:
    """Grad-CAM (last conv layer) and gradient saliency for the predicted class or any chosen one."""
    st.markdown("**Why the model decided**")
    cls = st.selectbox(
        "Explain class",
        list(range(len(CLASS_NAMES))),
        index=predicted,
        format_func=lambda c: f"{CLASS_NAMES[c]}" + (" (predicted)" if c == predicted else ""),
        key=key,
    )
    digest = hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]
    cam, sal = _explanations(info.id, info.created, digest, image, int(cls))
    a, b = st.columns(2)
    a.plotly_chart(overlay_figure(image, cam, f"Grad-CAM · {CLASS_NAMES[cls]}"), width="stretch", key=f"{key}_cam")
    b.plotly_chart(overlay_figure(image, sal, f"Saliency · {CLASS_NAMES[cls]}"), width="stretch", key=f"{key}_sal")
