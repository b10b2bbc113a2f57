"""The app's frame: page config, the page list, the sidebar's "Model" picker and the router.

app.py calls `run_app()`. Every page file begins with `page_frame()`, which matters only on a server's very
first request: Streamlit 1.67 starts in its legacy multipage mode when a `pages/` folder exists
(PagesManager.uses_pages_directory) and, until some script calls st.navigation, runs a deep-linked page file
directly, without app.py. `page_frame()` notices that pass and runs the real app instead (st.navigation with
the real page list, the sidebar, then the page), then ends the legacy pass.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import streamlit as st  # noqa: E402
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402

from ui import signin  # noqa: E402
from ui.readable import mine_first, run_labels  # noqa: E402
from ui.session import (  # noqa: E402
    chosen_run_id,
    model_from_address,
    runs,
    set_active_run,
    show_model_in_address,
)
from ui.timings import timed  # noqa: E402

MODEL_BOX_KEY = "_model_box"  # the sidebar "Model" box's own widget state, seeded from the active run on every run


def keep_keras_state() -> bool:
    """Stop Streamlit from calling keras.backend.clear_session() after every script run; True when it was patched.

    Streamlit 1.67's ScriptRunner ends each run, fragment runs and each Train page poll included, with
    `_clean_problem_modules()`, which clears Keras' global state whenever keras is imported: TensorFlow's kernel
    cache is dropped and a full gc.collect() runs, in the server, while other sessions predict with their
    cached models: a Feature maps Channel change became many times slower while other sessions watched their
    trainings (docs/performance.md). Models here are named explicitly and cached per run, so there is nothing for
    it to clean. matplotlib figures are still closed as Streamlit intends.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if not hasattr(script_runner, "_clean_problem_modules"):
        return False

    def clean_without_keras() -> None:
        import sys

        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            try:
                pyplot.close("all")
            except Exception:  # noqa: BLE001, S110 - as Streamlit does: never fail a run over this
                pass

    script_runner._clean_problem_modules = clean_without_keras
    return True


_LOG = logging.getLogger("fmnist.frame")


def check_streamlit_patches() -> list[str]:
    """Apply the two places that lean on Streamlit's internals; log one warning for each that cannot apply.

    A newer Streamlit could silently undo them (requirements.txt pins the versions the suite ran on), so a server
    says so at start-up instead of slowing down or showing "Page not found" without a word.
    """
    problems = []
    if not keep_keras_state():
        problems.append(
            "cannot stop Streamlit from clearing Keras' state after every script run "
            "(streamlit.runtime.scriptrunner.script_runner._clean_problem_modules is gone): pages may be slower"
        )
    if not hasattr(PagesManager, "uses_pages_directory"):
        problems.append(
            "cannot detect Streamlit's legacy first-request pass (PagesManager.uses_pages_directory is gone): "
            "a deep link as a server's first request may show 'Page not found'"
        )
    for problem in problems:
        _LOG.warning("Streamlit %s: %s", st.__version__, problem)
    return problems


check_streamlit_patches()

# (file, title, icon, url_path): url_path equals the file's stem, so the legacy pass finds the same page.
PAGE_SPECS = (
    ("pages/home.py", "Home", ":material/home:", "home"),
    ("pages/train.py", "Train", ":material/model_training:", "train"),
    ("pages/test_images.py", "Test images", ":material/grid_view:", "test_images"),
    ("pages/feature_maps.py", "Feature maps", ":material/layers:", "feature_maps"),
    ("pages/model.py", "Model", ":material/analytics:", "model"),
    ("pages/embedding.py", "Embedding", ":material/scatter_plot:", "embedding"),
    ("pages/quiz.py", "Predict the model", ":material/psychology:", "quiz"),
)
# Pages that exist only with sign-in (without it the app is one person's), listed for teachers only.
CLASS_PAGE_SPECS = (("pages/class.py", "Class", ":material/groups:", "class"),)


def _pages(signed_in: bool = False, teacher: bool = False) -> list[st.Page]:
    """The navigation: every page, and with sign-in the Class page, listed for teachers only (a student would find
    only "this page is for teachers" behind the link; the page itself refuses everyone else)."""
    pages = [
        st.Page(path, title=title, icon=icon, url_path=url, default=(url == "home"))
        for path, title, icon, url in PAGE_SPECS
    ]
    if signed_in:
        pages += [
            st.Page(path, title=title, icon=icon, url_path=url, visibility="visible" if teacher else "hidden")
            for path, title, icon, url in CLASS_PAGE_SPECS
        ]
    return pages


def model_picker() -> None:
    """The sidebar's "Model" box: the shipped models and every saved run; the choice holds across pages.

    The active run lives under a plain session key (ui.session's chosen_run_id, set_active_run). The box has a key
    of its own, seeded from it on every run: Streamlit drops a widget's state when a run ends early
    (st.switch_page) or a page skips it, and the model must not fall back to the default then.
    """
    available = mine_first(runs())
    labels = run_labels(available)
    ids = list(labels)
    chosen = chosen_run_id()
    if chosen is not None and chosen not in labels:
        ids.append(chosen)  # keep a deleted run selected so the page can say it is gone
        labels[chosen] = f"{chosen} (deleted)"
    if chosen is None and ids:
        chosen = next((r.id for r in available if r.shipped), ids[0])  # a new session starts on the shipped model
        set_active_run(chosen)
    if ids:
        st.session_state[MODEL_BOX_KEY] = chosen
        st.selectbox(
            "Model",
            ids,
            key=MODEL_BOX_KEY,
            format_func=lambda run_id: labels.get(run_id, run_id),
            on_change=lambda: set_active_run(st.session_state[MODEL_BOX_KEY]),
            help="The model every page shows. Its id is in the address (?model=), so a shared link opens it too.",
        )
    else:
        st.warning("No model yet: train one on the Train page.")


_PRELOAD = """<script>
(() => {
  if (window.__fmnistChartCode) return;  // once per browser tab; st.html is not iframed
  window.__fmnistChartCode = true;
  const main = document.querySelector('script[src*="/static/js/index."]');
  if (!main) return;
  const load = () => import(new URL("CHUNK", main.src).href).catch(() => {});
  (window.requestIdleCallback || ((f) => setTimeout(f, 500)))(load, { timeout: 3000 });
})();
</script>"""


@functools.cache
def chart_code_chunk() -> str | None:
    """The file name of Streamlit's plotly chart code in its static folder (about 4.7 MB), or None."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = sorted(folder.glob("PlotlyChart.*.js"))
    return found[0].name if found else None


def preload_chart_code() -> None:
    """Have the browser load plotly's code while the first page is read, not when the first chart is drawn.

    Streamlit loads its plotly chart code (several MB) only when a page first shows a chart, once per browser tab:
    a newcomer who opens Home and then Embedding waited longer for the map than on a second visit (bench/clicks.py,
    "PCA"; docs/performance.md). The script is ours and constant; it asks for the same file Streamlit would.
    """
    chunk = chart_code_chunk()
    if chunk is not None:
        st.html(_PRELOAD.replace("CHUNK", chunk), unsafe_allow_javascript=True)


def run_app() -> None:
    """Page config, navigation with the real page list, the sidebar, then the chosen page; with sign-in on and
    nobody signed in, the login screen instead (the page and the sidebar's runs are never drawn)."""
    st.set_page_config(page_title="Fashion-MNIST CNN", page_icon=":material/checkroom:", layout="wide")
    actor = signin.current_actor()
    if actor is None:
        st.navigation(_pages(signed_in=True), position="hidden")
        signin.login_screen()
        return
    signin.keep_state_personal(actor)
    page = st.navigation(_pages(signed_in=actor.signed_in, teacher=actor.teacher))
    model_from_address()
    with st.sidebar:
        signin.sidebar_user(actor)
        model_picker()
        preload_chart_code()
    show_model_in_address()
    timed(f"page {page.url_path or 'home'}")(page.run)()  # server time per page run, when $FMNIST_TIMINGS is set


def page_frame() -> None:
    """Call first in every page file: on the legacy first pass, run the real app in its place and stop."""
    if getattr(PagesManager, "uses_pages_directory", False):
        run_app()
        st.stop()
