"""Plotly figure builders: numpy arrays in, a Figure out. They know nothing about Streamlit or Keras.

Colours come from Streamlit's theme (st.plotly_chart applies it), so every figure reads in light and dark.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

HEATMAP_SCALE = "Viridis"
GRAY_SCALE = [[0.0, "#000000"], [1.0, "#ffffff"]]


def _square(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x")
    return fig


def image_figure(image: np.ndarray, title: str = "", height: int = 320) -> go.Figure:
    """A grayscale image (H, W) as a heatmap, light on dark as the model sees it."""
    fig = go.Figure(
        go.Heatmap(z=image, colorscale=GRAY_SCALE, showscale=False, hovertemplate="x %{x}, y %{y}: %{z}<extra></extra>")
    )
    fig.update_layout(title=title)
    return _square(fig, height)


def channel_heatmap(channel: np.ndarray, title: str, height: int = 360) -> go.Figure:
    """One feature-map channel as a heatmap with its colour bar."""
    fig = go.Figure(
        go.Heatmap(z=channel, colorscale=HEATMAP_SCALE, hovertemplate="x %{x}, y %{y}: %{z:.3f}<extra></extra>")
    )
    fig.update_layout(title=title)
    return _square(fig, height)


def mosaic_figure(
    mosaic: np.ndarray, channels: np.ndarray, marked: tuple[int, int, int, int] | None, title: str, height: int = 520
) -> go.Figure:
    """All channels tiled in one heatmap (NaN gutters), the chosen channel outlined; hover names the channel."""
    fig = go.Figure(
        go.Heatmap(
            z=mosaic,
            customdata=channels,
            colorscale=HEATMAP_SCALE,
            hoverongaps=False,
            hovertemplate="channel %{customdata}: %{z:.3f}<extra></extra>",
            showscale=False,
        )
    )
    if marked is not None:
        top, left, h, w = marked
        fig.add_shape(
            type="rect",
            x0=left - 0.5 - 0.5,
            x1=left + w - 0.5 + 0.5,
            y0=top - 0.5 - 0.5,
            y1=top + h - 0.5 + 0.5,
            line=dict(color="#ff4b4b", width=3),
        )
    fig.update_layout(title=title)
    return _square(fig, height)


def probability_bars(
    probabilities: Sequence[float], class_names: Sequence[str], actual: int | None = None
) -> go.Figure:
    """Horizontal bars of the 10 class probabilities; the predicted class stands out, the actual is marked."""
    probs = np.asarray(probabilities, dtype=float)
    predicted = int(probs.argmax())
    colors = ["#4C6EF5" if i == predicted else "#9aa5b1" for i in range(len(probs))]
    labels = [f"{name} ✓" if i == actual else name for i, name in enumerate(class_names)]
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


def confusion_figure(matrix: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """Confusion matrix heatmap: rows actual, columns predicted, counts in the cells."""
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(class_names),
            y=list(class_names),
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="actual %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=40, b=10), title="Confusion matrix")
    fig.update_xaxes(title="Predicted", side="bottom")
    fig.update_yaxes(title="Actual", autorange="reversed")
    return fig


def epoch_curves(history: Sequence[dict], metric: str, title: str) -> go.Figure:
    """Train and test `metric` ("loss" or "accuracy") per epoch."""
    epochs = [row["epoch"] for row in history]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=epochs, y=[row.get(metric) for row in history], mode="lines+markers", name="train"))
    fig.add_trace(
        go.Scatter(x=epochs, y=[row.get(f"test_{metric}") for row in history], mode="lines+markers", name="test")
    )
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), title=title, xaxis_title="epoch")
    fig.update_xaxes(dtick=1)
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


def compare_curves(runs: dict[str, Sequence[dict]], metric: str, title: str) -> go.Figure:
    """Several runs' test `metric` per epoch on one chart."""
    fig = go.Figure()
    for name, history in runs.items():
        fig.add_trace(
            go.Scatter(
                x=[row["epoch"] for row in history],
                y=[row.get(f"test_{metric}") for row in history],
                mode="lines+markers",
                name=name,
            )
        )
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), title=title, xaxis_title="epoch")
    return fig


def overlay_figure(image: np.ndarray, heat: np.ndarray, title: str, height: int = 300) -> go.Figure:
    """A heat map (0..1) laid semi-transparently over the grayscale input image."""
    fig = go.Figure(
        [
            go.Heatmap(z=image, colorscale=GRAY_SCALE, showscale=False, hoverinfo="skip"),
            go.Heatmap(
                z=heat,
                colorscale="Hot",
                opacity=0.55,
                zmin=0,
                zmax=1,
                showscale=False,
                hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(title=title)
    return _square(fig, height)
