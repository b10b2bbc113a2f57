"""The Embedding page's map of all test images: a canvas drawn in the browser (embedding_map.js), not plotly.

Why: Streamlit builds a selectable plotly chart anew whenever its figure changes, and a 10,000-point WebGL chart
is slow to open and to redraw in a software-rendered browser (docs/performance.md, "Every click"). This map keeps
what the plotly one offered (box and lasso selection, a click on one image, hover details, a legend that hides
classes, zoom, light and dark) and draws far faster. Its JavaScript is ours and constant; the only thing sent to it
is numbers and the app's own labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.colors
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.components.scripts import component_script
from ui.figures.layout import CLASS_COLOURS, MARK

# The "Colour by" box's choices and the map's colourings (also the address's ?colour= values).
COLOUR_CHOICES = {
    "Actual class": "actual",
    "Predicted class": "predicted",
    "Correct or not": "correct",
    "Confidence": "confidence",
}
CORRECT = "#2ca02c"
CONFIDENCE_STEPS = 32  # colours of the confidence scale

_CSS = """
.fm-emb { font-size: 0.875rem; container-type: inline-size; }
.fm-emb-head { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem; }
.fm-emb-title { font-weight: 600; font-size: 1rem; }
.fm-emb-tools { display: flex; flex-wrap: wrap; gap: 0.25rem; }
.fm-emb-tool, .fm-emb-entry { font: inherit; color: inherit; background: transparent; cursor: pointer;
  border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 0.4rem; padding: 0.1rem 0.5rem; }
.fm-emb-tool[aria-pressed="true"] { border-color: #ff4b4b; color: #ff4b4b; }
.fm-emb-tool:disabled { opacity: 0.4; cursor: default; }
.fm-emb-body { display: flex; flex-wrap: wrap; gap: 0.75rem; margin-top: 0.5rem; }
.fm-emb-stage { position: relative; flex: 1 1 420px; min-width: 240px; touch-action: none; }
.fm-emb-stage canvas { position: absolute; left: 0; top: 0; }
.fm-emb-overlay { cursor: crosshair; }
.fm-emb-tip { position: absolute; pointer-events: none; padding: 0.3rem 0.5rem; border-radius: 0.3rem;
  background: rgba(20, 20, 30, 0.88); color: #fff; font-size: 0.8rem; line-height: 1.3; white-space: nowrap; }
.fm-emb-tip-title { font-weight: 600; }
.fm-emb-legend { display: flex; flex-direction: column; align-items: flex-start; gap: 0.2rem; }
.fm-emb-entry { border-color: transparent; display: flex; align-items: center; gap: 0.4rem; padding: 0 0.3rem; }
.fm-emb-off { opacity: 0.35; text-decoration: line-through; }
.fm-emb-mark { display: inline-block; width: 0.6rem; height: 0.6rem; border-radius: 50%; }
.fm-emb-x { background: transparent; border-radius: 0; line-height: 0.6rem; font-weight: 700; text-align: center; }
.fm-emb-colourbar { display: grid; grid-template-columns: auto auto; gap: 0.1rem 0.4rem; }
.fm-emb-colourbar .fm-emb-name { grid-column: 1 / 3; }
.fm-emb-ramp { width: 0.9rem; height: 160px; border-radius: 0.2rem; }
.fm-emb-ends { display: flex; flex-direction: column; justify-content: space-between; }
@container (max-width: 640px) {
  .fm-emb-body { flex-direction: column; }
  .fm-emb-stage { flex: none; width: 100%; }
  .fm-emb-legend { flex-direction: row; flex-wrap: wrap; }
  .fm-emb-ramp { height: 100px; }
}
"""


@st.cache_resource
def _component() -> Any:
    """Register the component once per server (a second registration under the name would only log a warning)."""
    return st.components.v2.component(
        "fmnist_embedding_map", js=component_script("embedding_map.js"), css=_CSS, isolate_styles=False
    )


def map_data(
    points: np.ndarray,
    colour_by: str,
    actual: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: Sequence[str],
    title: str,
    selected: Sequence[int] = (),
    height: int = 600,
) -> dict[str, Any]:
    """What the map draws, as plain lists: per point its place (x, y), colour (c, into `palette`), legend group
    (g, into `groups`, which the legend hides and shows) and mark (m: 1 = a cross, the misclassified ones).

    colour_by: "actual" / "predicted" (a group per class), "correct" (two groups) or "confidence" (one group on a
    colour scale, with its colour bar).
    """
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(actual):
        raise ValueError(f"expected one (x, y) per image, got {points.shape} for {len(actual)} images")
    wrong = (actual != predicted).astype(int)
    colourbar = None
    if colour_by in ("actual", "predicted"):
        key = actual if colour_by == "actual" else predicted
        palette = [CLASS_COLOURS[c % len(CLASS_COLOURS)] for c in range(len(class_names))]
        colour = group = key
        groups = [{"name": name, "colour": palette[c], "symbol": "circle"} for c, name in enumerate(class_names)]
    elif colour_by == "correct":
        palette = [CORRECT, MARK]
        colour = group = wrong
        groups = [
            {"name": "correct", "colour": CORRECT, "symbol": "circle"},
            {"name": "misclassified", "colour": MARK, "symbol": "x"},
        ]
    elif colour_by == "confidence":
        palette = plotly.colors.sample_colorscale("Viridis", CONFIDENCE_STEPS)
        colour = np.clip((confidence * CONFIDENCE_STEPS).astype(int), 0, CONFIDENCE_STEPS - 1)
        group = np.zeros(len(points), dtype=int)
        groups = [{"name": "every image", "colour": palette[-1], "symbol": "circle"}]
        colourbar = {"title": "confidence", "colours": palette, "low": "0%", "high": "100%"}
    else:
        raise ValueError(f"unknown colouring {colour_by!r}")
    return {
        "title": title,
        "signature": f"{title}|{colour_by}|{len(points)}",
        "height": height,
        "x": np.round(points[:, 0].astype(float), 4).tolist(),
        "y": np.round(points[:, 1].astype(float), 4).tolist(),
        "c": np.asarray(colour, dtype=int).tolist(),
        "g": np.asarray(group, dtype=int).tolist(),
        "m": wrong.tolist(),
        "palette": list(palette),
        "groups": groups,
        "colourbar": colourbar,
        "hover": {
            "names": list(class_names),
            "actual": actual.astype(int).tolist(),
            "predicted": predicted.astype(int).tolist(),
            "confidence": np.round(confidence.astype(float), 4).tolist(),
        },
        "selected": sorted(int(i) for i in selected),
    }


def selection_of(value: Any, count: int) -> list[int]:
    """The image indices the browser sent, checked: whole numbers in range, each once, sorted; anything else
    is dropped (the state is the browser's word, not ours)."""
    if not isinstance(value, list | tuple):
        return []
    return sorted({int(i) for i in value if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count})


def embedding_map(
    points: np.ndarray, colour: str, actual: np.ndarray, probabilities: np.ndarray, title: str, key: str
) -> list[int]:
    """Draw the map; return the indices of the images selected with the box or lasso (or a click).

    The key should name the view (model, projection, colouring): a new view starts with nothing selected, as it
    did when each figure was a new plotly chart.
    """
    previous = st.session_state.get(key)
    chosen = selection_of(previous.get("selection") if hasattr(previous, "get") else None, len(points))
    data = map_data(
        points,
        COLOUR_CHOICES[colour],
        actual,
        probabilities.argmax(axis=1),
        probabilities.max(axis=1),
        CLASS_NAMES,
        title,
        selected=chosen,
    )
    result = _component()(key=key, data=data, default={"selection": []}, on_selection_change=lambda: None)
    return selection_of(result.get("selection") if hasattr(result, "get") else None, len(points))
