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
