"""How one cell of a conv or pool feature map is computed from the layer before it (explain_cell), and which input
pixels can reach it (receptive_field): the arithmetic a learner can redo by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.nets.inference import as_model_input, per_model

# --- how one cell is computed ---------------------------------------------------------------------------------
CONV_TYPES = ("Conv2D",)
POOL_TYPES = {"MaxPooling2D": "max_pool", "AveragePooling2D": "avg_pool"}
# Layers that keep every cell where it is: the receptive field passes through them unchanged.
POINTWISE_TYPES = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU", "Dropout", "SpatialDropout2D")


@dataclass(frozen=True)
class CellExplanation:
    """How the value at (row, col, channel) of a conv or pool layer comes from the map before it.

    Conv: patch (kh, kw, C_in) of the source map (zeros where 'same' padding reaches outside), kernel (kh, kw, C_in),
    products = patch * kernel, contributions = products summed per input channel, total = their sum,
    pre_activation = total + bias, value = the layer's own activation of it.
    Pool: patch (ph, pw) of the source map's channel (NaN outside the map), value = its max (winner) or mean.
    `model_value` is the model's own output at the cell; `value` equals it to float32 rounding.
    """

    layer: str
    kind: str  # "conv", "max_pool" or "avg_pool"
    channel: int
    row: int
    col: int
    value: float
    model_value: float
    source_layer: str  # the layer whose output feeds this one ("input" for the image)
    source_shape: tuple[int, int, int]
    window: tuple[int, int, int, int]  # [top, left, bottom, right] in the source map, inclusive, may pass its edges
    patch: np.ndarray
    receptive_field: tuple[int, int, int, int]  # [top, left, bottom, right] in input pixels, inclusive, clipped
    kernel: np.ndarray | None = None
    products: np.ndarray | None = None
    contributions: np.ndarray | None = None
    total: float | None = None
    bias: float | None = None
    pre_activation: float | None = None
    activation: str | None = None
    winner: tuple[int, int] | None = None  # max pool: the winning cell in the source map
    note: str = ""

    def describe(self) -> str:
        """A few lines of text for the CLI."""
        head = f"{self.layer} channel {self.channel} at row {self.row}, col {self.col}: {self.value:.6g}"
        top, left, bottom, right = self.receptive_field
        lines = [head, f"  receptive field: rows {top}..{bottom}, cols {left}..{right} of the input"]
        if self.kind == "conv":
            lines.append(
                f"  sum of {self.products.size} products {self.total:.6g} + bias {self.bias:.6g}"
                f" = {self.pre_activation:.6g}; {self.activation} -> {self.value:.6g}"
            )
            order = np.argsort(-np.abs(self.contributions))[:5]
            lines += [f"  input channel {int(c):>3}: {self.contributions[c]:+.6g}" for c in order]
        else:
            what = f"max at {self.winner} of" if self.kind == "max_pool" else "mean of"
            lines.append(f"  {what} the {self.patch.shape[0]}x{self.patch.shape[1]} window of {self.source_layer}")
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _geometry(layer: Any) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(window size, strides, padding before) of a conv or pool layer, TensorFlow's 'same' rule included."""
    kind = type(layer).__name__
    if kind in CONV_TYPES:
        if _pair(layer.dilation_rate) != (1, 1) or getattr(layer, "groups", 1) != 1:
            raise ValueError(f"{layer.name} is a dilated or grouped convolution, which is not explained")
        size = _pair(layer.kernel_size)
    else:
        size = _pair(layer.pool_size)
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"{layer.name} is not channels_last, which is not explained")
    strides = _pair(layer.strides)
    before = (0, 0)
    if layer.padding == "same":
        in_hw = [int(d) for d in layer.input.shape[1:3]]
        out_hw = [int(d) for d in layer.output.shape[1:3]]
        before = tuple(
            max((o - 1) * s + k - i, 0) // 2 for i, o, s, k in zip(in_hw, out_hw, strides, size, strict=True)
        )
    return size, strides, before


def _keeps_grid(layer: Any) -> bool:
    """A reshape that only adds or drops the channel axis (an imported 28x28 model's front) moves no cell."""
    if type(layer).__name__ != "Reshape":
        return False
    in_shape = tuple(int(d) for d in layer.input.shape[1:])
    out_shape = tuple(int(d) for d in layer.output.shape[1:])
    return in_shape[:2] == out_shape[:2]


def receptive_field(model: Any, layer: str, row: int, col: int) -> tuple[int, int, int, int]:
    """[top, left, bottom, right] (inclusive) of the input pixels that can affect one cell of `layer`.

    Walks back through the conv and pool layers, clipping at each map's edge: padding zeros come from no pixel.
    """
    names = [lyr.name for lyr in model.layers]
    top, left, bottom, right = row, col, row, col
    for lyr in reversed(model.layers[: names.index(layer) + 1]):
        kind = type(lyr).__name__
        if kind in CONV_TYPES or kind in POOL_TYPES:
            (kh, kw), (sh, sw), (ph, pw) = _geometry(lyr)
            h, w = (int(d) for d in lyr.input.shape[1:3])
            top, bottom = max(top * sh - ph, 0), min(bottom * sh - ph + kh - 1, h - 1)
            left, right = max(left * sw - pw, 0), min(right * sw - pw + kw - 1, w - 1)
        elif kind not in POINTWISE_TYPES and not _keeps_grid(lyr):
            raise ValueError(f"the receptive field cannot be traced through {lyr.name} ({kind})")
    return top, left, bottom, right


def _source_and_output(model: Any, layer: str) -> Any:
    """A function image -> (the layer's input map, its output map), built once per (model, layer)."""

    def build() -> Any:
        import keras
        import tensorflow as tf

        target = model.get_layer(layer)
        sub = keras.Model(model.inputs[0], [target.input, target.output])
        return tf.function(lambda x: sub(x, training=False), reduce_retracing=True, autograph=False)

    return per_model(model, f"explain_cell:{layer}", build)


def _source_name(model: Any, layer: str) -> str:
    """The name of the layer feeding `layer` ("input" for the first one)."""
    layers = list(model.layers)
    index = [lyr.name for lyr in layers].index(layer)
    return layers[index - 1].name if index > 0 else "input"


def _followers(model: Any, layer: str) -> list[str]:
    """Batch norms and activations right after a layer: they act on its output before the next conv or pool."""
    layers = list(model.layers)
    index = [lyr.name for lyr in layers].index(layer)
    names = []
    for lyr in layers[index + 1 :]:
        if type(lyr).__name__ not in ("BatchNormalization", "Activation", "ReLU", "LeakyReLU"):
            break
        names.append(lyr.name)
    return names


def explain_cell(model: Any, image: np.ndarray, layer: str, channel: int, row: int, col: int) -> CellExplanation:
    """Recompute one cell of a conv or pool layer in numpy from its weights and the previous layer's output.

    A conv followed by BatchNormalization and an activation is explained as the conv's own output (the map
    its heatmap shows), and the note says which layers act on it next.
    """
    layers = {lyr.name: lyr for lyr in model.layers}
    explainable = [
        n for n, lyr in layers.items() if type(lyr).__name__ in CONV_TYPES or type(lyr).__name__ in POOL_TYPES
    ]
    if layer not in explainable:
        raise ValueError(f"layer {layer!r} is not a conv or pool layer; choose one of {', '.join(explainable)}")
    target = layers[layer]
    h, w, c = (int(d) for d in target.output.shape[1:])
    if not 0 <= channel < c:
        raise ValueError(f"channel {channel} does not exist in {layer} (0..{c - 1})")
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"cell ({row}, {col}) is outside {layer}'s {h}x{w} map (rows and columns 0..{h - 1})")
    (kh, kw), (sh, sw), (ph, pw) = _geometry(target)
    source, output = _source_and_output(model, layer)(as_model_input(image)[:1])
    source = np.asarray(source, dtype=np.float64)[0]
    model_value = float(np.asarray(output)[0, row, col, channel])
    sh_, sw_, sc = source.shape
    top, left = row * sh - ph, col * sw - pw
    window = (top, left, top + kh - 1, left + kw - 1)
    inside = np.zeros((kh, kw), dtype=bool)
    rows = np.arange(top, top + kh)
    cols = np.arange(left, left + kw)
    inside[np.ix_((rows >= 0) & (rows < sh_), (cols >= 0) & (cols < sw_))] = True
    patch = np.zeros((kh, kw, sc), dtype=np.float64)
    r0, r1, c0, c1 = max(top, 0), min(top + kh, sh_), max(left, 0), min(left + kw, sw_)
    patch[r0 - top : r1 - top, c0 - left : c1 - left] = source[r0:r1, c0:c1]
    common = dict(
        layer=layer,
        channel=channel,
        row=row,
        col=col,
        model_value=model_value,
        source_layer=_source_name(model, layer),
        source_shape=(sh_, sw_, sc),
        window=window,
        receptive_field=receptive_field(model, layer, row, col),
    )
    kind = type(target).__name__
    if kind in CONV_TYPES:
        weights = target.get_weights()
        kernel = np.asarray(weights[0], dtype=np.float64)[:, :, :, channel]
        bias = float(weights[1][channel]) if target.use_bias else 0.0
        products = patch * kernel
        contributions = products.sum(axis=(0, 1))
        total = float(contributions.sum())
        pre = total + bias
        activation = target.activation
        value = float(np.asarray(activation(np.array([pre], dtype=np.float32)))[0])
        followers = _followers(model, layer)
        note = ""
        if followers:
            note = f"{layer}'s own output, before {', '.join(followers)} act on it (that is the map its heatmap shows)"
        return CellExplanation(
            kind="conv",
            value=value,
            patch=patch,
            kernel=kernel,
            products=products,
            contributions=contributions,
            total=total,
            bias=bias,
            pre_activation=pre,
            activation=getattr(activation, "__name__", str(activation)),
            note=note,
            **common,
        )
    window_values = np.where(inside, patch[:, :, channel], np.nan)  # pools ignore what lies outside the map
    if POOL_TYPES[kind] == "max_pool":
        r, cc = np.unravel_index(int(np.nanargmax(window_values)), window_values.shape)
        return CellExplanation(
            kind="max_pool",
            value=float(window_values[r, cc]),
            patch=window_values,
            winner=(top + int(r), left + int(cc)),
            **common,
        )
    return CellExplanation(kind="avg_pool", value=float(np.nanmean(window_values)), patch=window_values, **common)
