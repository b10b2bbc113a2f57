"""Images and feature maps: an input image, one channel as a heatmap, all channels tiled in one mosaic, and the
first conv layer's kernels and maps epoch by epoch (Watch it learn)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from fmnist_core.analysis.activations import channel_mosaic, normalise_channels
from ui.figures.layout import (
    BAR_BELOW,
    COLOURBAR_BELOW,
    GRAY_SCALE,
    HEATMAP_SCALE,
    IMAGE_AXIS,
    fast_figure,
    square_layout,
)


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
        # measures every annotation on its own, docs/performance.md).
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


def _channels_figure(channels: np.ndarray, title: str, height: int) -> go.Figure:
    """(h, w, C) tiled into one heatmap, each channel on its own scale; hover shows the real values."""
    raw, index = channel_mosaic(channels)
    fig = mosaic_figure(channel_mosaic(normalise_channels(channels))[0], index, None, title, height=height, raw=raw)
    trace = fig.data[0]
    smaller = np.asarray(trace.customdata, dtype=np.float32)  # half the bytes sent to the browser
    trace.customdata = None  # plotly ignores an assignment of equal values, even in another dtype
    trace.customdata = smaller
    return fig


def kernels_figure(kernels: np.ndarray, title: str, height: int = 340) -> go.Figure:
    """The first conv layer's kernels (kh, kw, filters) as a mosaic: one tile per filter."""
    return _channels_figure(kernels, title, height)


def maps_figure(maps: np.ndarray, title: str, height: int = 420) -> go.Figure:
    """One image's feature maps (h, w, filters) as a mosaic, in the kernels' tile order."""
    return _channels_figure(maps, title, height)
