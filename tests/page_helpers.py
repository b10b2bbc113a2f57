"""AppTest helpers for the page tests (tests/pages/): open a page through app.py, read what it shows.

AppTest notes (streamlit 1.67):
- AppTest resets Streamlit's legacy multipage mode before every run, and a `pages/` folder turns it on, so each
  run after `switch_page("pages/x.py")` starts with the page file alone. The page's `page_frame()` call
  (ui/frame.py) then runs the real app in its place, so every run draws the sidebar's "Model" box.
- AppTest does not fire `run_every` timers: training tests re-run until the job says it is finished.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Callable

import numpy as np
import streamlit as st
from streamlit.testing.v1 import AppTest

from fmnist_core.data import fashion_mnist
from helpers import REPO_ROOT  # noqa: E402
from ui.frame import PAGE_SPECS

APP = REPO_ROOT / "app.py"
# url_path -> page file, as the frame registers them.
PAGE_FILES = {url: path for path, _title, _icon, url in PAGE_SPECS}
TITLES = {
    "home": "Fashion-MNIST CNN dashboard",
    "train": "Train",
    "test_images": "Test images",
    "feature_maps": "Feature maps",
    "model": "Model",
    "embedding": "Embedding",
    "quiz": "Predict the model",
}
MODEL_PAGES = ("test_images", "feature_maps", "model", "quiz")  # the pages that load the active model
TIMEOUT = 120  # seconds per script run: importing TensorFlow and loading a model is slow on a busy CPU
TRAIN_TIMEOUT = 240  # seconds for a training job to end
DATA_FIX = "apt-get install dataset-fashion-mnist"
REAL_DATA_DIR = fashion_mnist.DEBIAN_DIR


def exceptions(at: AppTest) -> str:
    return "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)


def open_page(
    make_app: Callable[[], AppTest],
    page: str,
    params: dict[str, str] | None = None,
    model_id: str | None = None,
    session: dict[str, object] | None = None,
) -> AppTest:
    """Run app.py once (it registers the pages), then open `page` with these query parameters; `session` sets
    widget values before the first run, as a person who set them earlier in the session would have."""
    at = make_app()
    if model_id is not None:
        at.session_state["model_id"] = model_id
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, exceptions(at)
    if page == "home":
        return show_home(at)
    at.switch_page(PAGE_FILES[page])
    if params:
        at.query_params.update(params)
    return rerun(at, model_id)


def show_home(at: AppTest) -> AppTest:
    """Switch to Home (the frame draws the sidebar on every page's run)."""
    at.switch_page(PAGE_FILES["home"]).run()
    assert not at.exception, exceptions(at)
    assert title(at) == TITLES["home"]
    assert at.sidebar.children, "no sidebar"
    return at


def rerun(at: AppTest, model_id: str | None = None) -> AppTest:
    """Run again, optionally with another active model set in the session first."""
    if model_id is not None:
        at.session_state["model_id"] = model_id
    at.run()
    return at


def title(at: AppTest) -> str:
    assert at.title, "no title on the page"
    return at.title[0].value


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def model_box(at: AppTest):
    """The sidebar's "Model" selectbox (present on runs of app.py)."""
    boxes = [box for box in at.sidebar.selectbox if box.label == "Model"]
    assert boxes, "no 'Model' selectbox in the sidebar"
    return boxes[0]


def plotly_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("plotly_chart"):
        title_ = json.loads(chart.proto.spec).get("layout", {}).get("title", {})
        titles.append(title_.get("text", "") if isinstance(title_, dict) else str(title_))
    return titles


def map_figures(at: AppTest) -> list[tuple[str, str]]:
    """The why panel's maps (HTML figures, ui.figures.explanations.attribution_html) in page order: each one's title (its
    lines joined by <br>) and HTML."""
    found = []
    for element in at.get("html"):
        body = element.proto.body
        if 'class="fm-map"' in body:
            title_ = body.split("<figcaption", 1)[1].split(">", 1)[1].split("</figcaption>", 1)[0]
            found.append((html.unescape(title_), body))
    return found


def map_picture(at: AppTest, title_part: str) -> np.ndarray:
    """The pixels of the first map whose title contains `title_part`, decoded from its PNG data URI."""
    from PIL import Image

    for title_, body in map_figures(at):
        if title_part in title_:
            uri = body.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
            return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))))
    raise AssertionError(f"no map titled like {title_part!r}; titles: {[t for t, _ in map_figures(at)]}")


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no {label!r} button; buttons: {[b.label for b in at.button]}"
    return found[0]


def number_input(at: AppTest, label: str):
    found = [n for n in at.number_input if n.label == label]
    assert found, f"no {label!r} number input"
    return found[0]


def run_until(
    at: AppTest, done: Callable[[], bool], what: str = "", timeout: float = TRAIN_TIMEOUT, redraw: bool = False
) -> None:
    """Re-run the script (AppTest fires no run_every timers) until `done()` or the timeout. `redraw`: once more
    after, for a `done()` about the job rather than the page (a job may end after the last run drew the page,
    which then still shows it running)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.5)
        at.run()
        assert not at.exception, exceptions(at)
    if redraw:
        at.run()
        assert not at.exception, exceptions(at)


def clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def plotly_array(value: object) -> np.ndarray:
    """A plotly JSON array as numpy: plain lists, or plotly's typed form {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = tuple(int(n) for n in str(value.get("shape", len(flat))).split(","))
        return flat.reshape(shape)
    return np.asarray(value)


def plotly_figure(at: AppTest, title_part: str) -> dict:
    """The JSON of the first plotly chart whose title contains `title_part`."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title_ = spec.get("layout", {}).get("title", {})
        text = title_.get("text", "") if isinstance(title_, dict) else str(title_)
        if title_part in text:
            return spec
    raise AssertionError(f"no chart titled like {title_part!r}; titles: {plotly_titles(at)}")
