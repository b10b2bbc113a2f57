"""The session and the address: the active run (chosen in the sidebar, carried as ?model= in every link), the
address bar following a page's view, and widget values kept across visits to other pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from fmnist_core.runs import metadata, paths, store
from ui.signin import acting

MODEL_KEY = "model_id"  # the active run's id: a plain session value, the one source of truth across pages
MODEL_PARAM = "model"  # ?model=RUN_ID: every link between pages carries the active model


# --- the active run -----------------------------------------------------------------------------------
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
