"""The why panel's figures (arrays in, a Figure or HTML out): the attribution maps as pictures,
the agreement matrix, the randomisation grid and curves, and the smallest flip. Nothing here knows Streamlit or
Keras."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures.layout import BAR_BELOW, COLOURBAR_BELOW, GRAY_SCALE, IMAGE_AXIS, MARGIN, square_layout
from ui.figures.pictures import paint, png_data_uri

OVERLAY_PX = 300  # an explanation figure's width: its image is 280 px
_TWO_LINE_TITLE = 64  # px above the plot: two title lines
_BAR_TITLE = 20  # px below the colour bar for its title

# Blue for negative, red for positive, clear at zero so the garment shows through where nothing is claimed; as
# (position, (r, g, b, alpha)).
SIGNED_RGBA = [
    (0.0, (33, 102, 172, 0.95)),
    (0.25, (103, 169, 207, 0.75)),
    (0.5, (255, 255, 255, 0.0)),
    (0.75, (239, 138, 98, 0.75)),
    (1.0, (178, 24, 43, 0.95)),
]
# Plotly's "Hot" at 0.55 opacity over the whole image (the look of the overlay charts these pictures replaced).
HOT_RGBA = [
    (0.0, (0, 0, 0, 0.55)),
    (0.3, (230, 0, 0, 0.55)),
    (0.6, (255, 210, 0, 0.55)),
    (1.0, (255, 255, 255, 0.55)),
]
MAP_PX = OVERLAY_PX - 20  # an attribution picture on screen: 28 input pixels of 10 px
DIVERGING = "RdBu_r"  # an opaque blue-white-red, for matrices and the change an attack made
METHOD_COLOURS = {
    "gradcam": "#e8590c",
    "saliency": "#4C6EF5",
    "integrated-gradients": "#2f9e44",
    "occlusion": "#ae3ec9",
}


def _square(fig: go.Figure, height: int, top: int = 40, bottom: int = 10) -> go.Figure:
    """`square_layout` applied to a figure built the validated way (figures drawn once per page run)."""
    fig.update_layout(square_layout(height, top, bottom))
    return fig


def attribution_picture(image: np.ndarray, values: np.ndarray, signed: bool) -> tuple[np.ndarray, float]:
    """The map laid over the grayscale image, one RGB pixel per input pixel (the browser scales it up, sharp), and
    the top of its colour scale.

    Unsigned maps (Grad-CAM, saliency) are 0..1 in plotly's "Hot"; signed ones (integrated gradients, occlusion)
    red where the class's probability rises and blue where it falls, the scale symmetric (+-the largest |value|)
    so the sign reads at a glance. The image is stretched to its own range, as a heatmap of it would be.
    """
    values = np.nan_to_num(np.asarray(values, dtype=float))
    pixels = np.asarray(image, dtype=float).reshape(values.shape)
    low, high = float(pixels.min()), float(pixels.max())
    gray = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
    if not signed:
        return paint(gray, np.clip(values, 0.0, 1.0), HOT_RGBA), 1.0
    top = float(np.abs(values).max()) or 1.0
    return paint(gray, 0.5 + values / (2 * top), SIGNED_RGBA), top


def attribution_html(
    picture: np.ndarray, title: Sequence[str], alt: str, signed: bool, top: float, unit: str, width: int = MAP_PX
) -> str:
    """One method's map as an HTML figure: the title's lines, the picture `width` px square with sharp pixels, and
    its colour bar underneath with the scale's ends and middle written in.

    HTML, not a plotly chart: the why panel shows four of these whenever an image or model changes, and as four
    charts they made that redraw slower in the browser (docs/performance.md); hovering no longer gives a pixel's
    value, the bar's ends give the scale.
    """
    import html

    stops = SIGNED_RGBA if signed else HOT_RGBA
    gradient = ", ".join(f"rgba({r},{g},{b},{a}) {100 * position:g}%" for position, (r, g, b, a) in stops)
    ticks = [f"−{top:.2g}", "0", f"+{top:.2g}"] if signed else ["0", "0.5", "1"]
    small = "font-size:12px;opacity:.75;font-variant-numeric:tabular-nums"
    return (
        f'<figure class="fm-map" style="margin:0;width:{width}px">'
        '<figcaption style="font-weight:600;line-height:1.35;margin-bottom:6px">'
        + "<br>".join(html.escape(line) for line in title)
        + "</figcaption>"
        f'<img src="{png_data_uri(picture)}" alt="{html.escape(alt)}" width="{width}" height="{width}" '
        'style="display:block;image-rendering:pixelated">'
        f'<div class="fm-map-bar" style="height:10px;margin-top:8px;background:linear-gradient(to right, {gradient});'
        'border:1px solid rgba(128,128,128,.4)"></div>'
        f'<div style="display:flex;justify-content:space-between;{small}">'
        + "".join(f"<span>{tick}</span>" for tick in ticks)
        + f'</div><div style="text-align:center;{small}">{html.escape(unit)}</div></figure>'
    )


def agreement_figure(matrix: np.ndarray, names: Sequence[str], height: int = 320) -> go.Figure:
    """Rank correlations between methods as a small matrix, the value written in each cell ("n/a" if undefined)."""
    text = [["n/a" if np.isnan(v) else f"{v:.2f}" for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=np.nan_to_num(matrix, nan=0.0),
            x=list(names),
            y=list(names),
            zmin=-1,
            zmax=1,
            colorscale=DIVERGING,
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
            showscale=False,
        )
    )
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title="Do they agree? (Spearman)")
    fig.update_xaxes(side="bottom", fixedrange=True, tickangle=0)
    fig.update_yaxes(autorange="reversed", fixedrange=True)
    return fig


def randomisation_grid_figure(
    maps: Sequence[Sequence[np.ndarray]], methods: Sequence[str], steps: Sequence[str], tile_px: int = 90
) -> go.Figure:
    """Rows: methods; columns: the trained model, then one more layer randomised per column. One heatmap of tiles
    (NaN gutters) draws fast; each tile is |map| scaled to its own maximum, the way the Spearman test sees it."""
    tile, gap = 28, 3
    rows, cols = len(methods), len(steps)
    mosaic = np.full((rows * (tile + gap) - gap, cols * (tile + gap) - gap), np.nan)
    for r, row in enumerate(maps):
        for c, values in enumerate(row):
            magnitude = np.abs(np.asarray(values, dtype=np.float64))
            peak = magnitude.max()
            mosaic[r * (tile + gap) : r * (tile + gap) + tile, c * (tile + gap) : c * (tile + gap) + tile] = (
                magnitude / peak if peak > 0 else magnitude
            )
    centres = lambda n: [k * (tile + gap) + tile / 2 - 0.5 for k in range(n)]  # noqa: E731
    fig = go.Figure(
        go.Heatmap(z=mosaic, colorscale="Viridis", zmin=0, zmax=1, showscale=False, hoverongaps=False, hoverinfo="skip")
    )
    fig.update_layout(
        height=rows * tile_px + 90, margin=dict(l=10, r=10, t=70, b=10), title="Maps as the model is destroyed"
    )
    fig.update_xaxes(
        **{**IMAGE_AXIS, "showticklabels": True},
        side="top",
        tickvals=centres(cols),
        ticktext=list(steps),
        tickangle=-30 if cols > 5 else 0,
        fixedrange=True,
        constrain="domain",  # shrink the plot, not the range: the labels stay against the tiles
        constraintoward="left",
    )
    fig.update_yaxes(
        **{**IMAGE_AXIS, "showticklabels": True},
        tickvals=centres(rows),
        ticktext=list(methods),
        autorange="reversed",
        scaleanchor="x",
        fixedrange=True,
        constrain="domain",
        constraintoward="top",  # in a narrow window the spare height goes below, not above the column labels
    )
    return fig


def randomisation_curve_figure(
    spearman: dict[str, Sequence[float | None]], steps: Sequence[str], titles: dict[str, str] | None = None
) -> go.Figure:
    """Per method, the rank correlation with the trained model's map as layers are randomised (1 = unchanged);
    `titles` names the methods in the legend."""
    fig = go.Figure()
    for name, values in spearman.items():
        label = (titles or {}).get(name, name)
        fig.add_trace(
            go.Scatter(
                x=list(steps),
                y=[np.nan if v is None else v for v in values],
                mode="lines+markers",
                name=label,
                line=dict(color=METHOD_COLOURS.get(name)),
                hovertemplate=f"{label}, %{{x}}: %{{y:.2f}}<extra></extra>",
            )
        )
    fig.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        title="Same map as the trained model's? (Spearman)",
        legend=dict(orientation="h", y=-0.25, x=0),
    )
    fig.update_yaxes(range=[-1.05, 1.05], zeroline=True, title="rank correlation")
    fig.update_xaxes(title=None, type="category")
    return fig


def change_figure(change: np.ndarray, epsilon: float, title: str, width: int = 240) -> go.Figure:
    """What the attack added, its colour scale stretched to +-epsilon (so a change of 2/255 is as visible as the
    image itself): red brighter, blue darker."""
    fig = go.Figure(
        go.Heatmap(
            z=change,
            colorscale=DIVERGING,
            zmin=-epsilon,
            zmax=epsilon,
            colorbar=dict(
                COLOURBAR_BELOW,
                tickvals=[-epsilon, 0, epsilon],
                ticktext=["−ε", "0", "+ε"],
            ),
            hovertemplate="x %{x}, y %{y}: %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(title=title)
    return _square(fig, _flip_height(width), top=_TWO_LINE_TITLE, bottom=BAR_BELOW + _BAR_TITLE)


def _flip_height(width: int) -> int:
    """One height for the three flip figures, so their images come out the same size in a row."""
    return width - 2 * MARGIN + _TWO_LINE_TITLE + BAR_BELOW + _BAR_TITLE


def small_image_figure(image: np.ndarray, title: str, width: int = 240) -> go.Figure:
    """A 28x28 image in 0..1 with a two-line title, sized to sit in a row with change_figure."""
    fig = go.Figure(
        go.Heatmap(
            z=image,
            colorscale=GRAY_SCALE,
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="x %{x}, y %{y}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(title=title)
    return _square(fig, _flip_height(width), top=_TWO_LINE_TITLE, bottom=BAR_BELOW + _BAR_TITLE)


def before_after_figure(before: np.ndarray, after: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """The 10 probabilities before and after the change, as paired horizontal bars."""
    fig = go.Figure(
        [
            go.Bar(y=list(class_names), x=before, orientation="h", name="before", marker_color="#9aa5b1"),
            go.Bar(y=list(class_names), x=after, orientation="h", name="after", marker_color="#e03131"),
        ]
    )
    fig.update_traces(hovertemplate="%{y}: %{x:.4f}<extra>%{fullData.name}</extra>")
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=40, b=10),
        title="Probabilities before and after",
        barmode="group",
        legend=dict(orientation="h", y=-0.12, x=0),
        xaxis=dict(range=[0, 1]),
    )
    fig.update_yaxes(autorange="reversed")
    return fig
