"""Page pieces used on more than one page: the image uploader and the "why" panel (Grad-CAM, saliency)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data import CLASS_NAMES
from fmnist_core.upload import ACCEPTED_TYPES, PreparedImage, UploadError, prepare_upload
from ui.figures import OVERLAY_PX, overlay_figure, probability_bars

UPLOAD_KEY = "uploaded_image"
UPLOAD_PAIR_PX = 360  # the upload and what the model sees, side by side
PROBABILITIES_PX = 440


def image_digest(image: np.ndarray) -> str:
    """A short content hash: cache key for explanations, and what makes a widget start afresh per image."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


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


@st.cache_data(max_entries=128, show_spinner=False)
def _explanations(
    run_id: str, created: str | None, image_digest: str, image: np.ndarray, class_index: int
) -> tuple[np.ndarray | None, np.ndarray, str | None]:
    """(Grad-CAM, saliency, the layer Grad-CAM used); Grad-CAM and its layer are None without a conv layer."""
    from fmnist_core.explain import conv_layers, grad_cam, last_conv_layer, saliency
    from ui.state import cached_model

    model = cached_model(run_id, created)
    sal = saliency(model, image, class_index)
    if not conv_layers(model):
        return None, sal, None
    return grad_cam(model, image, class_index), sal, last_conv_layer(model)


def why_panel(info: Any, image: np.ndarray, predicted: int, key: str) -> None:
    """Grad-CAM (last conv block) and gradient saliency for the predicted class or any chosen one.

    The class box's key carries the model and the image, so a new image or model starts again from its own
    prediction instead of keeping the previous image's choice.
    """
    from fmnist_core.explain import heat_on_object

    st.markdown("**Why the model decided**")
    digest = image_digest(image)
    cls = int(
        st.selectbox(
            "Explain class",
            list(range(len(CLASS_NAMES))),
            index=predicted,
            format_func=lambda c: f"{CLASS_NAMES[c]}" + (" (predicted)" if c == predicted else ""),
            key=f"{key}_{info.id}_{digest}",
        )
    )
    cam, sal, layer = _explanations(info.id, info.created, digest, image, cls)
    # Two-line titles: the panel can be narrow, and the class and whether it is the prediction must stay readable.
    which = (
        f"{CLASS_NAMES[cls]}<br>(the prediction)" if cls == predicted else f"{CLASS_NAMES[cls]}<br>(not the prediction)"
    )
    explaining = f"Explaining **{CLASS_NAMES[cls]}**" + (
        "" if cls == predicted else f"; the model predicted **{CLASS_NAMES[predicted]}**"
    )
    saliency_line = "Saliency: pixels whose change would move that score most; bright = more."
    # Side by side where there is room, else one under the other: each image stays OVERLAY_PX wide.
    row = st.container(horizontal=True)
    if cam is None:
        row.plotly_chart(overlay_figure(image, sal, f"Saliency · {which}"), width=OVERLAY_PX, key=f"{key}_sal")
        st.info("Grad-CAM needs a conv layer, and this model has none (it sees the image as a flat list of pixels).")
        st.caption(f"{explaining}. {saliency_line} Scaled to its maximum.")
        return
    row.plotly_chart(overlay_figure(image, cam, f"Grad-CAM · {which}"), width=OVERLAY_PX, key=f"{key}_cam")
    row.plotly_chart(overlay_figure(image, sal, f"Saliency · {which}"), width=OVERLAY_PX, key=f"{key}_sal")
    st.caption(
        f"{explaining}. Grad-CAM: where the channels of `{layer}` (the last conv block) that raise the "
        f"{CLASS_NAMES[cls]} score are active; bright = more. {saliency_line} Both are scaled to their own maximum."
    )
    share = heat_on_object(image, cam)
    if share is None:
        st.caption("Grad-CAM is blank for this class: no region of the last conv block raises its score.")
    elif share < 0.5:
        st.caption(
            f":orange[:material/warning: Only {share:.0%} of the Grad-CAM heat lies on the garment; most lies on the "
            "background, so this map says little about why.]"
        )
    else:
        st.caption(f"{share:.0%} of the Grad-CAM heat lies on the garment.")
