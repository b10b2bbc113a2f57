"""What the pages read first of a run, computed once and kept on disk (fmnist_core.runs.cache): the test-set
probabilities, each layer's per-channel maxima, the embedding's points. Each costs seconds (t-SNE: tens) and
depends on nothing but the run's weights and the test set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.analysis import activations
from fmnist_core.analysis import embedding as core
from fmnist_core.nets.inference import predict_proba
from fmnist_core.runs.cache import Arrays, cached, load, save

PROBABILITIES = "test-probabilities"


def test_probabilities(
    run_id: str, model: Callable[[], Any], images: np.ndarray, home: Path | None = None
) -> np.ndarray:
    """(N, 10) float32 probabilities of the test images; `model()` is only called when they are not on disk."""

    def compute() -> Arrays:
        return {"probabilities": predict_proba(model(), images).astype(np.float32)}

    return cached(run_id, PROBABILITIES, compute, home)["probabilities"]


def _maxima_name(layer: str) -> str:
    return f"maxima-{layer}"


def _keep_maxima(run_id: str, model: Any, images: np.ndarray, home: Path | None) -> dict[str, Arrays]:
    """Every feature-map layer's channel maxima in one pass, kept on disk; the arrays by layer name."""
    every = activations.channel_maxima_of_layers(model, images, activations.spatial_layers(model))
    kept = {}
    for name, maxima in every.items():
        kept[name] = {
            "maxima": maxima.maxima,
            "rows": maxima.rows,
            "cols": maxima.cols,
            "map_shape": np.array(maxima.map_shape, dtype=np.int64),
        }
        save(run_id, _maxima_name(name), kept[name], home)
    return kept


def channel_maxima(
    run_id: str, model: Callable[[], Any], images: np.ndarray, layer: str, home: Path | None = None
) -> Any:
    """activations.channel_maxima of `layer` over the test images, from disk when kept.

    When it must be computed, every layer with feature maps is computed in the same pass and kept: a learner
    who opens one layer opens the others next, and the pass costs about what one layer alone does.
    """
    found = load(run_id, _maxima_name(layer), home)
    if found is None:
        loaded = model()
        every = _keep_maxima(run_id, loaded, images, home)
        if layer not in every:
            activations.check_spatial_layer(loaded, layer)  # raises the one-sentence error
        found = every[layer]
    shape = tuple(int(d) for d in found["map_shape"])
    return activations.ChannelMaxima(layer, found["maxima"], found["rows"], found["cols"], shape)  # type: ignore[arg-type]


def embedding(
    run_id: str,
    model: Callable[[], Any],
    images: np.ndarray,
    method: str,
    seed: int = 0,
    home: Path | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """embedding.embed of the test images by `method`, from disk when kept (`seconds` is the first computation's)."""

    def compute() -> Arrays:
        found = core.embed(model(), images, method, seed=seed, progress=progress)
        return {"layer": np.array(found.layer), "points": found.points, "seconds": np.array(found.seconds)}

    a = cached(run_id, f"embedding-{method}-{seed}", compute, home)
    return core.Embedding(str(a["layer"]), method, a["points"], float(a["seconds"]))


def prepare(
    run_id: str, model: Any, images: np.ndarray, home: Path | None = None, probabilities: np.ndarray | None = None
) -> None:
    """Keep what a run's pages read first, before the run is offered: the test probabilities (given, or
    computed), every layer's channel maxima (the exemplars) and the PCA map. The training's worker calls it with
    the model it just trained, inside its own CPU share, so a learner's first visits compute nothing."""
    if probabilities is None:
        probabilities = predict_proba(model, images)
    save(run_id, PROBABILITIES, {"probabilities": probabilities.astype(np.float32)}, home)
    if activations.spatial_layers(model):
        _keep_maxima(run_id, model, images, home)
    embedding(run_id, lambda: model, images, core.PCA, seed=0, home=home)
