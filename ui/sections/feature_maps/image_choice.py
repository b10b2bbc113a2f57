"""Which image the Feature maps page looks at, and where the address points: ?image=, ?layer=, ?channel= and
?source=upload applied to the widgets when the address is new; the upload box; the Source and Test image controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data import fashion_mnist
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.components.upload import show_upload_pair, upload_widget
from ui.sections.feature_maps.explain_cell import CELL_PARAM
from ui.session import int_param, kept, kept_value, url_is_new, url_params

PAGE = "feature_maps"  # the page's name in the address and in write_url's record of it


@dataclass(frozen=True)
class ChosenImage:
    """The image shown: a test image (index set) or the upload (index None, upload set), and its caption."""

    index: int | None
    image: np.ndarray
    caption: str
    upload: dict[str, Any] | None = None


def follow_address(layers: list[str], last: int) -> dict[str, str | None]:
    """Apply a link or an edited address to the Test image, Layer and Channel widgets (a bad value warns and falls
    back); returns the raw parameters. last: the highest test image index."""
    raw = url_params(("image", "layer", "channel", "source", CELL_PARAM))
    if url_is_new(PAGE, raw):
        image, problem = int_param("image", 0, last)
        if problem:
            st.warning(f"{problem}; showing image 0 instead.")
        st.session_state["fm_image"] = image if image is not None else kept_value("fm_image", 0)
        layer = raw["layer"]
        if layer is not None and layer not in layers:
            st.warning(f"`layer={layer[:40]}` in the address is not one of {', '.join(layers)}; showing {layers[0]}.")
            layer = None
        st.session_state["fm_layer"] = layer or kept_value("fm_layer", layers[0])
        channel_text = raw["channel"]
        if channel_text is not None:
            try:
                st.session_state["fm_channel"] = int(channel_text)
            except ValueError:
                st.warning(f"`channel={channel_text[:40]}` in the address is not a whole number; showing channel 0.")
                st.session_state["fm_channel"] = 0
    if kept_value("fm_layer", layers[0]) not in layers:  # another model's layer name
        st.session_state["fm_layer"] = layers[0]
    return raw


def choose_image(test: fashion_mnist.Split, raw: dict[str, str | None]) -> ChosenImage:
    """The "Use your own image" box, then Source (when there is an upload) and the Test image box or the upload."""
    last = len(test) - 1
    with st.expander("Use your own image", expanded=raw.get("source") == "upload"):
        upload = upload_widget("fm_upload")
    sources = ["Test image", "Uploaded image"] if upload is not None else ["Test image"]
    if raw.get("source") == "upload" and upload is not None and url_is_new(PAGE, raw):
        st.session_state["fm_source"] = "Uploaded image"
    if st.session_state.get("fm_source") not in sources:
        st.session_state["fm_source"] = "Test image"
    source = st.radio("Source", sources, horizontal=True, key="fm_source") if len(sources) > 1 else "Test image"

    if source == "Test image":
        index = int(
            kept(
                st.number_input,
                "Test image",
                "fm_image",
                0,
                min_value=0,
                max_value=last,
                help=f"0 to {last}",
                width=220,
            )
        )
        return ChosenImage(index, test.images[index], f"Input #{index} · {CLASS_NAMES[int(test.labels[index])]}")
    show_upload_pair(upload)
    return ChosenImage(None, upload["image"], f"Uploaded · {upload['name'][:30]}", upload=upload)
