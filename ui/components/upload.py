"""The image uploader (Feature maps, Test images): a file becomes the 28x28 input the model sees, kept in the session
so every page can use it."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data.upload import ACCEPTED_TYPES, PreparedImage, UploadError, prepare_upload

UPLOAD_KEY = "uploaded_image"


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
