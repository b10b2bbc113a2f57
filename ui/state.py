"""Cached loaders and session helpers shared by the pages.

Models load once per process (st.cache_resource, keyed by run id and its creation time) and are read-only;
predictions and activations are cached per (run, image) with st.cache_data. Heavy imports happen inside
the functions so pages that don't need TensorFlow never import it.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core import settings
from fmnist_core.analysis import run_results
from fmnist_core.data import fashion_mnist
from fmnist_core.runs import metadata, paths, store
from ui.signin import acting

MODEL_KEY = "model_id"  # the active run's id: a plain session value, the one source of truth across pages
MODEL_PARAM = "model"  # ?model=RUN_ID: every link between pages carries the active model


# --- data ------------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading Fashion-MNIST...")
def _test_set() -> fashion_mnist.Split:
    return fashion_mnist.load_test_set()


def test_set_or_message() -> fashion_mnist.Split | None:
    """The test set, or None after showing one clear message with the fix (the page keeps working)."""
    try:
        return _test_set()
    except fashion_mnist.DataError as exc:
        st.error(f"**Fashion-MNIST is not available.** {exc}")
        return None


# --- runs and models -------------------------------------------------------------------------------
def runs() -> list[metadata.RunInfo]:
    """Every run this person may see, shipped first; cheap (reads JSON, cached checks of model files)."""
    return store.list_runs(actor=acting())


def active_run_id() -> str:
    """The run chosen in the sidebar's "Model" box (the shipped default until the user picks another)."""
    return st.session_state.get(MODEL_KEY) or paths.DEFAULT_RUN_ID


def chosen_run_id() -> str | None:
    """The run this session chose, or None before any choice (the sidebar then picks the first run it lists)."""
    return st.session_state.get(MODEL_KEY)


def set_active_run(run_id: str) -> None:
    """Make a run the active model; call from a widget callback (before the sidebar box is drawn)."""
    st.session_state[MODEL_KEY] = run_id


def choose_run(run_id: str) -> str | None:
    """Make a run active after checking it still exists, may be opened and is usable; else the sentence why not
    (a run deleted since the page was drawn says who deleted it) and nothing changes."""
    try:
        info = store.get_run(run_id, actor=acting())
    except store.StoreError as exc:
        return str(exc)
    if not info.usable:
        return f"Run {run_id} is damaged: {info.error}"
    set_active_run(info.id)
    return None


def run_missing(run_id: str) -> str | None:
    """The sentence for a run that is gone since it was made (deleted, or hidden from this person), else None."""
    try:
        store.get_run(run_id, actor=acting())
    except store.StoreError as exc:
        return str(exc)
    return None


def model_from_address() -> None:
    """Follow ?model=RUN_ID when the address brings a model this session did not write (a shared link).

    A run that does not exist (or may not be opened) gives a warning and the shipped default.
    """
    raw = st.query_params.get(MODEL_PARAM)
    if raw is None or raw == st.session_state.get("_url_model"):
        return
    st.session_state["_url_model"] = raw
    try:
        info = store.get_run(raw, actor=acting())  # a run this person may not see is answered as missing
    except store.StoreError:
        info = None
    if info is None or not info.usable:
        why = "does not exist" if info is None else "is damaged"
        st.warning(f"The model `{raw[:60]}` in the address {why}; showing the shipped default model instead.")
        set_active_run(paths.DEFAULT_RUN_ID)
    else:
        set_active_run(info.id)


def show_model_in_address() -> None:
    """Put the active model in the address (pages that write their own view do it in write_url)."""
    run_id = active_run_id()
    st.session_state["_url_model"] = run_id
    if st.query_params.get(MODEL_PARAM) != run_id:
        st.query_params[MODEL_PARAM] = run_id


def link_params(**params: Any) -> dict[str, str]:
    """Query parameters for a link to another page: the given ones plus the active model, so it is kept."""
    return {**{k: str(v) for k, v in params.items()}, MODEL_PARAM: active_run_id()}


def active_run() -> metadata.RunInfo | None:
    """The active run's info, or None after showing why it can't be used (deleted, damaged)."""
    run_id = active_run_id()
    try:
        info = store.get_run(run_id, actor=acting())
    except store.StoreError:
        by = store.deleted_by(run_id)
        how = "no longer exists" if by is None else f"was deleted{f' by {by}' if by else ''}"
        st.warning(f"The selected model **{run_id}** {how}. Pick another in the sidebar.")
        return None
    if not info.usable:
        st.error(f"The selected model **{run_id}** is damaged: {info.error}. Pick another in the sidebar.")
        return None
    return info


@st.cache_resource(max_entries=6, show_spinner="Loading the model...")
def cached_model(run_id: str, created: str | None) -> Any:
    return store.load_model(run_id)


def model_or_message(info: metadata.RunInfo) -> Any | None:
    """The loaded Keras model for a run, or None after showing why it can't be loaded."""
    try:
        return cached_model(info.id, info.created)
    except store.StoreError as exc:
        st.error(f"**The model could not be loaded.** {exc}")
        return None


@st.cache_data(max_entries=6, show_spinner="Predicting all 10,000 test images...")
def test_probabilities(run_id: str, created: str | None) -> np.ndarray:
    """Probabilities for the whole test set, once per model (float32), kept on disk beside the run."""

    return run_results.test_probabilities(run_id, lambda: cached_model(run_id, created), _test_set().images)


@st.cache_data(max_entries=6, show_spinner="Looking for suspect labels (cleanlab)...")
def suspect_labels(run_id: str, created: str | None) -> list[Any]:
    """cleanlab's suspect test labels under this model, most suspect first, from the cached test probabilities."""
    from fmnist_core.analysis.suspect_labels import find_suspects

    return find_suspects(_test_set().labels, test_probabilities(run_id, created))


@st.cache_data(max_entries=64, show_spinner=False)
def upload_activations(run_id: str, created: str | None, digest: str, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for an uploaded image (keyed by its digest)."""
    from fmnist_core.analysis.activations import layer_outputs

    return layer_outputs(cached_model(run_id, created), image)


@st.cache_data(max_entries=64, show_spinner=False)
def upload_probabilities(run_id: str, created: str | None, digest: str, image: np.ndarray) -> np.ndarray:
    """Class probabilities for an uploaded image."""
    from fmnist_core.nets.inference import predict_proba

    return predict_proba(cached_model(run_id, created), image)[0]


@st.cache_data(max_entries=256, show_spinner=False)
def image_activations(run_id: str, created: str | None, image_index: int) -> dict[str, np.ndarray]:
    """Every layer's output for one test image, once per (model, image)."""
    from fmnist_core.analysis.activations import layer_outputs

    return layer_outputs(cached_model(run_id, created), _test_set().images[image_index])


# --- measuring -------------------------------------------------------------------------------------
def timed(label: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Append each call's server time to $FMNIST_TIMINGS (JSON lines), so the benchmark measures real reruns.

    Off (a plain call) unless the variable is set; the benchmark sets it on the server it starts.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            path = settings.timings_file()
            if not path:
                return fn(*args, **kwargs)
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - started) * 1000
                with open(path, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"label": label, "ms": ms}) + "\n")

        return run

    return wrap


# --- query parameters -------------------------------------------------------------------------------
def int_param(name: str, low: int, high: int) -> tuple[int | None, str | None]:
    """Read ?name= as an int in [low, high]: (value, None), (None, None) if absent, or (None, message)."""
    raw = st.query_params.get(name)
    if raw is None or raw == "":
        return None, None
    try:
        value = int(raw)
    except ValueError:
        return None, f"`{name}={raw[:40]}` in the address is not a whole number"
    if not low <= value <= high:
        return None, f"`{name}={value}` in the address is outside {low}..{high}"
    return value, None


def url_params(names: tuple[str, ...]) -> dict[str, str | None]:
    """The raw values of these query parameters (None when absent)."""
    return {name: st.query_params.get(name) for name in names}


def url_is_new(page: str, raw: dict[str, str | None]) -> bool:
    """True when the address differs from what this page last wrote: the user came with a link or edited it."""
    present = {k: v for k, v in raw.items() if v is not None}
    written = st.session_state.get(f"_url_{page}")
    if written is None:
        return True
    return {k: v for k, v in written.items() if k != MODEL_PARAM} != present


def write_url(page: str, params: dict[str, Any]) -> None:
    """Make the address bar follow the widgets (and the active model), so the view can be shared."""
    wanted = link_params(**params)
    st.session_state["_url_model"] = wanted[MODEL_PARAM]
    st.session_state[f"_url_{page}"] = dict(wanted)
    if {k: st.query_params.get(k) for k in wanted} != wanted or set(st.query_params.keys()) - set(wanted):
        st.query_params.from_dict(wanted)


# --- widget values that outlive their page -----------------------------------------------------------
KEPT_KEY = "_kept_widgets"


def kept(widget: Callable[..., Any], label: str, key: str, default: Any, **kwargs: Any) -> Any:
    """Draw `widget(label, key=key, **kwargs)` seeded with the value the user last chose.

    Streamlit deletes a widget's state at the end of any run that does not draw it, so a visit to another
    page would reset filters and forms to their defaults. The last value is kept under a plain session key
    and put back before the widget is drawn again (no `value=` is passed, so Streamlit has one source).
    """
    store_ = st.session_state.setdefault(KEPT_KEY, {})
    if key not in st.session_state:
        st.session_state[key] = store_.get(key, default)
    value = widget(label, key=key, **kwargs)
    store_[key] = value
    return value


def forget_kept(*keys: str) -> None:
    """Drop kept values (and the live widget state) so the next draw starts from the default."""
    store_ = st.session_state.setdefault(KEPT_KEY, {})
    for key in keys:
        store_.pop(key, None)
        st.session_state.pop(key, None)


def kept_value(key: str, default: Any) -> Any:
    """The widget's current value, else the value the user last chose on an earlier visit, else `default`."""
    if key in st.session_state:
        return st.session_state[key]
    return st.session_state.get(KEPT_KEY, {}).get(key, default)


def readable_time(stamp: str | None) -> str:
    """An ISO timestamp as people read it ('2026-11-28 13:45 UTC'); '—' when absent or unparseable."""
    from datetime import datetime

    if not stamp:
        return "—"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    zone = " UTC" if when.utcoffset() is not None and when.utcoffset().total_seconds() == 0 else ""
    return f"{when:%Y-%m-%d %H:%M}{zone}"


def run_label(run: metadata.RunInfo) -> str:
    """A run as people read it (name or preset and time, accuracy): the same text in every picker and chart."""
    return run.label()
