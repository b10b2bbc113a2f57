"""Training curves: one run's loss and accuracy per epoch, the running loss within epochs, several runs compared."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.colors
import plotly.graph_objects as go

if TYPE_CHECKING:
    from fmnist_core.runs.records import EpochRow


def epoch_curves_pair(history: Sequence[EpochRow]) -> go.Figure:
    """Loss and accuracy per epoch (train and test) side by side in one figure.

    One chart, not two: each plotly chart costs the browser its own build when the model changes
    (docs/performance.md).
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
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=[row["loss"] for row in trace],
            mode="lines+markers" if len(trace) < 20 else "lines",
            name="running loss",
        )
    )
    fig.update_layout(
        height=260, margin=dict(l=10, r=10, t=40, b=10), title="Running loss per batch", xaxis_title="epoch"
    )
    return fig


def compare_curves(runs: dict[str, Sequence[EpochRow]], metric: str, title: str) -> go.Figure:
    """Several runs' test `metric` per epoch on one chart, the legend below the plot (beside it, in a half-width
    column at 800 px, plotly laid it over the points). Accuracy's axis fits the values within 0..1; loss starts at 0
    or above (plotly's own range for one point, or equal values, reached from -0.5)."""
    fig = go.Figure()
    palette = plotly.colors.qualitative.Plotly  # ten distinct hues; runs beyond ten reuse them
    values = []
    for k, (name, history) in enumerate(runs.items()):
        ys = [getattr(row, f"test_{metric}") for row in history]
        values += [y for y in ys if y is not None]
        fig.add_trace(
            go.Scatter(
                x=[row.epoch for row in history],
                y=ys,
                mode="lines+markers",
                name=name,
                line=dict(color=palette[k % len(palette)]),
                cliponaxis=False,  # a marker on the axis' end is drawn whole
            )
        )
    fig.update_layout(
        height=320 + 22 * len(runs),  # the plot keeps its height; the legend below adds a line per run
        margin=dict(l=10, r=10, t=40, b=10),
        title=title,
        xaxis_title="epoch",
        # Below the plot, one run a line; container-anchored, so it sits under the axis title whatever the height.
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left"),
    )
    if metric == "accuracy" and values:
        fig.update_yaxes(range=accuracy_range(values), tickformat=".0%")
    else:
        fig.update_yaxes(rangemode="nonnegative")
    return fig


def accuracy_range(values: Sequence[float], pad: float = 0.02, least: float = 0.05) -> list[float]:
    """An axis range around accuracies: their span plus `pad` each side, at least `least` wide, within 0..1."""
    low, high = min(values) - pad, max(values) + pad
    if high - low < least:
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
    if low < 0:
        low, high = 0.0, min(1.0, high - low)
    if high > 1:
        low, high = max(0.0, low - (high - 1)), 1.0
    return [low, high]
