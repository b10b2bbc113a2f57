"""Test images: the 10,000 test images with predicted vs actual labels, filters, and one image in detail.

The address carries the view (/test_images?image=110, ?actual=6&predicted=0, &wrong=1, &suspect=1), so it can
be shared, bookmarked, or opened from a confusion-matrix cell. "Only suspect labels" lists cleanlab's suspects in
their rank order (most suspect first), not by index. What matches, which image is selected and which grid page
shows is fmnist_core.analysis.browse's rule; ui.sections.test_images.browsing keeps it in the session.
"""

import numpy as np
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.probabilities import probability_bars
from ui.figures.thumbnails import thumbnail_grid
from ui.frame import page_frame
from ui.loaders import model_or_message, suspect_labels, test_probabilities, test_set_or_message
from ui.sections.shared.why import why_panel
from ui.sections.test_images.browsing import (
    apply_click,
    current_view,
    filter_row,
    follow_address,
    go_to,
    grid_key,
    page_box,
    write_address,
)
from ui.sections.test_images.your_image_tab import upload_section
from ui.session import active_run, link_params

page_frame()

# Grid and detail sit side by side from about 1280 px wide (sidebar open) and stack in narrower windows.
GRID_WIDTH = 500  # px: ten 50-px thumbnails a row
DETAIL_WIDTH = 380

st.title("Test images")
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

probs = test_probabilities(info.id, info.created)
predicted = probs.argmax(axis=1)
actual = test.labels.astype(int)
follow_address(len(test) - 1)

tab_test, tab_upload = st.tabs(["Test set", "Your image"])

with tab_test:
    filters = filter_row()
    suspects = {s.index: s for s in suspect_labels(info.id, info.created)}  # rank order: most suspect first
    view = current_view(actual, predicted, list(suspects), filters)
    wrong_total = int((predicted != actual).sum())
    st.caption(
        f"**{len(view.matches):,}** of {len(test):,} images match · the model gets {wrong_total:,} wrong "
        f"({1 - wrong_total / len(test):.2%} accuracy) · green frame: right, thick red frame: wrong"
    )
    if filters.only_suspect:
        st.caption(
            f"**{len(suspects):,} suspect labels** under this model (cleanlab, from its predicted probabilities), "
            'most suspect first. Some of the model\'s "mistakes" are mistakes of the label.'
        )
    if view.moved_from is not None:
        st.info(f"Image #{view.moved_from} is outside these filters; showing the first match, #{view.image}.")

    layout = st.container(horizontal=True, gap="medium")
    grid = layout.container(width=GRID_WIDTH)
    detail = layout.container(width=DETAIL_WIDTH)
    with grid:
        view = page_box(view)
        if not view.shown:
            st.info("No test image matches these filters.")
        else:
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

    chosen = view.image
    with detail:
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
        p, a = int(predicted[chosen]), int(actual[chosen])
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
    # Full width under the grid and the detail: four maps side by side need more room than the detail column.
    why_panel(info, test.images[chosen], p, key="ti_why")

with tab_upload:
    upload_section(info, key="ti_upload")

write_address(filters, view.image)
