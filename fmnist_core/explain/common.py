"""What every explanation method shares: the class logits of a Sequential model run layer by layer, map scaling,
and which layers are convolutions."""

from __future__ import annotations

from typing import Any

import numpy as np

NO_CONV = "this model has no conv layer"


def conv_layers(model: Any) -> list[str]:
    """Names of the Conv2D layers, in order; empty for a model of dense layers only (imports may be)."""
    return [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]


def normalise(heat: np.ndarray) -> np.ndarray:
    """A non-negative map scaled to its maximum (all zeros stay zeros, not NaN)."""
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    top = float(heat.max())
    return heat / top if top > 0 else np.zeros_like(heat)


def _is_softmax(layer: Any) -> bool:
    """A layer whose only job is the final softmax (Softmax, or Activation('softmax'))."""
    kind = type(layer).__name__
    if kind == "Softmax":
        return True
    return kind == "Activation" and getattr(layer.activation, "__name__", "") == "softmax"


def forward_to_logits(model: Any, x: Any, watch: str | None = None, tape: Any = None) -> tuple[Any, Any]:
    """Run the layers one by one; return (watched layer's output or None, class logits).

    Logits, not softmax probabilities: a confident softmax saturates at 1.0 in float32 and its gradient
    vanishes, which would blank the explanation (or stall an attack) exactly for the clearest images.
    Traceable by tf.function.
    """
    import tensorflow as tf

    h, watched = x, None
    layers = list(model.layers)
    last = layers[-1]
    for lyr in layers:
        if lyr is last and _is_softmax(lyr):
            break
        if lyr is last and getattr(lyr, "activation", None) is not None and lyr.activation.__name__ == "softmax":
            h = tf.matmul(tf.cast(h, lyr.kernel.dtype), lyr.kernel)
            h = h + lyr.bias if lyr.use_bias else h
        else:
            h = lyr(h, training=False)
        if lyr.name == watch:
            watched = h
            if tape is not None:
                tape.watch(watched)
    return watched, h


def resolve_class(probabilities: np.ndarray, class_index: int | None) -> int:
    """The class to explain: the given one (checked), else the predicted one."""
    if class_index is None:
        return int(np.argmax(probabilities))
    cls = int(class_index)
    if not 0 <= cls < len(probabilities):
        raise ValueError(f"class {cls} does not exist (0..{len(probabilities) - 1})")
    return cls
