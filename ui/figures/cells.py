"""One channel's cells: the exemplars with the channel's map laid over them, the clickable cell picker, a cell's
receptive field, the small matrices of a cell's arithmetic and the input channels' contributions. Arrays in, a
Figure, a picture or HTML out.

No backgrounds or font colours are set: st.plotly_chart applies Streamlit's light or dark theme. The colours used
(viridis, a red-blue diverging scale, #ff4b4b outlines) read on both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures.layout import (
    BAR_BELOW,
    COLOURBAR_BELOW,
    GRAY_SCALE,
    HEATMAP_SCALE,
    MARK,
    fast_figure,
    scale_colours,
    square_layout,
)
from ui.figures.pictures import paint

DIVERGING = "RdBu_r"  # negative blue, positive red, zero white-ish: weights and products have a sign
# Viridis with a transparent low end, as (position, (r, g, b, alpha)): where the channel is silent the image shows.
OVERLAY_RGBA = [
    (0.0, (68, 1, 84, 0.0)),
    (0.25, (59, 82, 139, 0.35)),
    (0.5, (33, 145, 140, 0.6)),
    (0.75, (94, 201, 98, 0.8)),
    (1.0, (253, 231, 37, 0.9)),
]
EXEMPLAR_SCALE = 6  # screen pixels per input pixel of an exemplar (28 x 6 = 168 px)


def _figure(
    data: list[dict], height: int, bottom: int = 10, shapes: Sequence[dict] = (), **layout: object
) -> go.Figure:
    """An image-like figure of plain dicts (fast_figure: a Channel change rebuilds a dozen of these)."""
    return fast_figure(data, square_layout(height, bottom=bottom, shapes=list(shapes), **layout))


def _rect(top: float, left: float, bottom: float, right: float) -> dict:
    """The outline of cells top..bottom, left..right (inclusive, cell centres at integers), as a layout shape."""
    return dict(
        type="rect",
        x0=left - 0.5,
        x1=right + 0.5,
        y0=top - 0.5,
        y1=bottom + 0.5,
        line=dict(color=MARK, width=2),
    )


def exemplar_image(image: np.ndarray, channel_map: np.ndarray, grid: tuple[float, float], top: float) -> np.ndarray:
    """A test image in grayscale with the channel's map laid over it (viridis fading to transparent at 0), as RGB
    pixels: EXEMPLAR_SCALE screen pixels per input pixel.

    `grid` is (centre of map cell 0, spacing) in input pixels, so each map cell covers the pixels it sees; `top` is
    the top of the colour scale, shared by the exemplars so their colours compare. A picture, not a chart: nine are
    redrawn on every Channel change, and the browser builds each plotly chart on its own (docs/performance.md).
    """
    offset, spacing = grid
    size = image.shape[0] * EXEMPLAR_SCALE
    centres = (np.arange(size) + 0.5) / EXEMPLAR_SCALE - 0.5  # each screen pixel's position in input pixels
    cells = np.rint((centres - offset) / spacing).astype(int)
    rows, cols = cells[:, None], cells[None, :]
    inside = (rows >= 0) & (rows < channel_map.shape[0]) & (cols >= 0) & (cols < channel_map.shape[1])
    values = np.where(
        inside, channel_map[rows.clip(0, channel_map.shape[0] - 1), cols.clip(0, channel_map.shape[1] - 1)], 0
    )
    level = np.clip(values / (top if top > 0 else 1.0), 0.0, 1.0)  # what excites is the positive part
    return paint(np.kron(image.astype(float), np.ones((EXEMPLAR_SCALE, EXEMPLAR_SCALE))), level, OVERLAY_RGBA)


def cell_picker_figure(
    channel_map: np.ndarray, title: str, cell: tuple[int, int] | None, height: int = 464
) -> go.Figure:
    """The channel heatmap with the chosen cell outlined, clickable cell by cell; its colour bar underneath.

    Plotly reports no clicks on heatmap cells in select mode, so an invisible marker sits on every cell; its
    customdata is (row, col).
    """
    h, w = channel_map.shape
    rows, cols = np.mgrid[0:h, 0:w]
    fig = _figure(
        [
            dict(type="heatmap", z=channel_map, colorscale=HEATMAP_SCALE, colorbar=COLOURBAR_BELOW, hoverinfo="skip"),
            dict(
                type="scatter",
                x=cols.ravel(),
                y=rows.ravel(),
                mode="markers",
                marker=dict(size=max(6, 300 // max(h, w)), color="rgba(0,0,0,0)", symbol="square"),
                customdata=np.stack([rows.ravel(), cols.ravel(), channel_map.ravel()], axis=1),
                hovertemplate="row %{customdata[0]}, col %{customdata[1]}: %{customdata[2]:.4f}<extra></extra>",
                showlegend=False,
            ),
        ],
        height,
        bottom=BAR_BELOW,
        shapes=[_rect(cell[0], cell[1], cell[0], cell[1])] if cell is not None else [],
        title=dict(text=title),
        clickmode="event+select",
        dragmode=False,
    )
    # The map's own extent: autorange pads for the markers and shrank the map inside its chart.
    fig.layout.xaxis.range = [-0.5, w - 0.5]
    fig.layout.yaxis.update(range=[h - 0.5, -0.5], autorange=False)
    return fig


def receptive_field_figure(
    image: np.ndarray, field: tuple[int, int, int, int], title: str, height: int = 464
) -> go.Figure:
    """The input image with the receptive field [top, left, bottom, right] outlined; the same size as the cell
    picker beside it (whose colour bar takes the bottom margin)."""
    return _figure(
        [
            dict(
                type="heatmap",
                z=image,
                colorscale=GRAY_SCALE,
                showscale=False,
                hovertemplate="x %{x}, y %{y}: %{z}<extra></extra>",
            )
        ],
        height,
        bottom=BAR_BELOW,
        shapes=[_rect(*field)],
        title=dict(text=title),
    )


def fixed_decimals(largest: float) -> int:
    """Decimals that give the largest magnitude three significant digits, between 2 and 4, so one matrix's numbers
    line up and read as decimals ("0.0001", never "6.1e-05")."""
    if not np.isfinite(largest) or largest <= 0:
        return 2
    return int(np.clip(3 - np.ceil(np.log10(largest)), 2, 4))


def _fixed(value: float, places: int) -> str:
    """The value with `places` decimals; a tiny negative reads "0.000", not "-0.000"."""
    text = f"{value:.{places}f}"
    return text.lstrip("-") if float(text) == 0 else text


def _text_on(rgb: str) -> str:
    """Black or white, whichever reads on the background colour "rgb(r, g, b)"."""
    r, g, b = (float(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(","))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def small_matrix_html(
    values: np.ndarray, title: str, diverging: bool = False, marked: tuple[int, int] | None = None
) -> str:
    """A small matrix (a 3x3 patch, kernel, products, pool window) as an HTML table, each cell coloured and with its
    number written in; hovering a cell gives its full value.

    HTML, not a plotly heatmap: a Channel change redraws up to ten of these, and a table costs the browser next to
    nothing to draw (docs/performance.md). The colours are the heatmaps' (viridis, or red-blue around zero when
    `diverging`), so they read the same in the light and the dark theme. NaN cells (a pool window past the map's
    edge) stay empty; `marked` (row, col) gets the accent outline.
    """
    import html

    z = np.asarray(values, dtype=float)
    finite = np.isfinite(z)
    bound = float(np.nanmax(np.abs(z))) if finite.any() else 0.0
    bound = bound or 1.0  # an all-zero patch keeps a scale, drawn at its low end
    places = fixed_decimals(bound)
    if diverging:
        low, high = -bound, bound
    else:
        low, high = min(0.0, float(np.nanmin(z)) if finite.any() else 0.0), bound
    span = (high - low) or 1.0
    colours = scale_colours(DIVERGING if diverging else HEATMAP_SCALE, (np.where(finite, z, low) - low) / span)
    rows = []
    for r in range(z.shape[0]):
        cells = []
        for c in range(z.shape[1]):
            v = z[r, c]
            style = "padding:6px 4px;text-align:center;font-variant-numeric:tabular-nums;font-size:14px;"
            if np.isnan(v):
                cells.append(f'<td style="{style}border:1px dashed rgba(128,128,128,.5)"></td>')
                continue
            colour = colours[r * z.shape[1] + c]
            style += f"background:{colour};color:{_text_on(colour)};border:1px solid rgba(128,128,128,.4);"
            if marked is not None and (r, c) == tuple(marked):
                style += f"outline:3px solid {MARK};outline-offset:-3px;"
            cells.append(f'<td style="{style}" title="row {r}, col {c}: {v:.5f}">{_fixed(v, places)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<figure class="fm-matrix" style="margin:0">'
        f'<figcaption style="font-weight:600;margin-bottom:4px">{html.escape(title)}</figcaption>'
        '<table style="border-collapse:collapse;table-layout:fixed;width:100%;margin:0">'
        + "".join(rows)
        + "</table></figure>"
    )


def contributions_figure(contributions: np.ndarray, top: int = 20, height: int = 360) -> go.Figure:
    """Per-input-channel contributions sorted by size (largest magnitude first): which channels made the sum."""
    values = np.asarray(contributions, dtype=float)
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    fig = go.Figure(
        go.Bar(
            x=[f"ch {int(c)}" for c in order],
            y=values[order],
            marker_color=["#d62728" if values[c] >= 0 else "#1f77b4" for c in order],
            hovertemplate="input %{x}: %{y:.5f}<extra></extra>",
        )
    )
    shown = f"the {len(order)} largest of {len(values)}" if len(order) < len(values) else f"all {len(values)}"
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        title=f"Contribution of each input channel ({shown})",
        yaxis_title="sum of its products",
    )
    return fig
