"""One call shape for every attribution method, Captum-style: attribute(model, image, class_index, method) ->
Attribution, so the page, the CLI, the randomisation test and the tests swap and compare methods freely; and how
far two maps agree (Spearman's rank correlation of their absolute values)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.explain.common import NO_CONV, conv_layers, resolve_class
from fmnist_core.explain.gradcam import grad_cam, last_conv_layer
from fmnist_core.explain.gradients import IG_STEPS, integrated_gradients, saliency
from fmnist_core.explain.occlusion import DEFAULT_PATCH, DEFAULT_STRIDE, occlusion
from fmnist_core.nets.inference import predict_proba


@dataclass(frozen=True)
class Attribution:
    """One method's answer for one image and class: a (28, 28) map, plus what only that method has."""

    method: str
    class_index: int
    map: np.ndarray  # Grad-CAM and saliency: 0..1 (scaled to their maximum); the others: signed, in units of p
    seconds: float
    layer: str | None = None  # Grad-CAM: the layer it weighed
    grid: np.ndarray | None = None  # occlusion: value per patch position (rows, cols)
    completeness: tuple[float, float] | None = None  # integrated gradients: (sum of attributions, p(x) - p(x0))


@dataclass(frozen=True)
class Method:
    """What the page and CLI need to know of a method: its name, title, the line saying what it measures."""

    name: str
    title: str
    measures: str
    signed: bool  # signed maps (in units of p) are drawn with a diverging scale around 0
    needs_conv: bool


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "gradcam",
            "Grad-CAM",
            "where the last conv block's channels that raise this class's score are active",
            signed=False,
            needs_conv=True,
        ),
        Method(
            "saliency",
            "Saliency",
            "how strongly a tiny change of each pixel would move this class's score (the gradient's size)",
            signed=False,
            needs_conv=False,
        ),
        Method(
            "integrated-gradients",
            "Integrated gradients",
            "each pixel's share of p(class) on the way from a black image to this one; the shares add up",
            signed=True,
            needs_conv=False,
        ),
        Method(
            "occlusion",
            "Occlusion",
            "how much p(class) drops when a black square hides each place (mean over the squares covering a pixel)",
            signed=True,
            needs_conv=False,
        ),
    )
}


def available_methods(model: Any) -> list[str]:
    """The methods this model allows: Grad-CAM needs a conv layer, the others work on any network."""
    has_conv = bool(conv_layers(model))
    return [name for name, m in METHODS.items() if has_conv or not m.needs_conv]


def attribute(
    model: Any,
    image: np.ndarray,
    class_index: int | None = None,
    method: str = "gradcam",
    *,
    patch: int = DEFAULT_PATCH,
    stride: int = DEFAULT_STRIDE,
    steps: int = IG_STEPS,
) -> Attribution:
    """`method`'s map of `image` for `class_index` (default: the predicted class).

    ValueError (one sentence) for an unknown method, a class outside 0..9, Grad-CAM without a conv layer, or a
    patch/stride out of range.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    cls = resolve_class(predict_proba(model, image)[0], class_index)
    if METHODS[method].needs_conv and not conv_layers(model):
        raise ValueError(f"Grad-CAM: {NO_CONV}")
    started = time.perf_counter()
    if method == "gradcam":
        heat = grad_cam(model, image, cls)
        return Attribution(method, cls, heat.astype(np.float64), _since(started), layer=last_conv_layer(model))
    if method == "saliency":
        return Attribution(method, cls, saliency(model, image, cls).astype(np.float64), _since(started))
    if method == "integrated-gradients":
        ig = integrated_gradients(model, image, cls, steps=steps)
        return Attribution(method, cls, ig.attributions, _since(started), completeness=(ig.total, ig.difference))
    occ = occlusion(model, image, cls, patch=patch, stride=stride)
    return Attribution(method, cls, occ.map, _since(started), grid=occ.grid)


def attribute_all(
    model: Any, image: np.ndarray, class_index: int | None = None, methods: Sequence[str] | None = None, **options: Any
) -> dict[str, Attribution]:
    """Every method (default: all this model allows) for one image and class, in METHODS order."""
    chosen = list(methods) if methods is not None else available_methods(model)
    return {name: attribute(model, image, class_index, name, **options) for name in chosen}


def _since(started: float) -> float:
    return time.perf_counter() - started


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a flat array, ties sharing their average rank (as Spearman's definition wants)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Runs of equal values: each gets the mean of the ranks it spans.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    averaged = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    out = np.empty_like(averaged)
    out[order] = averaged
    return out


def spearman(a: np.ndarray, b: np.ndarray, absolute: bool = True) -> float | None:
    """Spearman's rank correlation of two maps (of their absolute values by default: where, not which sign).

    None when either map is constant (a blank Grad-CAM): its ranks carry no order to correlate.
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if absolute:
        a, b = np.abs(a), np.abs(b)
    ra, rb = ranks(a) - (len(a) + 1) / 2, ranks(b) - (len(b) + 1) / 2
    scale = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / scale) if scale > 0 else None


def agreement(maps: dict[str, np.ndarray]) -> np.ndarray:
    """The symmetric matrix of Spearman correlations between every pair of maps (NaN where undefined)."""
    names = list(maps)
    matrix = np.eye(len(names))
    for i, a in enumerate(names):
        if spearman(maps[a], maps[a]) is None:
            matrix[i, i] = np.nan
        for j in range(i + 1, len(names)):
            value = spearman(maps[a], maps[names[j]])
            matrix[i, j] = matrix[j, i] = np.nan if value is None else value
    return matrix
