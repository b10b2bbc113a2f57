"""Explain a cell (Feature maps): pick a cell of the channel's map (click the heatmap, type Row and Column, or bring
?cell=ROW,COL in the address), see its receptive field and how its value is made, in numbers a learner can redo.

explain_cell_section draws its own clickable copy of the channel heatmap and reads ?cell=ROW,COL itself; it returns
"ROW,COL" for the address (the page puts CELL_PARAM among the parameters it reads, so a pasted cell= counts as new).
Its widgets are keyed with a "lab_" prefix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ui.figures.cells import cell_picker_figure, contributions_figure, receptive_field_figure, small_matrix_html

CELL_PARAM = "cell"
NO_TOOLBAR = {"displayModeBar": False}  # small figures: the toolbar would cover their titles
ROW_KEY, COL_KEY = "lab_row", "lab_col"
CELL_FIGURE_PX = 400  # the cell picker and the receptive field
MATRIX_PX = 210  # a 3x3 matrix with its numbers written in
_CELL_URL_KEY = "_lab_cell_url"  # the cell= value last returned for the address
_CELL_SEEN_KEY = "_lab_cell_seen"  # the cell= value last read from the address: applied once, not on every rerun
_CELL_LAYER_KEY = "_lab_cell_layer"  # the layer whose cell was explained last
_CHART_NONCE_KEY = "_lab_cell_chart_n"  # a fresh chart key after each click, so a stale selection never re-applies


def parse_cell(raw: str, height: int, width: int) -> tuple[tuple[int, int] | None, str | None]:
    """'ROW,COL' -> ((row, col), None) inside an height x width map, or (None, a sentence saying what is wrong)."""
    parts = raw.split(",")
    try:
        row, col = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        row = col = None
    if row is None or col is None:
        return None, f"`cell={raw[:40]}` in the address is not ROW,COL (two whole numbers)"
    if not (0 <= row < height and 0 <= col < width):
        return None, f"`cell={row},{col}` in the address is outside the {height}×{width} map"
    return (row, col), None


def _clicked_cell(event: Any, width: int) -> tuple[int, int] | None:
    """The cell of a click on the picker's marker trace (trace 1, one marker per cell in row-major order)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in points:
        if point.get("curve_number") == 1 and isinstance(point.get("point_index"), int):
            row, col = divmod(point["point_index"], width)
            return int(row), int(col)
    return None


def _strongest(channel_map: np.ndarray) -> tuple[int, int]:
    """The cell with the channel's largest value (the first one in reading order on a tie)."""
    row, col = np.unravel_index(int(np.argmax(channel_map)), channel_map.shape)
    return int(row), int(col)


def _choose_cell(channel_map: np.ndarray, layer: str) -> tuple[int, int]:
    """The cell to explain: the address (when it changed), else a click, else the inputs; clamped to the map.

    A new layer starts at its channel's strongest cell, as the first view does: the previous layer's row and column
    mean nothing on another map (and often land on a cell whose value is 0).
    """
    h, w = channel_map.shape
    state = st.session_state
    raw = st.query_params.get(CELL_PARAM)
    if raw is not None and raw not in (state.get(_CELL_URL_KEY), state.get(_CELL_SEEN_KEY)):
        state[_CELL_SEEN_KEY] = raw
        cell, problem = parse_cell(raw, h, w)
        if problem:
            cell = _strongest(channel_map)
            st.warning(f"{problem}; explaining the channel's strongest cell, row {cell[0]}, column {cell[1]}.")
        state[ROW_KEY], state[COL_KEY] = cell
    elif state.get(_CELL_LAYER_KEY) not in (None, layer):
        state[ROW_KEY], state[COL_KEY] = _strongest(channel_map)
    state[_CELL_LAYER_KEY] = layer
    nonce = state.get(_CHART_NONCE_KEY, 0)
    clicked = _clicked_cell(state.get(f"lab_cell_chart_{nonce}"), w)
    if clicked is not None:
        state[ROW_KEY], state[COL_KEY] = clicked
        state[_CHART_NONCE_KEY] = nonce + 1
    if ROW_KEY not in state or COL_KEY not in state:
        state[ROW_KEY], state[COL_KEY] = _strongest(channel_map)
    # the same layer name in another model can have a smaller map: keep the inputs inside it
    state[ROW_KEY] = min(max(int(state[ROW_KEY]), 0), h - 1)
    state[COL_KEY] = min(max(int(state[COL_KEY]), 0), w - 1)
    return state[ROW_KEY], state[COL_KEY]


def explain_cell_section(
    info: Any, model: Any, image: np.ndarray, image_index: int | None, layer: str, channel: int, maps: np.ndarray
) -> str:
    """Pick a cell (click the heatmap or type Row and Column), see its receptive field and how its value is made.

    Returns the cell as "ROW,COL" for the address (?cell=ROW,COL).
    """
    from fmnist_core.explain.cells import explain_cell

    st.subheader("Explain a cell")
    channel_map = maps[:, :, channel]
    h, w = channel_map.shape
    _choose_cell(channel_map, layer)
    a, b = st.columns(2)
    row = int(a.number_input("Row", 0, h - 1, key=ROW_KEY, help=f"0 to {h - 1}"))
    col = int(b.number_input("Column", 0, w - 1, key=COL_KEY, help=f"0 to {w - 1}"))
    cell = explain_cell(model, image, layer, channel, row, col)
    source = f"#{image_index}" if image_index is not None else "the uploaded image"

    figures = st.container(horizontal=True)  # side by side when they fit, else one under the other
    left, right = figures.container(width=CELL_FIGURE_PX), figures.container(width=CELL_FIGURE_PX)
    nonce = st.session_state.get(_CHART_NONCE_KEY, 0)
    left.plotly_chart(
        cell_picker_figure(channel_map, f"{layer} · channel {channel}: click a cell", (row, col)),
        width="stretch",
        key=f"lab_cell_chart_{nonce}",
        on_select="rerun",
        selection_mode="points",
        config=NO_TOOLBAR,
    )
    top, left_px, bottom, right_px = cell.receptive_field
    right.plotly_chart(
        receptive_field_figure(
            image, cell.receptive_field, f"Receptive field: rows {top}–{bottom}, columns {left_px}–{right_px}"
        ),
        width="stretch",
        key="lab_cell_field",
    )
    st.markdown(f"**{layer}, channel {channel}, row {row}, column {col} of {source}: {cell.value:.4f}**")
    if cell.kind == "conv":
        _explain_conv(cell)
    else:
        _explain_pool(cell)
    if cell.note:
        st.caption(f"This is {cell.note}.")
    source_text = "the input image" if cell.source_layer == "input" else f"{cell.source_layer}'s output"
    weights = "the layer's weights and " if cell.kind == "conv" else ""
    st.caption(
        f"Recomputed here in numpy from {weights}{source_text}; the model's own value is {cell.model_value:.6f}."
    )
    value = f"{row},{col}"
    st.session_state[_CELL_URL_KEY] = value
    return value


def _matrix_row() -> list[Any]:
    """Three places for a patch, its kernel and their products: in a row when they fit, wrapping when not, each wide
    enough for its numbers to read."""
    row = st.container(horizontal=True)
    return [row.container(width=MATRIX_PX) for _ in range(3)]


def _explain_conv(cell: Any) -> None:
    cin = cell.source_shape[2]
    st.markdown(
        f"Sum of the {cell.products.size} products (the {cell.kernel.shape[0]}×{cell.kernel.shape[1]} window × "
        f"{cin} input channel{'s' if cin > 1 else ''}) **{cell.total:.4f}** + bias **{cell.bias:.4f}** = "
        f"**{cell.pre_activation:.4f}**, then {cell.activation} → **{cell.value:.4f}**"
    )
    if cin == 1:
        cols = _matrix_row()
        titles = ("Input patch", "Kernel", "Products")
        arrays = (cell.patch[:, :, 0], cell.kernel[:, :, 0], cell.products[:, :, 0])
        for n, (col, title, values) in enumerate(zip(cols, titles, arrays, strict=True)):
            col.html(small_matrix_html(values, title, diverging=n > 0))
        return
    st.plotly_chart(contributions_figure(cell.contributions), width="stretch", key="lab_cell_contrib")
    st.markdown("**The strongest input channels: patch, kernel and products**")
    for k in np.argsort(-np.abs(cell.contributions), kind="stable")[:3]:
        k = int(k)
        cols = _matrix_row()
        arrays = (cell.patch[:, :, k], cell.kernel[:, :, k], cell.products[:, :, k])
        titles = (
            f"{cell.source_layer} ch {k}: patch",
            f"kernel for ch {k}",
            f"products: {cell.contributions[k]:+.4f}",
        )
        for n, (col, title, values) in enumerate(zip(cols, titles, arrays, strict=True)):
            col.html(small_matrix_html(values, title, diverging=n > 0))


def _explain_pool(cell: Any) -> None:
    top, left = cell.window[0], cell.window[1]
    if cell.kind == "max_pool":
        winner = (cell.winner[0] - top, cell.winner[1] - left)
        st.markdown(
            f"The largest of the {cell.patch.size} values in {cell.source_layer}'s window (rows {top}–{cell.window[2]}, "
            f"columns {left}–{cell.window[3]}) wins: **{cell.value:.4f}** at row {cell.winner[0]}, "
            f"column {cell.winner[1]}."
        )
    else:
        winner = None
        st.markdown(f"The mean of {cell.source_layer}'s window (rows {top}–{cell.window[2]}): **{cell.value:.4f}**.")
    st.container(width=MATRIX_PX).html(small_matrix_html(cell.patch, f"{cell.source_layer} window", marked=winner))
