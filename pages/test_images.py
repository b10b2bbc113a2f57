"""Test images: the 10,000 test images with predicted vs actual labels, filters, and one image in detail.

The address carries the selection (/test_images?image=110), so a view can be shared or bookmarked.
"""

import numpy as np
import streamlit as st

from fmnist_core.data import CLASS_NAMES
from ui.components import show_upload_pair, upload_widget, why_panel
from ui.figures import probability_bars
from ui.frame import page_frame
from ui.state import (
    active_run,
    int_param,
    model_or_message,
    test_probabilities,
    test_set_or_message,
    upload_probabilities,
    url_is_new,
    url_params,
    write_url,
)

page_frame()

PAGE = "test_images"
PER_PAGE = 36
COLUMNS = 6
ALL = "All"

st.title("Test images")
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

probs = test_probabilities(info.id, info.created)
predicted = probs.argmax(axis=1)
actual = test.labels.astype(int)
last = len(test) - 1

raw = url_params(("image",))
if url_is_new(PAGE, raw):
    image, problem = int_param("image", 0, last)
    if problem:
        st.warning(f"{problem}; showing image 0 instead.")
    st.session_state["ti_image"] = image if image is not None else st.session_state.get("ti_image", 0)

options = [ALL, *CLASS_NAMES]
f1, f2, f3 = st.columns([2, 2, 1.3])
actual_filter = f1.selectbox("Actual class", options, key="ti_actual")
predicted_filter = f2.selectbox("Predicted class", options, key="ti_predicted")
only_wrong = f3.checkbox("Only misclassified", key="ti_wrong")

mask = np.ones(len(test), dtype=bool)
if actual_filter != ALL:
    mask &= actual == CLASS_NAMES.index(actual_filter)
if predicted_filter != ALL:
    mask &= predicted == CLASS_NAMES.index(predicted_filter)
if only_wrong:
    mask &= predicted != actual
matches = np.flatnonzero(mask)
wrong_total = int((predicted != actual).sum())
st.caption(
    f"**{len(matches):,}** of {len(test):,} images match · model {info.id} gets {wrong_total:,} wrong "
    f"({1 - wrong_total / len(test):.2%} accuracy)"
)


def select(index: int) -> None:
    st.session_state["ti_image"] = index


grid, detail = st.columns([3, 2], gap="large")
with grid:
    pages = max(1, -(-len(matches) // PER_PAGE))
    page_no = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"ti_page_{pages}")
    shown = matches[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
    if len(shown) == 0:
        st.info("No test image matches these filters.")
    cols = st.columns(COLUMNS)
    for n, index in enumerate(shown):
        index = int(index)
        ok = predicted[index] == actual[index]
        with cols[n % COLUMNS]:
            st.image(test.images[index], width=64)
            mark = f":green[✓ {CLASS_NAMES[predicted[index]]}]" if ok else f":red[✗ {CLASS_NAMES[predicted[index]]}]"
            st.markdown(mark)
            st.caption(f"actual {CLASS_NAMES[actual[index]]}")
            st.button(f"#{index}", key=f"pick_{index}", on_click=select, args=(index,), width="stretch")

with detail:
    chosen = int(st.session_state.get("ti_image", 0))
    st.subheader(f"Test image #{chosen}")
    st.image(test.images[chosen], width=224)
    p, a = int(predicted[chosen]), int(actual[chosen])
    st.markdown(f"**Predicted: {CLASS_NAMES[p]}**")
    st.markdown(f"**Actual: {CLASS_NAMES[a]}**")
    if p == a:
        st.success("Correct")
    else:
        st.error("Misclassified")
    st.plotly_chart(probability_bars(probs[chosen], CLASS_NAMES, actual=a), width="stretch", key="ti_probs")
    st.page_link(
        "pages/feature_maps.py",
        label="See its feature maps",
        icon=":material/layers:",
        query_params={"image": chosen},
    )
    why_panel(info, test.images[chosen], p, key="ti_why")

st.divider()
st.subheader("Try your own image")
st.caption("PNG, JPEG, WebP, BMP or GIF (first frame). It is turned into a 28×28 light-on-dark image like the data.")
upload = upload_widget("ti_upload")
if upload is not None:
    up_probs = upload_probabilities(info.id, info.created, upload["digest"], upload["image"])
    up_pred = int(up_probs.argmax())
    left, right = st.columns([2, 3], gap="large")
    with left:
        show_upload_pair(upload)
        st.markdown(f"**Predicted: {CLASS_NAMES[up_pred]}** ({up_probs[up_pred]:.1%})")
        st.page_link(
            "pages/feature_maps.py",
            label="See its feature maps",
            icon=":material/layers:",
            query_params={"source": "upload"},
        )
    with right:
        st.plotly_chart(probability_bars(up_probs, CLASS_NAMES), width="stretch", key="ti_upload_probs")
    why_panel(info, upload["image"], up_pred, key="ti_upload_why")

write_url(PAGE, {"image": chosen})
