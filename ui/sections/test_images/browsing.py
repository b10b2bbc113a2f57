"""The Test images page's browsing state: its address, filter widgets, selection and grid page in the session.

fmnist_core.analysis.browse decides what to show; this module reads the widgets and session state, calls it, and writes
back what must outlive the rerun. Every session key of the page's browsing lives here; the underscored ones are
this module's alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.analysis.browse import Filters, View, browse
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.session import int_param, kept, kept_value, url_is_new, url_params, write_url

PAGE = "test_images"  # the page's name in the address and in write_url's record of it
ALL = "All"
CLASS_OPTIONS = [ALL, *CLASS_NAMES]
IMAGE_KEY = "ti_image"  # the selected test image (a plain value, not a widget)
PAGE_KEY = "ti_page"
ACTUAL_KEY, PREDICTED_KEY, WRONG_KEY, SUSPECT_KEY = "ti_actual", "ti_predicted", "ti_wrong", "ti_suspect"
_FOLLOW_KEY = "_ti_follow_page"  # set: the next rerun turns the grid to the page holding the selected image
_SIGNATURE_KEY = "_ti_signature"  # the filters of the last rerun: new ones send the grid back to page 1
_MOVED_KEY = "_ti_moved"  # (the image the person chose, the first match shown instead)
_CLICKED_KEY = "_ti_clicked"  # (grid key, image) of the click already applied: a selection persists across reruns


def follow_address(last: int) -> None:
    """Apply a link or an edited address (?image=, ?actual=, ?predicted=, ?wrong=, ?suspect=) to the widgets.

    Only when the address differs from what the page last wrote; a bad value warns and falls back to the default.
    last: the highest test image index.
    """
    raw = url_params(("image", "actual", "predicted", "wrong", "suspect"))
    if not url_is_new(PAGE, raw):
        return
    state = st.session_state
    image, problem = int_param("image", 0, last)
    if problem:
        st.warning(f"{problem}; showing image 0 instead.")
    if image is not None or problem:
        state[IMAGE_KEY] = image or 0
        state[_FOLLOW_KEY] = True
    for name, key in (("actual", ACTUAL_KEY), ("predicted", PREDICTED_KEY)):
        cls, problem = int_param(name, 0, len(CLASS_NAMES) - 1)
        if problem:
            st.warning(f"{problem} (a class index 0..9); showing all classes.")
        if cls is not None or problem or any(v is not None for v in raw.values()):
            state[key] = CLASS_NAMES[cls] if cls is not None else ALL
    if raw["wrong"] is not None or any(v is not None for v in raw.values()):
        state[WRONG_KEY] = raw["wrong"] in ("1", "true")
    if raw["suspect"] is not None or any(v is not None for v in raw.values()):
        state[SUSPECT_KEY] = raw["suspect"] in ("1", "true")


def filter_row() -> Filters:
    """The four filters in one row (it wraps in a narrow window), kept across visits to other pages."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        actual = kept(st.selectbox, "Actual class", ACTUAL_KEY, ALL, options=CLASS_OPTIONS, width=240)
        predicted = kept(st.selectbox, "Predicted class", PREDICTED_KEY, ALL, options=CLASS_OPTIONS, width=240)
        only_wrong = kept(st.checkbox, "Only misclassified", WRONG_KEY, False)
        only_suspect = kept(
            st.checkbox,
            "Only suspect labels",
            SUSPECT_KEY,
            False,
            help="Test images whose given label looks wrong next to this model's probabilities, most suspect first. "
            "They are picked out by cleanlab, a program that finds likely label mistakes in a data set.",
        )
    return Filters(_class_index(actual), _class_index(predicted), bool(only_wrong), bool(only_suspect))


def current_view(actual: np.ndarray, predicted: np.ndarray, suspects: list[int], filters: Filters) -> View:
    """The view for this rerun (fmnist_core.analysis.browse.browse on the session's selection and page), kept for the next.

    Call after filter_row and before page_box: it may move the selection and the page.
    """
    state = st.session_state
    signature = _signature(filters)
    previous = state.get(_SIGNATURE_KEY)
    state[_SIGNATURE_KEY] = signature
    image = int(state.get(IMAGE_KEY, 0))
    page = int(kept_value(PAGE_KEY, 1))
    view = browse(
        actual,
        predicted,
        suspects,
        filters,
        image,
        page,
        filters_changed=previous is not None and previous != signature,
        follow=bool(state.pop(_FOLLOW_KEY, False)),
        moved=state.get(_MOVED_KEY),
    )
    if view.image != image:
        state[IMAGE_KEY] = view.image
    if view.moved is None:
        state.pop(_MOVED_KEY, None)
    else:
        state[_MOVED_KEY] = view.moved
    if view.page != page:
        state[PAGE_KEY] = view.page
    return view


def page_box(view: View) -> View:
    """The "Page (of N)" box, kept across visits; returns the view on the page it shows."""
    page = int(
        kept(st.number_input, f"Page (of {view.pages})", PAGE_KEY, 1, min_value=1, max_value=view.pages, width=200)
    )
    return view if page == view.page else replace(view, page=page)


def grid_key(filters: Filters, page: int) -> str:
    """The thumbnail grid's widget key: one per filters and page, so a click never carries over to another grid."""
    return f"ti_grid_{'_'.join(map(str, _signature(filters)))}_{page}"


def apply_click(view: View, key: str) -> View:
    """The view with the image last clicked in the grid `key` selected; a click is applied once, not on every rerun."""
    state = st.session_state
    event = state.get(key)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    clicked = None
    for point in points:
        data = point.get("customdata")
        clicked = int(data[0] if isinstance(data, list | tuple) else data) if data is not None else None
    if clicked is None:
        state.pop(_CLICKED_KEY, None)
        return view
    if state.get(_CLICKED_KEY) == (key, clicked):
        return view
    state[_CLICKED_KEY] = (key, clicked)
    state[IMAGE_KEY] = clicked
    return view.select(clicked)


def go_to(index: int) -> None:
    """Previous/Next callback: select an image and show the grid page that holds it."""
    st.session_state[IMAGE_KEY] = int(index)
    st.session_state[_FOLLOW_KEY] = True


def write_address(filters: Filters, image: int) -> None:
    """Make the address carry the view (image, filters as class indices), so it can be shared or bookmarked."""
    params: dict[str, Any] = {"image": image}
    if filters.actual is not None:
        params["actual"] = filters.actual
    if filters.predicted is not None:
        params["predicted"] = filters.predicted
    if filters.only_wrong:
        params["wrong"] = 1
    if filters.only_suspect:
        params["suspect"] = 1
    write_url(PAGE, params)


def _class_index(name: str) -> int | None:
    return None if name == ALL else CLASS_NAMES.index(name)


def _signature(filters: Filters) -> tuple[str, str, bool, bool]:
    """The filters as the widgets show them (class names), as the page has always keyed its grid."""
    names = tuple(ALL if c is None else CLASS_NAMES[c] for c in (filters.actual, filters.predicted))
    return (names[0], names[1], filters.only_wrong, filters.only_suspect)
