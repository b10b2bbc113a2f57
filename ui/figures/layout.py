"""What every figure shares: the colour scales, image-like axes, margins and colour bars, and the fast way to build
a figure that is rebuilt on every click.

Colours come from Streamlit's theme (st.plotly_chart applies it), so every figure reads in light and dark.
"""

from __future__ import annotations

import functools

import numpy as np
import plotly.colors
import plotly.graph_objects as go

HEATMAP_SCALE = "Viridis"
GRAY_SCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]
# Axes of an image or a map: no tick labels, tick marks (Streamlit's theme draws them outside), grid or lines.
IMAGE_AXIS = dict(showticklabels=False, showgrid=False, zeroline=False, ticks="", showline=False)
MARGIN = 10  # px around a figure
BAR_BELOW = 44  # px below the plot for a horizontal colour bar and its tick labels
# A colour bar under its plot, as long as the plot is wide (beside a small image a vertical one towers over it).
COLOURBAR_BELOW = dict(orientation="h", x=0, xanchor="left", y=-0.04, yanchor="top", len=1, thickness=10)
MARK = "#ff4b4b"  # Streamlit's accent red: a chosen cell, a receptive field, a winner, a misclassified point
# One colour per class wherever classes are coloured: Paul Tol's "muted" scheme (made for colour-blind readers) with
# an orange for its pale grey, which vanished on the light theme. Every pair stays apart for normal vision and under
# protanopia and deuteranopia (tests/pages/test_class_colours.py).
CLASS_COLOURS = (
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#FFAA00",
)
SCALE_STEPS = 256  # colours sampled per scale: finer than a screen shows between two neighbours


@functools.cache
def _sampled(scale: str) -> tuple[str, ...]:
    return tuple(plotly.colors.sample_colorscale(scale, np.linspace(0.0, 1.0, SCALE_STEPS).tolist()))


def scale_colours(scale: str, fractions: np.ndarray | list[float]) -> list[str]:
    """The colour of each fraction (0..1, clipped) on a named plotly scale, for HTML a page draws itself.

    From a table sampled once per scale: plotly's sample_colorscale parses the scale's colours on every call, and
    a matrix redrawn per click called it once per cell.
    """
    steps = np.rint(np.clip(np.asarray(fractions, dtype=float), 0.0, 1.0) * (SCALE_STEPS - 1)).astype(int)
    table = _sampled(scale)
    return [table[i] for i in steps.ravel()]


def square_layout(height: int, top: int = 40, bottom: int = 10, **extra: object) -> dict:
    """Image-like layout: square pixels, row 0 at the top, no axes, ticks or grid; `top` and `bottom` margins hold
    the title and a colour bar below. `extra` adds layout keys (title, shapes, annotations…)."""
    return dict(
        height=height,
        margin=dict(l=MARGIN, r=MARGIN, t=top, b=bottom),
        xaxis=dict(IMAGE_AXIS),
        yaxis=dict(IMAGE_AXIS, autorange="reversed", scaleanchor="x"),
        **extra,
    )


def fast_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure written as plain dicts and not validated (plotly's own shortcut, `_validate=False`).

    For the figures rebuilt on every click (Feature maps: about fifteen per Channel change), where plotly's
    validation costs several times the building itself (docs/performance.md). Only keys plotly knows are used; the
    page tests read the figures back and the browser tests draw them."""
    return go.Figure(data=data, layout=layout, _validate=False)
