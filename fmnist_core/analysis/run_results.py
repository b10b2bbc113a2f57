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
        every = activations.channel_maxima_of_layers(loaded, images, activations.spatial_layers(loaded))
        if layer not in every:
            activations.check_spatial_layer(loaded, layer)  # raises the one-sentence error
        for name, maxima in every.items():
            arrays = {
                "maxima": maxima.maxima,
                "rows": maxima.rows,
                "cols": maxima.cols,
                "map_shape": np.array(maxima.map_shape, dtype=np.int64),
            }
            save(run_id, _maxima_name(name), arrays, home)
            if name == layer:
                found = arrays
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
