"""Why the model decided: Grad-CAM on the last conv layer and a gradient saliency map, for any class.

Both return a (28, 28) map in [0, 1] to overlay on the input image.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fmnist_core.inference import as_model_input


def last_conv_layer(model: Any) -> str:
    """Name of the last Conv2D layer (Grad-CAM's usual choice: the most semantic map with spatial layout)."""
    names = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    if not names:
        raise ValueError("the model has no Conv2D layer")
    return names[-1]


def _normalise(heat: np.ndarray) -> np.ndarray:
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    top = float(heat.max())
    return heat / top if top > 0 else np.zeros_like(heat)


def grad_cam(model: Any, image: np.ndarray, class_index: int | None = None, layer: str | None = None) -> np.ndarray:
    """Grad-CAM heatmap (28, 28) in [0, 1] for `class_index` (default: the predicted class)."""
    import tensorflow as tf

    layer = layer or last_conv_layer(model)
    x = tf.constant(as_model_input(image)[:1])
    # Run the layers one by one so the tape can watch the chosen layer's output directly.
    with tf.GradientTape() as tape:
        h = x
        feature_maps = None
        for lyr in model.layers:
            h = lyr(h, training=False)
            if lyr.name == layer:
                feature_maps = h
                tape.watch(feature_maps)
        if feature_maps is None:
            raise ValueError(f"no layer named {layer!r}")
        cls = int(tf.argmax(h[0])) if class_index is None else int(class_index)
        score = h[:, cls]
    grads = tape.gradient(score, feature_maps)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * feature_maps, axis=-1))[0]
    cam = tf.image.resize(cam[..., None], (28, 28), method="bilinear")[..., 0]
    return _normalise(cam.numpy())


def saliency(model: Any, image: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """|d score / d pixel| (28, 28) in [0, 1]: which pixels would change the class score most."""
    import tensorflow as tf

    x = tf.Variable(as_model_input(image)[:1])
    with tf.GradientTape() as tape:
        probs = model(x, training=False)
        cls = int(tf.argmax(probs[0])) if class_index is None else int(class_index)
        score = probs[:, cls]
    grads = tape.gradient(score, x)
    return _normalise(np.abs(grads.numpy()[0, :, :, 0]))


def first_layer_kernels(model: Any, layer: str = "conv2d") -> np.ndarray:
    """The first conv layer's kernels as (kh, kw, filters), input channel 0: what it learned to look for."""
    kernel = model.get_layer(layer).get_weights()[0]
    return np.asarray(kernel[:, :, 0, :], dtype=np.float32)
