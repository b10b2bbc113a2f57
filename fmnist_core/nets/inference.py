"""Predict, evaluate, confusion matrix and per-class metrics: numbers only, for pages, CLI and tests."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.data.fashion_mnist import CLASS_NAMES, scale

NUM_CLASSES = len(CLASS_NAMES)


def as_model_input(images: np.ndarray) -> np.ndarray:
    """Accept uint8 (N,28,28) / (28,28) or already-scaled float arrays; return float32 (N,28,28,1)."""
    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.dtype == np.uint8:
        return scale(arr)
    arr = arr.astype(np.float32, copy=False)
    return arr.reshape(-1, 28, 28, 1)


_per_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_per_model_lock = threading.Lock()


def per_model(model: Any, key: str, build: Callable[[], Any]) -> Any:
    """Build a helper (compiled function, sub-model) once per loaded model; it dies with the model."""
    with _per_model_lock:
        slot = _per_model.setdefault(model, {})
        if key not in slot:
            slot[key] = build()
        return slot[key]


def compiled_forward(model: Any) -> Callable[[Any], Any]:
    """model(x, training=False) as a tf.function: faster than eager calls or model.predict (no per-call setup).

    autograph=False here and in every compiled function without tensor-dependent Python control flow: autograph
    parses the source of each function it converts, for every new model, a third of a page's first visit.
    """

    def build() -> Callable[[Any], Any]:
        import tensorflow as tf

        ref = weakref.ref(model)  # a strong reference here would keep the model (the cache key) alive forever
        return tf.function(lambda x: ref()(x, training=False), reduce_retracing=True, autograph=False)

    return per_model(model, "forward", build)


def predict_proba(model: Any, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (N, 10) for any batch; rows are renormalised in float64 so they sum to 1."""
    x = as_model_input(images)
    if len(x) == 0:
        return np.zeros((0, NUM_CLASSES))
    forward = compiled_forward(model)
    probs = np.concatenate([np.asarray(forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
    probs = probs.astype(np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy, clipped as Keras does; NaN for no images (not a warning)."""
    if len(labels) == 0:
        return float("nan")
    p = np.clip(probs[np.arange(len(labels)), labels.astype(int)], 1e-7, 1.0)
    return float(-np.log(p).mean())


@dataclass(frozen=True)
class Evaluation:
    """Loss, accuracy and the raw predictions they came from."""

    loss: float
    accuracy: float
    n: int
    probabilities: np.ndarray
    predictions: np.ndarray


def evaluate(model: Any, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Loss and accuracy over a labelled set, computed from one batched prediction."""
    probs = predict_proba(model, images)
    preds = probs.argmax(axis=1)
    labels = np.asarray(labels).astype(int)
    return Evaluation(
        loss=cross_entropy(probs, labels),
        accuracy=float((preds == labels).mean()) if len(labels) else float("nan"),
        n=int(len(labels)),
        probabilities=probs,
        predictions=preds,
    )


def mirror_averaged_accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy when each image's probabilities are averaged with its left-right mirror's (test-time augmentation).

    A second opinion at twice the cost: a garment and its mirror image are the same class, so the two guesses'
    mean is steadier. Reported beside the plain accuracy, never instead of it.
    """
    x = as_model_input(images)
    probs = predict_proba(model, x) + predict_proba(model, x[:, :, ::-1])
    labels = np.asarray(labels).astype(int)
    return float((probs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def confusion_matrix(actual: np.ndarray, predicted: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Counts[i, j] = images of actual class i predicted as class j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(actual).astype(int), np.asarray(predicted).astype(int)), 1)
    return matrix


def per_class_metrics(matrix: np.ndarray) -> list[dict[str, float | str | int]]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    actual = matrix.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return [
        {
            "class": CLASS_NAMES[i] if i < len(CLASS_NAMES) else str(i),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(actual[i]),
        }
        for i in range(matrix.shape[0])
    ]
