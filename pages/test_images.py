"""Test images: the 10,000 test images with predicted vs actual labels, filters, and one image in detail.

The address carries the view (/test_images?image=110, ?actual=6&predicted=0, &wrong=1, &suspect=1), so it can
be shared, bookmarked, or opened from a confusion-matrix cell. "Only suspect labels" lists cleanlab's suspects in
their rank order (most suspect first), not by index.
"""

import numpy as np
import streamlit as st

from fmnist_core.data import CLASS_NAMES
from ui.components import upload_section
from ui.figures import probability_bars, thumbnail_grid
from ui.frame import page_frame
from ui.state import (
    active_run,
    int_param,
    kept,
    link_params,
    model_or_message,
    suspect_labels,
    test_probabilities,
    test_set_or_message,
    url_is_new,
    url_params,
    write_url,
)
from ui.why import why_panel

page_frame()

PAGE = "test_images"
PER_PAGE = 100
# Grid and detail sit side by side from about 1280 px wide (sidebar open) and stack in narrower windows.
GRID_WIDTH = 500  # px: ten 50-px thumbnails a row
DETAIL_WIDTH = 380
ALL = "All"
CLASS_OPTIONS = [ALL, *CLASS_NAMES]
MOVED_KEY = "_ti_moved"  # (the image the person chose, the first match shown instead)

st.title("Test images")
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

probs = test_probabilities(info.id, info.created)
predicted = probs.argmax(axis=1)
actual = test.labels.astype(int)
last = len(test) - 1
state = st.session_state

raw = url_params(("image", "actual", "predicted", "wrong", "suspect"))
if url_is_new(PAGE, raw):
    image, problem = int_param("image", 0, last)
    if problem:
        st.warning(f"{problem}; showing image 0 instead.")
    if image is not None or problem:
        state["ti_image"] = image or 0
        state["_ti_follow_page"] = True
    for name, key in (("actual", "ti_actual"), ("predicted", "ti_predicted")):
        cls, problem = int_param(name, 0, len(CLASS_NAMES) - 1)
        if problem:
            st.warning(f"{problem} (a class index 0..9); showing all classes.")
        if cls is not None or problem or any(v is not None for v in raw.values()):
            state[key] = CLASS_NAMES[cls] if cls is not None else ALL
    if raw["wrong"] is not None or any(v is not None for v in raw.values()):
        state["ti_wrong"] = raw["wrong"] in ("1", "true")
    if raw["suspect"] is not None or any(v is not None for v in raw.values()):
        state["ti_suspect"] = raw["suspect"] in ("1", "true")


def place_of(matches: np.ndarray, index: int) -> int:
    """Where an image stands among the matches (they are in rank order for suspects, so no binary search)."""
    found = np.flatnonzero(matches == index)
    return int(found[0]) if len(found) else 0


tab_test, tab_upload = st.tabs(["Test set", "Your image"])

with tab_test:
    # Horizontal containers wrap their children onto new rows when the window is narrow (768 px and up).
    with st.container(horizontal=True, vertical_alignment="bottom"):
        actual_filter = kept(st.selectbox, "Actual class", "ti_actual", ALL, options=CLASS_OPTIONS, width=240)
        predicted_filter = kept(st.selectbox, "Predicted class", "ti_predicted", ALL, options=CLASS_OPTIONS, width=240)
        only_wrong = kept(st.checkbox, "Only misclassified", "ti_wrong", False)
        only_suspect = kept(
            st.checkbox,
            "Only suspect labels",
            "ti_suspect",
            False,
            help="Test images whose given label cleanlab finds doubtful under this model, most suspect first",
        )

    mask = np.ones(len(test), dtype=bool)
    if actual_filter != ALL:
        mask &= actual == CLASS_NAMES.index(actual_filter)
    if predicted_filter != ALL:
        mask &= predicted == CLASS_NAMES.index(predicted_filter)
    if only_wrong:
        mask &= predicted != actual
    suspects = {s.index: s for s in suspect_labels(info.id, info.created)}  # rank order: most suspect first
    if only_suspect:  # in cleanlab's rank order, most suspect first
        matches = np.array([i for i in suspects if mask[i]], dtype=np.int64)
        mask = np.zeros(len(test), dtype=bool)
        mask[matches] = True
    else:
        matches = np.flatnonzero(mask)
    wrong_total = int((predicted != actual).sum())
    st.caption(
        f"**{len(matches):,}** of {len(test):,} images match · the model gets {wrong_total:,} wrong "
        f"({1 - wrong_total / len(test):.2%} accuracy) · green frame: right, thick red frame: wrong"
    )
    if only_suspect:
        st.caption(
            f"**{len(suspects):,} suspect labels** under this model (cleanlab, from its predicted probabilities), "
            'most suspect first. Some of the model\'s "mistakes" are mistakes of the label.'
        )

    pages = max(1, -(-len(matches) // PER_PAGE))
    signature = (actual_filter, predicted_filter, only_wrong, only_suspect)
    if state.get("_ti_signature") != signature:  # new filters: back to their first page
        if state.get("_ti_signature") is not None:
            state["ti_page"] = 1
        state["_ti_signature"] = signature

    chosen = int(state.get("ti_image", 0))
    if len(matches) and not mask[chosen]:
        # Remember the image the person had chosen, across further filter changes, until they pick another.
        moved = state.get(MOVED_KEY)
        original = moved[0] if moved and moved[1] == chosen else chosen
        chosen = int(matches[0])
        state["ti_image"] = chosen
        state[MOVED_KEY] = (original, chosen)
        state["_ti_follow_page"] = True
    moved = state.get(MOVED_KEY)
    if moved and moved[1] == chosen:
        st.info(f"Image #{moved[0]} is outside these filters; showing the first match, #{chosen}.")
    else:
        state.pop(MOVED_KEY, None)
    position = place_of(matches, chosen)

    def go_to(index: int) -> None:
        """Prev/next callback: select an image and show the grid page that holds it."""
        state["ti_image"] = int(index)
        state["_ti_follow_page"] = True

    if state.pop("_ti_follow_page", False) and len(matches):
        state["ti_page"] = position // PER_PAGE + 1
    if int(state.get("ti_page", 1)) > pages:
        state["ti_page"] = pages

    layout = st.container(horizontal=True, gap="medium")
    grid = layout.container(width=GRID_WIDTH)
    detail = layout.container(width=DETAIL_WIDTH)
    with grid:
        page_no = int(
            kept(st.number_input, f"Page (of {pages})", "ti_page", 1, min_value=1, max_value=pages, width=200)
        )
        shown = matches[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
        if len(shown) == 0:
            st.info("No test image matches these filters.")
        else:
            grid_key = f"ti_grid_{'_'.join(map(str, signature))}_{page_no}"
            event = state.get(grid_key)
            points = (event or {}).get("selection", {}).get("points", []) if event else []
            clicked = None
            for point in points:
                data = point.get("customdata")
                clicked = int(data[0] if isinstance(data, list | tuple) else data) if data is not None else None
            if clicked is None:
                state.pop("_ti_clicked", None)
            elif state.get("_ti_clicked") != (grid_key, clicked):
                state["_ti_clicked"] = (grid_key, clicked)
                chosen = clicked
                state["ti_image"] = chosen
                position = place_of(matches, chosen)
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
                    chosen,
                    width=GRID_WIDTH,
                ),
                key=grid_key,
                on_select="rerun",
                selection_mode="points",
                width="stretch",
                config={"displayModeBar": False},
            )
            st.caption("Click an image to see it in detail.")

    with detail:
        st.subheader(f"Test image #{chosen}")
        prev_col, next_col = st.columns(2)
        prev_col.button(
            "◀ Previous",
            on_click=go_to,
            args=(int(matches[position - 1]) if len(matches) and position > 0 else chosen,),
            disabled=not len(matches) or position <= 0,
            width="stretch",
        )
        next_col.button(
            "Next ▶",
            on_click=go_to,
            args=(int(matches[position + 1]) if position + 1 < len(matches) else chosen,),
            disabled=position + 1 >= len(matches),
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

params = {"image": chosen}
if actual_filter != ALL:
    params["actual"] = CLASS_NAMES.index(actual_filter)
if predicted_filter != ALL:
    params["predicted"] = CLASS_NAMES.index(predicted_filter)
if only_wrong:
    params["wrong"] = 1
if only_suspect:
    params["suspect"] = 1
write_url(PAGE, params)
