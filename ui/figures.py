"""Plotly figure builders: numpy arrays in, a Figure out. They know nothing about Streamlit or Keras.

Colours come from Streamlit's theme (st.plotly_chart applies it), so every figure reads in light and dark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.colors
import plotly.graph_objects as go

if TYPE_CHECKING:
    from fmnist_core.runs.records import EpochRow

HEATMAP_SCALE = "Viridis"
GRAY_SCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]
# Axes of an image or a map: no tick labels, tick marks (Streamlit's theme draws them outside), grid or lines.
IMAGE_AXIS = dict(showticklabels=False, showgrid=False, zeroline=False, ticks="", showline=False)


OVERLAY_PX = 300  # an explanation figure's width: its image is 280 px
_MARGIN = 10
_TWO_LINE_TITLE = 64  # px above the plot: two title lines
BAR_BELOW = 44  # px below the plot for a horizontal colour bar and its tick labels
_BAR_TITLE = 20  # and its title
# A colour bar under its plot, as long as the plot is wide (beside a small image a vertical one towers over it).
COLOURBAR_BELOW = dict(orientation="h", x=0, xanchor="left", y=-0.04, yanchor="top", len=1, thickness=10)


def square_layout(height: int, top: int = 40, bottom: int = 10, **extra: object) -> dict:
    """Image-like layout: square pixels, row 0 at the top, no axes, ticks or grid; `top` and `bottom` margins hold
    the title and a colour bar below. `extra` adds layout keys (title, shapes, annotations…)."""
    return dict(
        height=height,
        margin=dict(l=_MARGIN, r=_MARGIN, t=top, b=bottom),
        xaxis=dict(IMAGE_AXIS),
        yaxis=dict(IMAGE_AXIS, autorange="reversed", scaleanchor="x"),
        **extra,
    )


def fast_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure written as plain dicts and not validated (plotly's own shortcut, `_validate=False`).

    For the figures rebuilt on every click (Feature maps: about fifteen per Channel change): plotly's validated
    building and updating costs about 10 ms a figure, this about 1 ms. Only keys plotly knows are used; the page
    tests read the figures back and the browser tests draw them."""
    return go.Figure(data=data, layout=layout, _validate=False)


def _square(fig: go.Figure, height: int, top: int = 40, bottom: int = 10) -> go.Figure:
    """`square_layout` applied to a figure built the validated way (figures drawn once per page run)."""
    fig.update_layout(square_layout(height, top, bottom))
    return fig


def image_figure(image: np.ndarray, title: str = "", height: int = 320) -> go.Figure:
    """A grayscale image (H, W) as a heatmap, light on dark as the model sees it."""
    heatmap = dict(
        type="heatmap",
        z=image,
        colorscale=GRAY_SCALE,
        showscale=False,
        hovertemplate="x %{x}, y %{y}: %{z}<extra></extra>",
    )
    return fast_figure([heatmap], square_layout(height, title=dict(text=title)))


def channel_heatmap(channel: np.ndarray, title: str, height: int = 360) -> go.Figure:
    """One feature-map channel as a heatmap with its colour bar underneath."""
    heatmap = dict(
        type="heatmap",
        z=channel,
        colorscale=HEATMAP_SCALE,
        colorbar=COLOURBAR_BELOW,
        hovertemplate="x %{x}, y %{y}: %{z:.3f}<extra></extra>",
    )
    return fast_figure([heatmap], square_layout(height, bottom=BAR_BELOW, title=dict(text=title)))


def mosaic_figure(
    mosaic: np.ndarray,
    channels: np.ndarray,
    marked: tuple[int, int, int, int] | None,
    title: str,
    height: int = 520,
    raw: np.ndarray | None = None,
    tile_shape: tuple[int, int] | None = None,
) -> go.Figure:
    """All channels tiled in one heatmap (NaN gutters), the chosen channel outlined, its number on each tile.

    `raw` (same layout as `mosaic`) is what hover shows when the tiles are drawn rescaled per channel.
    `tile_shape` (h, w) places a channel number at each tile's top-left corner.
    """
    shown = mosaic if raw is None else raw
    # float32, not the float64 numpy would make of int + float: this is most of the figure's bytes (1.3 MB for
    # conv2d's 64 channels in float64), sent again on every Channel change because the outline moves.
    custom = np.stack([channels, np.nan_to_num(shown)], axis=-1).astype(np.float32)
    heatmap = dict(
        type="heatmap",
        z=mosaic,
        customdata=custom,
        colorscale=HEATMAP_SCALE,
        hoverongaps=False,
        hovertemplate="channel %{customdata[0]}: %{customdata[1]:.3f}<extra></extra>",
        showscale=False,
    )
    traces: list[dict] = [heatmap]
    ranges: dict = {}
    if tile_shape is not None:
        # Each tile's channel number at its top-left corner: one text trace, not one annotation per tile (plotly
        # measures every annotation on its own; 64 of them cost a Layer change about 0.18 s, docs/performance.md).
        tops, lefts = np.nonzero(
            (channels >= 0)
            & (np.pad(channels, ((1, 0), (0, 0)), constant_values=-1)[:-1] < 0)
            & (np.pad(channels, ((0, 0), (1, 0)), constant_values=-1)[:, :-1] < 0)
        )
        traces.append(
            dict(
                type="scatter",
                mode="text",
                x=(lefts - 0.5).tolist(),
                y=(tops - 0.5).tolist(),
                text=[str(int(channels[top, left])) for top, left in zip(tops, lefts, strict=True)],
                textposition="bottom right",
                textfont=dict(size=9, color="#ffffff", shadow="0px 0px 2px #000000, 0px 0px 3px #000000"),
                hoverinfo="skip",
                showlegend=False,
                cliponaxis=False,
            )
        )
        h, w = mosaic.shape
        ranges = dict(
            xaxis=dict(IMAGE_AXIS, range=[-0.5, w - 0.5]),
            yaxis=dict(IMAGE_AXIS, range=[h - 0.5, -0.5], scaleanchor="x"),
        )
    shapes = []
    if marked is not None:
        top, left, h, w = marked
        outline = dict(color="#ff4b4b", width=3)
        shapes.append(
            dict(type="rect", x0=left - 1.0, x1=left + w, y0=top - 1.0, y1=top + h, line=outline),
        )
    layout = square_layout(height, title=dict(text=title), shapes=shapes)
    layout.update(ranges)  # with labels, the axes hold the mosaic exactly (text would widen an automatic range)
    return fast_figure(traces, layout)


def probability_bars(
    probabilities: Sequence[float], class_names: Sequence[str], actual: int | None = None
) -> go.Figure:
    """Horizontal bars of the 10 class probabilities; the predicted class stands out, and the labels say in words
    which class is the prediction and which the actual one (a bare mark would need a legend)."""
    probs = np.asarray(probabilities, dtype=float)
    predicted = int(probs.argmax())
    colors = ["#4C6EF5" if i == predicted else "#9aa5b1" for i in range(len(probs))]

    def label(i: int, name: str) -> str:
        roles = [role for role, index in (("predicted", predicted), ("actual", actual)) if index == i]
        return f"{name} ({', '.join(roles)})" if roles else name

    labels = [label(i, name) for i, name in enumerate(class_names)]
    fig = go.Figure(
        go.Bar(
            x=probs,
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{p:.1%}" for p in probs],
            textposition="auto",
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=340, margin=dict(l=10, r=10, t=30, b=10), title="Class probabilities", xaxis=dict(range=[0, 1])
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def epoch_curves_pair(history: Sequence[EpochRow]) -> go.Figure:
    """Loss and accuracy per epoch (train and test) side by side in one figure.

    One chart, not two: each plotly chart costs the browser its own build when the model changes (about 0.1 s
    here, docs/performance.md).
    """
    from plotly.subplots import make_subplots

    epochs = [row.epoch for row in history]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss per epoch", "Accuracy per epoch"), horizontal_spacing=0.1)
    colours = plotly.colors.qualitative.Plotly
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for k, (name, field) in enumerate((("train", metric), ("test", f"test_{metric}"))):
            fig.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[getattr(row, field) for row in history],
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=dict(color=colours[k]),
                ),
                row=1,
                col=col,
            )
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(title_text="epoch", dtick=1)
    return fig


def batch_curve(trace: Sequence[dict], batches_per_epoch: int) -> go.Figure:
    """Running training loss within each epoch, plotted over fractional epochs."""
    steps = np.array([row["step"] for row in trace], dtype=float)
    x = steps / batches_per_epoch if batches_per_epoch else steps
    fig = go.Figure(go.Scatter(x=x, y=[row["loss"] for row in trace], mode="lines", name="running loss"))
    fig.update_layout(
        height=260, margin=dict(l=10, r=10, t=40, b=10), title="Running loss per batch", xaxis_title="epoch"
    )
    return fig


def compare_curves(runs: dict[str, Sequence[EpochRow]], metric: str, title: str) -> go.Figure:
    """Several runs' test `metric` per epoch on one chart."""
    fig = go.Figure()
    palette = plotly.colors.qualitative.Plotly  # ten distinct hues; runs beyond ten reuse them
    for k, (name, history) in enumerate(runs.items()):
        fig.add_trace(
            go.Scatter(
                x=[row.epoch for row in history],
                y=[getattr(row, f"test_{metric}") for row in history],
                mode="lines+markers",
                name=name,
                line=dict(color=palette[k % len(palette)]),
            )
        )
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), title=title, xaxis_title="epoch")
    return fig


def paint(gray: np.ndarray, level: np.ndarray, stops: Sequence[tuple[float, Sequence[float]]]) -> np.ndarray:
    """Colour `level` (0..1, one value per pixel) through `stops` of (position, (r, g, b, alpha)) and lay it over
    `gray` (0..255, same shape): RGB uint8 pixels.

    Pictures, not charts, where a page shows many maps at once (the exemplars, the why panel): each plotly chart
    costs the browser tens to hundreds of milliseconds to build (docs/performance.md), a picture next to nothing.
    """
    positions = np.array([position for position, _ in stops], dtype=float)
    rgba = np.array([colour for _, colour in stops], dtype=float)
    colour = np.stack([np.interp(level, positions, rgba[:, c]) for c in range(4)], axis=-1)
    alpha = colour[..., 3:]
    return np.rint(np.asarray(gray, dtype=float)[..., None] * (1 - alpha) + colour[..., :3] * alpha).astype(np.uint8)


RIGHT_COLOUR = (47, 158, 68)  # green: predicted class is the actual one
WRONG_COLOUR = (224, 49, 49)  # red: misclassified
SELECTED_COLOUR = (76, 110, 245)  # the primary colour: the image shown in detail


def png_data_uri(rgba: np.ndarray) -> str:
    """An (H, W, 3 or 4) uint8 array as a data: URI of a PNG, for plotly's Image(source=...) or an HTML <img>."""
    import base64
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(out, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def thumbnail_grid(
    images: np.ndarray,
    indices: Sequence[int],
    correct: Sequence[bool],
    hover: Sequence[str],
    selected: int | None = None,
    columns: int = 10,
    width: int = 560,
) -> go.Figure:
    """Test images as one aligned, clickable mosaic: a green frame for right, a thicker red one for wrong.

    One RGBA image draws far faster than a hundred st.image calls; transparent gutters let the theme show
    through. A transparent marker on each tile makes it clickable (plotly reports no clicks on images), and its
    customdata is the test-image index.
    """
    n = len(images)
    rows = max(1, -(-n // columns))
    tile, pad = 28, 3  # 3 px of frame around each 28x28 image; 2 px gutters between tiles
    step = tile + 2 * pad + 2
    canvas = np.zeros((rows * step, columns * step, 4), dtype=np.uint8)
    xs, ys = [], []
    for k in range(n):
        r, c = divmod(k, columns)
        top, left = r * step + 1, c * step + 1
        colour = SELECTED_COLOUR if indices[k] == selected else (RIGHT_COLOUR if correct[k] else WRONG_COLOUR)
        border = pad if (indices[k] == selected or not correct[k]) else 1
        frame = canvas[top : top + tile + 2 * pad, left : left + tile + 2 * pad]
        frame[...] = 0
        inner = pad - border
        frame[inner : tile + 2 * pad - inner, inner : tile + 2 * pad - inner] = (*colour, 255)
        gray = images[k].astype(np.uint8)
        frame[pad : pad + tile, pad : pad + tile, :3] = gray[:, :, None]
        frame[pad : pad + tile, pad : pad + tile, 3] = 255
        xs.append(left + pad + tile / 2)
        ys.append(top + pad + tile / 2)
    # As a PNG, not `z`: 100 tiles are a 360x360 RGBA canvas, half a million numbers of JSON (about 2 MB) for
    # the browser to parse and paint on every click, against about 60 KB of PNG.
    fig = go.Figure(go.Image(source=png_data_uri(canvas), hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            marker=dict(size=30, symbol="square", opacity=0.0),
            customdata=list(indices),
            text=list(hover),
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
    height = int(width * rows / columns)  # drawn at `width` px wide, square tiles, no blank band
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=0), dragmode=False, clickmode="event+select")
    fig.update_xaxes(visible=False, range=[0, columns * step], fixedrange=True)
    fig.update_yaxes(visible=False, range=[rows * step, 0], fixedrange=True, scaleanchor="x")
    return fig
