"""What excites this channel (Feature maps): the test images whose maximum of the channel is highest, each with the
channel's map laid over it."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.analysis import run_results
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.cells import exemplar_image
from ui.loaders import cached_model, test_set_or_message
from ui.session import link_params

ALL = "All"
EXEMPLARS = 9
EXEMPLAR_COLUMNS = 3
EXEMPLAR_PX = 168  # an exemplar picture's width and height (28 input pixels x 6); narrower when its column is


@st.cache_data(max_entries=12, show_spinner="Finding the test images that excite each channel (all 10,000)...")
def channel_maxima(run_id: str, created: str | None, layer: str) -> Any:
    """Every test image's per-channel maximum of `layer`, once per (model, layer): about 5 MB for 64 channels."""

    test = test_set_or_message()
    return run_results.channel_maxima(run_id, lambda: cached_model(run_id, created), test.images, layer)


@st.cache_data(max_entries=64, show_spinner=False)
def _exemplar_maps(run_id: str, created: str | None, layer: str, channel: int, indices: tuple[int, ...]) -> np.ndarray:
    from fmnist_core.analysis import activations

    test = test_set_or_message()
    maps = activations.layer_maps(cached_model(run_id, created), test.images[list(indices)], layer)
    return maps[..., channel]


def _grid(run_id: str, created: str | None, layer: str) -> tuple[float, float]:
    from fmnist_core.explain.gradcam import cell_grid

    return cell_grid(cached_model(run_id, created), layer)


def exemplars_section(info: Any, layer: str, channel: int) -> None:
    """The 9 test images whose maximum of this channel is highest, each with the channel's map over it."""
    from fmnist_core.analysis.activations import top_exemplars

    st.subheader("What excites this channel")
    test = test_set_or_message()
    if test is None:
        return
    choice = st.selectbox("Class", [ALL, *CLASS_NAMES], key="lab_ex_class", help="only images of this class")
    class_index = None if choice == ALL else CLASS_NAMES.index(choice)
    maxima = channel_maxima(info.id, info.created, layer)
    try:
        found = top_exemplars(maxima, channel, k=EXEMPLARS, labels=test.labels, class_index=class_index)
    except ValueError as exc:
        st.warning(f"{exc}.")
        return
    if not found:
        st.info("No test image of this class.")
        return
    indices = tuple(e.index for e in found)
    maps = _exemplar_maps(info.id, info.created, layer, channel, indices)
    top = float(np.nanmax(maps))  # one colour scale for all of them, so their maps compare
    grid = _grid(info.id, info.created, layer)
    st.caption(
        f"The test images whose highest value in {layer} channel {channel} is largest, highest first"
        f"{'' if class_index is None else f' (only {choice})'}; the channel's map lies over each image. "
        "Under each: its class and that highest value, and a link to the image."
    )
    # Three a row in columns, each image with its own title and link under it (columns stack below 640 px).
    for start in range(0, len(found), EXEMPLAR_COLUMNS):
        row = found[start : start + EXEMPLAR_COLUMNS]
        for k, (col, e) in enumerate(zip(st.columns(EXEMPLAR_COLUMNS), row, strict=False), start=start):
            with col:
                picture = exemplar_image(test.images[e.index], maps[k], grid, top)
                st.image(picture, width=EXEMPLAR_PX, output_format="PNG")
                st.caption(f"{CLASS_NAMES[int(test.labels[e.index])]} · {e.value:.3f}")
                st.page_link("pages/test_images.py", label=f"#{e.index}", query_params=link_params(image=e.index))
