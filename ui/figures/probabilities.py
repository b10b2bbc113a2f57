"""The class probabilities of one image as bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go


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
