"""The Test images page's "Test set" tab: the filters, the grid of matching test images, one image in detail, and
why the model decided.

Grid and detail sit side by side from about 1280 px wide (sidebar open) and stack in narrower windows.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fmnist_core.analysis.browse import Filters, View
from fmnist_core.analysis.suspect_labels import Suspect, weak_model_warning
from fmnist_core.data import fashion_mnist
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.runs import metadata
from ui.figures.probabilities import probability_bars
from ui.figures.thumbnails import thumbnail_grid
from ui.loaders import suspect_labels
from ui.sections.shared.why import why_panel
from ui.sections.test_images.browsing import apply_click, current_view, filter_row, go_to, grid_key, page_box
from ui.session import link_params

GRID_WIDTH = 500  # px: ten 50-px thumbnails a row
DETAIL_WIDTH = 380


def test_set_tab(info: metadata.RunInfo, test: fashion_mnist.Split, probs: np.ndarray) -> tuple[Filters, View]:
    """The whole tab; returns the filters and the view, for the address."""
    predicted = probs.argmax(axis=1)
    actual = test.labels.astype(int)
    filters = filter_row()
    suspects = {s.index: s for s in suspect_labels(info.id, info.created)}  # rank order: most suspect first
    view = current_view(actual, predicted, list(suspects), filters)
    wrong_total = int((predicted != actual).sum())
    accuracy = 1 - wrong_total / len(test)
    st.caption(
        f"**{len(view.matches):,}** of {len(test):,} images match · the model gets {wrong_total:,} wrong "
        f"({accuracy:.2%} accuracy) · green frame: right, thick red frame: wrong"
    )
    if filters.only_suspect:
        st.caption(
            f"**{len(suspects):,} suspect labels** under this model, most suspect first: test images whose given "
            "label this model finds unlikely, picked out by cleanlab (a program that compares each label with the "
            "model's probabilities). Some of the model's \"mistakes\" are mistakes of the label."
        )
        if warning := weak_model_warning(accuracy):
            st.warning(warning, icon=":material/warning:")
    if view.moved_from is not None:
        st.info(f"Image #{view.moved_from} is outside these filters; showing the first match, #{view.image}.")

    layout = st.container(horizontal=True, gap="medium")
    grid = layout.container(width=GRID_WIDTH)
    detail = layout.container(width=DETAIL_WIDTH)
    with grid:
        view = _grid(test, predicted, actual, suspects, filters, view)
    with detail:
        shown_class = _detail(test, probs, actual, suspects, view)
    # Full width under the grid and the detail: four maps side by side need more room than the detail column.
    why_panel(info, test.images[view.image], shown_class, key="ti_why")
    return filters, view


def _grid(
    test: fashion_mnist.Split,
    predicted: np.ndarray,
    actual: np.ndarray,
    suspects: dict[int, Suspect],
    filters: Filters,
    view: View,
) -> View:
    """The "Page" box and one page of thumbnails; a click selects an image. Returns the view as shown."""
    view = page_box(view)
    if not view.shown:
        st.info("No test image matches these filters.")
        return view
    key = grid_key(filters, view.page)
    view = apply_click(view, key)
    shown = np.array(view.shown)
    hover = [
        f"#{i} · predicted {CLASS_NAMES[predicted[i]]} · actual {CLASS_NAMES[actual[i]]}"
        + (" ✓" if predicted[i] == actual[i] else " ✗")
        + (" · suspect label" if i in suspects else "")
        for i in shown
    ]
    st.plotly_chart(
        thumbnail_grid(
            test.images[shown],
            shown.tolist(),
            (predicted[shown] == actual[shown]).tolist(),
            hover,
            view.image,
            width=GRID_WIDTH,
        ),
        key=key,
        on_select="rerun",
        selection_mode="points",
        width="stretch",
        config={"displayModeBar": False},
    )
    st.caption("Click an image to see it in detail.")
    return view


def _detail(
    test: fashion_mnist.Split, probs: np.ndarray, actual: np.ndarray, suspects: dict[int, Suspect], view: View
) -> int:
    """The selected image: Previous and Next, the image, predicted and actual class, a suspect label's doubt, the
    probabilities and a link to its feature maps. Returns the predicted class."""
    chosen = view.image
    st.subheader(f"Test image #{chosen}")
    prev_col, next_col = st.columns(2)
    prev_col.button(
        "◀ Previous",
        on_click=go_to,
        args=(chosen if view.previous is None else view.previous,),
        disabled=view.previous is None,
        width="stretch",
    )
    next_col.button(
        "Next ▶",
        on_click=go_to,
        args=(chosen if view.next is None else view.next,),
        disabled=view.next is None,
        width="stretch",
    )
    st.image(test.images[chosen], width=224)
    p, a = int(probs[chosen].argmax()), int(actual[chosen])
    st.markdown(f"**Predicted: {CLASS_NAMES[p]}**")
    st.markdown(f"**Actual: {CLASS_NAMES[a]}**")
    if p == a:
        st.success("Correct")
    else:
        st.error("Misclassified")
    if chosen in suspects:
        doubt = suspects[chosen]
        st.warning(
            f"Suspect label: labelled **{CLASS_NAMES[doubt.given]}**, the model and cleanlab suggest "
            f"**{CLASS_NAMES[doubt.suggested]}** (label quality {doubt.quality:.2g}; "
            f"#{list(suspects).index(chosen) + 1} of {len(suspects)})",
            icon=":material/label_off:",
        )
    st.plotly_chart(probability_bars(probs[chosen], CLASS_NAMES, actual=a), width="stretch", key="ti_probs")
    st.page_link(
        "pages/feature_maps.py",
        label="See its feature maps",
        icon=":material/layers:",
        query_params=link_params(image=chosen),
    )
    return p
