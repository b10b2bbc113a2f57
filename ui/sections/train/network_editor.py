"""The Custom preset's spec editor and the cost panel under it (the Train page).

The editor keeps one spec as the truth in the session (a plain dict, possibly invalid) and two views of it:
per-block widgets and a JSON text area. Whichever the user edited last wins: a widget change rewrites the JSON,
a JSON edit that is a valid spec re-creates the widgets (their keys carry a version number, so new widgets
take the new values). An invalid spec is shown with its one-sentence reason and the editor returns None.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import streamlit as st

from fmnist_core.nets import architecture
from fmnist_core.nets.architecture import ArchSpec, SpecError
from ui.session import kept

NEW_BLOCK = {"filters": 32, "kernel": 3, "padding": "same", "batch_norm": False, "pool": "max"}
# Field widths (px) that hold each label and value whole; rows of them wrap in a narrow window.
FIELD_PX = {"filters": 124, "kernel": 90, "padding": 104, "pool": 90, "dense": 170, "dropout": 200, "activation": 120}
FORM_PX = 720  # a block's six fields in one row
KERNELS = tuple(k for k in range(architecture.KERNEL_RANGE[0], architecture.KERNEL_RANGE[1] + 1) if k % 2)


# --- the spec editor ---------------------------------------------------------------------------------------
def _k(key: str, name: str) -> str:
    return f"{key}.{name}"


def _widget_key(key: str, name: str) -> str:
    """Keys of the per-field widgets carry the version, so a JSON edit or a removed block re-creates them."""
    return f"{key}.v{st.session_state[_k(key, 'version')]}.{name}"


def _json_text(raw: dict[str, Any]) -> str:
    try:
        return architecture.to_json(architecture.parse_spec(raw))
    except SpecError:
        return json.dumps(raw, indent=2)


def _set_raw(key: str, raw: dict[str, Any], rebuild_widgets: bool) -> None:
    """Make `raw` the edited spec and refresh the JSON text (callbacks only: they run before the widgets)."""
    st.session_state[_k(key, "raw")] = raw
    st.session_state[_k(key, "json")] = _json_text(raw)
    st.session_state[_k(key, "json_error")] = None
    if rebuild_widgets:
        st.session_state[_k(key, "version")] += 1


def _dense_from_text(text: str) -> list[Any]:
    """ "128, 64" -> [128, 64]; tokens that are not whole numbers stay text so the spec's check names them."""
    units: list[Any] = []
    for token in text.replace(";", ",").split(","):
        token = token.strip()
        if token:
            units.append(int(token) if token.isdigit() else token)
    return units


def _from_widgets(key: str) -> None:
    """A field widget changed: read every field widget back into the spec."""
    state = st.session_state
    raw = copy.deepcopy(state[_k(key, "raw")])
    for i, block in enumerate(raw["conv"]):
        for field in ("filters", "kernel", "padding", "batch_norm", "pool"):
            widget = _widget_key(key, f"{i}.{field}")
            if widget in state:
                block[field] = state[widget]
    if _widget_key(key, "dense") in state:
        raw["dense"] = _dense_from_text(state[_widget_key(key, "dense")])
    for field in ("dropout", "activation"):
        if _widget_key(key, field) in state:
            raw[field] = state[_widget_key(key, field)]
    _set_raw(key, raw, rebuild_widgets=False)


def _add_block(key: str) -> None:
    raw = copy.deepcopy(st.session_state[_k(key, "raw")])
    raw["conv"].append(dict(raw["conv"][-1]) if raw["conv"] else dict(NEW_BLOCK))
    _set_raw(key, raw, rebuild_widgets=True)


def _remove_block(key: str, index: int) -> None:
    raw = copy.deepcopy(st.session_state[_k(key, "raw")])
    del raw["conv"][index]
    _set_raw(key, raw, rebuild_widgets=True)


def _from_json(key: str) -> None:
    """The JSON text changed: adopt it when it is a valid spec, else keep the reason to show."""
    text = st.session_state[_k(key, "json")]
    try:
        spec = architecture.parse_spec(text)
    except SpecError as exc:
        st.session_state[_k(key, "json_error")] = str(exc)
        return
    st.session_state[_k(key, "raw")] = architecture.to_dict(spec)
    st.session_state[_k(key, "json_error")] = None
    st.session_state[_k(key, "version")] += 1


def _init(key: str, initial: ArchSpec | dict[str, Any] | None) -> None:
    if _k(key, "raw") in st.session_state:
        return
    spec = architecture.parse_spec(initial) if initial is not None else architecture.NOTEBOOK_SPEC
    raw = architecture.to_dict(spec)
    st.session_state[_k(key, "raw")] = raw
    st.session_state[_k(key, "json")] = _json_text(raw)
    st.session_state[_k(key, "json_error")] = None
    st.session_state[_k(key, "version")] = 0


def _block_widgets(key: str, index: int, block: dict[str, Any], removable: bool) -> None:
    """One conv block's fields in a bordered row of fixed widths that wraps: every label and value stays whole,
    where columns shared out a narrow form left "Bloc k 1 filter s" and empty select boxes."""
    row = st.container(border=True, horizontal=True, vertical_alignment="bottom")
    low, high = architecture.FILTERS_RANGE
    filters = block.get("filters")
    kernel = block.get("kernel")
    on = {"on_change": _from_widgets, "args": (key,)}
    row.number_input(
        f"Block {index + 1} filters",
        low,
        high,
        value=filters if isinstance(filters, int) and low <= filters <= high else NEW_BLOCK["filters"],
        step=4,
        key=_widget_key(key, f"{index}.filters"),
        width=FIELD_PX["filters"],
        **on,
    )
    row.selectbox(
        "Kernel",
        KERNELS,
        index=KERNELS.index(kernel) if kernel in KERNELS else 1,
        format_func=lambda k: f"{k}x{k}",
        key=_widget_key(key, f"{index}.kernel"),
        width=FIELD_PX["kernel"],
        **on,
    )
    for field, options, default in (
        ("padding", architecture.PADDINGS, "valid"),
        ("pool", architecture.POOLS, "max"),
    ):
        value = block.get(field, default)
        row.selectbox(
            field.capitalize(),
            options,
            index=options.index(value) if value in options else 0,
            key=_widget_key(key, f"{index}.{field}"),
            width=FIELD_PX[field],
            **on,
        )
    row.checkbox(
        "Batch norm",
        value=block.get("batch_norm") is True,
        key=_widget_key(key, f"{index}.batch_norm"),
        width="content",
        **on,
    )
    row.button(
        "Remove",
        key=_widget_key(key, f"{index}.remove"),
        on_click=_remove_block,
        args=(key, index),
        disabled=not removable,
        help="Remove this block" if removable else "A network needs at least one conv block",
    )


def spec_editor(key: str, initial: ArchSpec | dict[str, Any] | None = None) -> ArchSpec | None:
    """The Custom preset's editor: blocks as widgets (added and removed with buttons), dense layers, dropout,
    activation, the same spec as JSON, the live layer table and cost. Returns the spec, or None (after showing
    the one-sentence reason) while it is invalid."""
    _init(key, initial)
    raw = st.session_state[_k(key, "raw")]
    blocks = raw.get("conv") if isinstance(raw.get("conv"), list) else []
    on = {"on_change": _from_widgets, "args": (key,)}
    # The JSON under the form, both as wide as a block's row: beside each other they would squeeze one or both
    # below about 1,800 px.
    form = st.container(width=FORM_PX)
    with form:
        st.markdown("**Conv blocks**: conv (+ batch norm) + activation, then a 2x2 pool")
        for i, block in enumerate(blocks):
            _block_widgets(key, i, block if isinstance(block, dict) else {}, removable=len(blocks) > 1)
        st.button(
            "Add block",
            key=_k(key, "add"),
            on_click=_add_block,
            args=(key,),
            disabled=len(blocks) >= architecture.MAX_BLOCKS,
            help=f"Up to {architecture.MAX_BLOCKS} conv blocks",
        )
        dense_row = st.container(horizontal=True)  # what comes after the conv blocks
        dense = raw.get("dense", [])
        dense_row.text_input(
            "Dense layers (units)",
            value=", ".join(str(u) for u in dense) if isinstance(dense, list) else str(dense),
            key=_widget_key(key, "dense"),
            help="0 to 3 hidden layers, e.g. 128 or 256, 64; the 10-way output is added",
            width=FIELD_PX["dense"],
            **on,
        )
        dropout = raw.get("dropout", 0.0)
        dense_row.slider(
            "Dropout",
            0.0,
            architecture.MAX_DROPOUT,
            value=float(dropout) if isinstance(dropout, int | float) and 0 <= dropout <= 0.8 else 0.0,
            step=0.05,
            key=_widget_key(key, "dropout"),
            help="Rate of a Dropout layer before each dense layer, the output's included",
            width=FIELD_PX["dropout"],
            **on,
        )
        activation = raw.get("activation", "relu")
        dense_row.selectbox(
            "Activation",
            architecture.ACTIVATIONS,
            index=architecture.ACTIVATIONS.index(activation) if activation in architecture.ACTIVATIONS else 0,
            key=_widget_key(key, "activation"),
            width=FIELD_PX["activation"],
            **on,
        )
        # kept: Streamlit drops a widget's text in any run that does not draw it (while a training runs, on other
        # pages), and the box came back empty while the block fields, drawn from the spec, still showed it.
        kept(
            st.text_area,
            "Spec (JSON)",
            _k(key, "json"),
            _json_text(raw),
            on_change=_from_json,
            args=(key,),
            height=260,
            help="Edit the fields above or this JSON: each follows the other",
        )
    problem = st.session_state[_k(key, "json_error")]
    spec: ArchSpec | None = None
    if problem is None:
        try:
            spec = architecture.parse_spec(raw)
        except SpecError as exc:
            problem = str(exc)
    if spec is None:
        st.error(f"This network can't be built: {problem}")
        return None
    cost_panel(spec)
    return spec


def cost_panel(spec: ArchSpec) -> None:
    """The layer table and what the network costs: parameters and MFLOP per image. How long it trains is the
    Train page's estimate below the editor, from this machine's runs and the fields as set."""
    described = architecture.describe(spec)
    st.dataframe(
        [
            {
                "layer": row.name,
                "type": row.type,
                "output shape": " x ".join(str(d) for d in row.output_shape),
                "parameters": row.params,
                "MFLOP": round((row.flops or 0) / 1e6, 3),
            }
            for row in described.layers
        ],
        hide_index=True,
    )
    numbers = st.container(horizontal=True)  # the three numbers wrap rather than shrink
    numbers.metric("Parameters", f"{described.params:,}", width="content")
    numbers.metric(
        "MFLOP per image",
        f"{described.mflop_forward:.1f}",
        help="Forward pass; a multiply-add is 2 FLOP",
        width="content",
    )
    numbers.metric(
        "MFLOP per training image",
        f"{described.mflop_train:.1f}",
        help="Forward pass, weight gradients and input gradients: what one training step costs per image",
        width="content",
    )
