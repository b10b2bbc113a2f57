"""The class probabilities of one image as bars."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from streamlit.elements.lib.streamlit_plotly_theme import GRAY_90 as THEME_BODY_TEXT


def value_label(probability: float) -> str:
    """A probability as its bar's label, one decimal of a percent; what would round to 0.0% reads "<0.1%" (a softmax
    is never exactly 0)."""
    return "<0.1%" if probability < 0.0005 else f"{probability:.1%}"


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
            text=[value_label(p) for p in probs],
            # Every value beside its bar's end, never inside it: inside, plotly hid the values too long for their bar,
            # and those it showed were grey on the grey bars or white on blue (under 4.5:1). Beside it they stand on
            # the chart's background, in the theme's body-text colour (Streamlit swaps this placeholder for it, dark
            # in light mode and light in dark mode; the theme's own chart font is a fainter grey).
            textposition="outside",
            textfont=dict(color=THEME_BODY_TEXT),
            cliponaxis=False,  # a value near 100% is drawn in the right margin, not cut at the axis end
            constraintext="none",  # nor shrunk to fit the plot area
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=340, margin=dict(l=10, r=56, t=30, b=10), title="Class probabilities", xaxis=dict(range=[0, 1])
    )
    fig.update_yaxes(autorange="reversed")
    return fig
