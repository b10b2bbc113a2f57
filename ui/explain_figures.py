"""Figure builders for the explanation panel (arrays in, Figure out): signed attribution overlays, the agreement
matrix, the randomisation grid and curves, and the smallest flip. Nothing here knows Streamlit or Keras."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ui.figures import (
    _BAR_TITLE,
    _MARGIN,
    _TWO_LINE_TITLE,
    BAR_BELOW,
    COLOURBAR_BELOW,
    GRAY_SCALE,
    IMAGE_AXIS,
    OVERLAY_PX,
    _square,
)

# Blue for negative, red for positive, transparent at zero so the garment shows through where nothing is claimed.
SIGNED_SCALE = [
    [0.0, "rgba(33,102,172,0.95)"],
    [0.25, "rgba(103,169,207,0.75)"],
    [0.5, "rgba(255,255,255,0)"],
    [0.75, "rgba(239,138,98,0.75)"],
    [1.0, "rgba(178,24,43,0.95)"],
]
DIVERGING = "RdBu_r"  # an opaque blue-white-red, for matrices and the change an attack made
METHOD_COLOURS = {
    "gradcam": "#e8590c",
    "saliency": "#4C6EF5",
    "integrated-gradients": "#2f9e44",
    "occlusion": "#ae3ec9",
}


def signed_overlay_figure(
    image: np.ndarray, values: np.ndarray, title: str, unit: str, width: int = OVERLAY_PX
) -> go.Figure:
    """A signed map over the grayscale image: red raises the class's probability, blue lowers it, zero is clear.

    The scale is symmetric around zero (+-the largest |value|) so the sign reads at a glance; drawn `width` px
    wide like overlay_figure, with its colour bar underneath.
    """
    top = float(np.abs(values).max()) or 1.0
    fig = go.Figure(
        [
            go.Heatmap(z=image, colorscale=GRAY_SCALE, showscale=False, hoverinfo="skip"),
            go.Heatmap(
                z=values,
                colorscale=SIGNED_SCALE,
                zmin=-top,
                zmax=top,
                showscale=True,
                colorbar=dict(COLOURBAR_BELOW, title=dict(text=unit, side="bottom"), tickformat=".2g", nticks=5),
                hovertemplate="x %{x}, y %{y}: %{z:.4f}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(title=title)
    side = width - 2 * _MARGIN
    bottom = BAR_BELOW + _BAR_TITLE
    return _square(fig, side + _TWO_LINE_TITLE + bottom, top=_TWO_LINE_TITLE, bottom=bottom)


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
    return width - 2 * _MARGIN + _TWO_LINE_TITLE + BAR_BELOW + _BAR_TITLE


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
