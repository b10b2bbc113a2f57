"""Architecture widgets: the Custom preset's spec editor, the network diagram (DOT), and "Import a model".

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

from fmnist_core import architecture, data, store
from fmnist_core.architecture import ArchSpec, SpecError
from ui.state import kept

NEW_BLOCK = {"filters": 32, "kernel": 3, "padding": "same", "batch_norm": False, "pool": "max"}
# Field widths (px) that hold each label and value whole; rows of them wrap in a narrow window.
FIELD_PX = {"filters": 124, "kernel": 90, "padding": 104, "pool": 90, "dense": 170, "dropout": 200, "activation": 120}
FORM_PX = 720  # a block's six fields in one row
KERNELS = tuple(k for k in range(architecture.KERNEL_RANGE[0], architecture.KERNEL_RANGE[1] + 1) if k % 2)
TYPE_COLOURS = {
    "Conv2D": "#c7dcf5",
    "MaxPooling2D": "#d9f0d3",
    "AveragePooling2D": "#d9f0d3",
    "BatchNormalization": "#f3e3c3",
    "Activation": "#f3e3c3",
    "Dense": "#e6d5f2",
    "Dropout": "#eeeeee",
    "Flatten": "#eeeeee",
}


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


# --- the diagram -------------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """A DOT string literal; line breaks become DOT's \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _layer_detail(layer: Any) -> str:
    """One line about a Keras layer's settings for the diagram."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        k = layer.kernel_size
        act = layer.activation.__name__
        return f"{k[0]}x{k[1]} conv, {layer.filters} filters, {layer.padding}" + ("" if act == "linear" else f", {act}")
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return f"{layer.pool_size[0]}x{layer.pool_size[1]} {'max' if kind.startswith('Max') else 'average'} pool"
    if kind == "Dense":
        return f"{layer.units} units, {layer.activation.__name__}"
    if kind == "Dropout":
        return f"rate {layer.rate:g}"
    if kind == "Activation":
        return layer.activation.__name__
    return ""


def _spec_details(spec: ArchSpec) -> list[str]:
    """The same one-liners from the spec, without building anything."""
    details = []
    blocks = iter(spec.conv)
    rows = architecture.describe(spec).layers
    for row in rows:
        if row.type == "Conv2D":
            block = next(blocks)
            act = "" if block.batch_norm else f", {spec.activation}"
            details.append(f"{block.kernel}x{block.kernel} conv, {block.filters} filters, {block.padding}{act}")
        elif row.type.endswith("Pooling2D"):
            details.append(f"2x2 {'max' if row.type.startswith('Max') else 'average'} pool")
        elif row.type == "Dense":
            details.append(f"{row.output_shape[0]} units, {'softmax' if row is rows[-1] else spec.activation}")
        elif row.type == "Dropout":
            details.append(f"rate {spec.dropout:g}")
        elif row.type == "Activation":
            details.append(spec.activation)
        else:
            details.append("")
    return details


def architecture_diagram(source: ArchSpec | dict[str, Any] | Any) -> str:
    """A DOT graph of the network, input to output, one box per layer (name, settings, output shape); for
    st.graphviz_chart, which renders DOT in the browser without the graphviz package."""
    if isinstance(source, ArchSpec | dict | str):
        spec = architecture.parse_spec(source)
        rows = [(r.name, r.type, r.output_shape) for r in architecture.describe(spec).layers]
        details = _spec_details(spec)
    else:
        from fmnist_core.model import summary_rows

        rows = [(r.name, r.type, r.output_shape) for r in summary_rows(source)]
        details = [_layer_detail(layer) for layer in source.layers]
    lines = [
        "digraph network {",
        # Transparent background and filled pastel boxes with dark text: readable in the light and dark themes.
        '  rankdir=TB; nodesep=0.2; ranksep=0.25; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#ffffff",'
        ' color="#888888", fontcolor="#111111"];',
        '  edge [color="#888888", arrowsize=0.6];',
        f"  input [label={_quote('input' + chr(10) + '28 x 28 x 1')}];",
    ]
    previous = "input"
    for i, ((name, kind, shape), detail) in enumerate(zip(rows, details, strict=True)):
        node = f"n{i}"
        label = "\n".join(part for part in (f"{name} ({kind})", detail, " x ".join(str(d) for d in shape)) if part)
        lines.append(f"  {node} [label={_quote(label)}, fillcolor={_quote(TYPE_COLOURS.get(kind, '#ffffff'))}];")
        lines.append(f"  {previous} -> {node};")
        previous = node
    lines.append("}")
    return "\n".join(lines)


# --- importing a model -------------------------------------------------------------------------------------
def _import_name_problem(name: str) -> str | None:
    """Why a typed import name can't be the run's id, checked as it is typed; None when it can (or is empty)."""
    if not name:
        return None
    try:
        store.validate_run_id(name)
    except store.StoreError:
        return f"“{name[:40]}” can't be a run id: use letters, digits, '_' and '-' only."
    if _run_exists(name):
        return f"A run named {name} exists already; choose another name."
    return None


def _run_exists(run_id: str) -> bool:
    try:
        store.get_run(run_id)
    except store.StoreError:
        return False
    return True


def import_model_widget(key: str = "import_model") -> str | None:
    """ "Import a model" for the Model page: a .keras file is checked (no code from it runs), evaluated on the
    test set and stored as a run. Returns the new run's id once imported (and offers to make it active)."""
    from fmnist_core.classroom import import_blocker
    from ui.signin import acting
    from ui.state import set_active_run

    actor = acting()
    blocker = import_blocker(actor)
    st.caption(
        f"A Keras 3 .keras file of at most {store.MAX_IMPORT_BYTES // 2**20} MB: a Sequential model of built-in "
        "layers (no Lambda, no custom classes), 28x28 grayscale input, 10 outputs. Inputs are assumed scaled to 0..1."
    )
    upload = st.file_uploader(
        "Import a model (.keras)",
        type=["keras"],
        key=_k(key, "file"),
        max_upload_size=store.MAX_IMPORT_BYTES // 2**20,  # the browser refuses bigger files before sending them
    )
    name = st.text_input(
        "Name (optional)", key=_k(key, "name"), help="Letters, digits, '_' and '-': it becomes the run's id"
    ).strip()
    name_problem = _import_name_problem(name)
    if name_problem:
        st.error(name_problem)
    imported = st.session_state.get(_k(key, "done"))
    file_key = upload.file_id if upload is not None else None
    if imported and (imported["file"] != file_key or not _run_exists(imported["id"])):
        # A new file, no file, or the imported run deleted since: the old success no longer describes anything.
        st.session_state.pop(_k(key, "done"), None)
        imported = None
    if blocker:
        st.warning(blocker)
    if st.button(
        "Import", key=_k(key, "go"), disabled=upload is None or bool(name_problem) or bool(blocker), type="primary"
    ):
        try:
            with st.spinner("Checking the file and evaluating it on the 10,000 test images..."):
                result = store.import_model_details(
                    upload.getvalue(), name=name or None, file_name=upload.name, actor=actor
                )
        except (store.StoreError, data.DataError) as exc:
            st.error(f"**{upload.name}** was not imported: {exc}")
            return None
        imported = {
            "id": result.run_id,
            "label": result.info.label(),
            "accuracy": result.info.test_accuracy,
            "notes": list(result.notes),
            "file": file_key,
        }
        st.session_state[_k(key, "done")] = imported
    if imported:
        st.success(
            f"Imported **{imported['label']}** (id {imported['id']}): test accuracy {imported['accuracy']:.2%} on the "
            "10,000 test images."
        )
        for note in imported["notes"]:
            st.caption(note)
        st.button("Use this model", key=_k(key, "use"), on_click=set_active_run, args=(imported["id"],))
        return imported["id"]
    return None
