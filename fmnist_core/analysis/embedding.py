"""The map of all test images: each image's features from the last hidden layer, projected to 2-D.

PCA (numpy's SVD) always: exact, fast and deterministic. t-SNE (openTSNE) when it is installed: it keeps each
image's neighbours of the same class far better than PCA, at seconds of CPU (docs/performance.md), so pages cache it
per model.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.nets.inference import as_model_input, per_model

PCA = "PCA"
TSNE = "t-SNE"
EXAGGERATION_ITERATIONS, ITERATIONS = 75, 150
# openTSNE's arguments for the app's map; `python -m bench.tsne` measures them against openTSNE's defaults.
TSNE_OPTIONS: dict[str, Any] = {
    "perplexity": 30,
    "early_exaggeration_iter": EXAGGERATION_ITERATIONS,
    "n_iter": ITERATIONS,
    "negative_gradient_method": "fft",
    "neighbors": "exact",
    "n_interpolation_points": 2,
}
Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening), for a progress bar
# Layers that pass features through unchanged at inference: the "last hidden layer" is the one before them.
PASS_THROUGH_TYPES = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout")


@dataclass(frozen=True)
class Embedding:
    """2-D points (N, 2), one per image, from `layer`'s features by `method`; `seconds` it took to project."""

    layer: str
    method: str
    points: np.ndarray
    seconds: float


def feature_layer(model: Any) -> str:
    """The last hidden layer: the one before the output, skipping dropout-like layers that are identity here.

    The notebook's model gives dense (128 units); a model without a hidden dense layer gives whatever comes
    before its output (flatten, a pool, ...).
    """
    layers = list(model.layers)[:-1]
    while layers and type(layers[-1]).__name__ in PASS_THROUGH_TYPES:
        layers.pop()
    if not layers:
        raise ValueError("the model has no layer before its output to take features from")
    return layers[-1].name


def features(model: Any, images: np.ndarray, layer: str | None = None, batch_size: int = 1000) -> np.ndarray:
    """(N, D) float32 features of `layer` (default: feature_layer), flattened, computed in batches."""
    layer = layer or feature_layer(model)
    if layer not in [lyr.name for lyr in model.layers]:
        raise ValueError(f"no layer named {layer!r}")

    def build() -> Any:
        import keras
        import tensorflow as tf

        sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
        return tf.function(lambda x: sub(x, training=False), reduce_retracing=True, autograph=False)

    forward = per_model(model, f"features:{layer}", build)
    x = as_model_input(images)
    parts = [np.asarray(forward(x[i : i + batch_size]), dtype=np.float32) for i in range(0, len(x), batch_size)]
    out = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    return out.reshape(len(out), -1)


def pca(features: np.ndarray, components: int = 2) -> np.ndarray:
    """Project centred features on their top principal axes (SVD); each axis' sign is fixed so the result is
    the same on every run: the largest-magnitude loading is positive."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"PCA needs at least two feature rows, got shape {x.shape}")
    x = x - x.mean(axis=0)
    # The D x D covariance is far smaller than the N x D data: its eigenvectors are the same axes.
    _, _, vt = np.linalg.svd(x.T @ x, full_matrices=False, hermitian=True)
    axes = vt[:components]
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1, signs)[:, None]
    return (x @ axes.T).astype(np.float32)


def tsne_available() -> bool:
    """True when openTSNE is installed (requirements.txt installs it; the app works without it).

    find_spec, not an import: importing openTSNE pulls in scipy and scikit-learn, which only t-SNE needs.
    """
    return importlib.util.find_spec("openTSNE") is not None


def tsne(
    features: np.ndarray,
    seed: int = 0,
    n_jobs: int = 2,
    progress: Progress | None = None,
    options: dict[str, Any] | None = None,
) -> np.ndarray:
    """t-SNE (openTSNE, FFT-accelerated gradients) of the features' top 50 principal components.

    Reducing to 50 PCA dimensions first is the usual recipe: the neighbour search gets cheap and noise drops.
    The initialisation is PCA and the random state is `seed`, so a seed gives the same map. 75 + 150 iterations
    (early exaggeration, then normal) instead of openTSNE's 250 + 500, exact neighbours instead of Annoy's
    approximate ones and a coarser FFT grid (TSNE_OPTIONS): a fraction of the time for the same neighbour agreement
    (`python -m bench.tsne`, docs/performance.md). `progress` hears of the neighbour search and of every 15th
    iteration: the whole takes seconds, and a learner should see it move. `options` override openTSNE's arguments
    (the bench compares settings with it).
    """
    from openTSNE import TSNE as OpenTSNE

    arguments = {**TSNE_OPTIONS, **(options or {})}
    total = int(arguments["early_exaggeration_iter"]) + int(arguments["n_iter"])
    done = [0]
    every = 15

    def report(*_: Any) -> bool:
        done[0] += every
        if progress is not None:
            progress(
                0.25 + 0.75 * min(1.0, done[0] / total), f"arranging the points: step {min(done[0], total)} of {total}"
            )
        return False  # never stop early

    if progress is not None:
        progress(0.0, "finding each image's nearest neighbours")
    x = np.asarray(features, dtype=np.float32)
    reduced = pca(x, components=min(50, x.shape[1])) if x.shape[1] > 50 else x
    estimator = OpenTSNE(
        n_components=2,
        initialization="pca",
        callbacks=report,
        callbacks_every_iters=every,
        random_state=seed,
        n_jobs=n_jobs,
        verbose=False,
        **arguments,
    )
    return np.asarray(estimator.fit(reduced.astype(np.float64)), dtype=np.float32)


def project(features: np.ndarray, method: str = PCA, seed: int = 0, progress: Progress | None = None) -> np.ndarray:
    """(N, 2) points by PCA or t-SNE."""
    if method == PCA:
        return pca(features, 2)
    if method == TSNE:
        if not tsne_available():
            raise ValueError("t-SNE needs the openTSNE package (pip install -r requirements.txt)")
        return tsne(features, seed=seed, progress=progress)
    raise ValueError(f"unknown projection {method!r}; choose {PCA} or {TSNE}")


def embed(
    model: Any, images: np.ndarray, method: str = PCA, seed: int = 0, progress: Progress | None = None
) -> Embedding:
    """The images' last-hidden-layer features projected to 2-D."""
    layer = feature_layer(model)
    feats = features(model, images, layer)
    started = time.perf_counter()
    points = project(feats, method, seed, progress)
    return Embedding(layer, method, points, time.perf_counter() - started)
