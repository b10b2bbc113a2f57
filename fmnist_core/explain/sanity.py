"""The model-randomisation test (Adebayo et al., "Sanity Checks for Saliency Maps", 2018): replace the weights
layer by layer from the output down and watch whether a method's map changes. A map that stays the same when the
model is destroyed is not explaining the model.

Always on a clone: the loaded model (shared by every session through a cache) is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.explain.attributions import attribute, available_methods, spearman
from fmnist_core.nets.inference import predict_proba

DEFAULT_SEED = 0


def clone(model: Any) -> Any:
    """A new model with the same layers (names kept) and a copy of the weights."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def layers_to_randomise(model: Any) -> list[str]:
    """Layers that hold weights, from the output down: the order of the cascading test."""
    return [layer.name for layer in reversed(model.layers) if layer.weights]


def _fresh(variable: Any, layer: Any, seed: int) -> np.ndarray:
    """What this weight would be in a newly built layer: its own initialiser, seeded (Glorot uniform, or zeros for
    a vector, where the layer names none)."""
    import keras

    name = variable.path.rsplit("/", 1)[-1]
    init = getattr(layer, f"{name}_initializer", None)
    if not isinstance(init, keras.initializers.Initializer):
        init = keras.initializers.GlorotUniform() if len(variable.shape) >= 2 else keras.initializers.Zeros()
    config = init.get_config()
    if "seed" in config:
        init = type(init).from_config({**config, "seed": seed})
    return np.asarray(init(tuple(variable.shape), dtype=variable.dtype))


def randomise_layer(model: Any, name: str, seed: int) -> None:
    """Re-initialise one layer's weights in place (call it on a clone). Deterministic for a given seed."""
    layer = model.get_layer(name)
    layer.set_weights([_fresh(v, layer, seed + 7919 * k) for k, v in enumerate(layer.weights)])


def cascade(model: Any, seed: int = DEFAULT_SEED) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(layers randomised so far, the damaged clone) after each step, starting with () and the intact clone.

    The same clone is changed step by step, so compiled helpers built for it are traced once.
    """
    work = clone(model)
    order = layers_to_randomise(work)
    yield (), work
    for k, name in enumerate(order):
        randomise_layer(work, name, seed + k)
        yield tuple(order[: k + 1]), work


@dataclass(frozen=True)
class SanityStep:
    """The maps after `randomised` (cumulative, from the output down) were re-initialised."""

    randomised: tuple[str, ...]
    maps: dict[str, np.ndarray]
    spearman: dict[str, float | None]  # per method: rank correlation (absolute values) with the trained map
    predicted: int  # what the damaged model now predicts for the image


@dataclass(frozen=True)
class SanityResult:
    """Step 0 is the trained model (its spearman is 1 by definition); one more step per randomised layer."""

    class_index: int
    methods: tuple[str, ...]
    seed: int
    steps: tuple[SanityStep, ...]


def randomisation_test(
    model: Any,
    image: np.ndarray,
    class_index: int | None = None,
    methods: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> SanityResult:
    """Cascading randomisation from the output down; every method's map after each layer. `progress(done, total)`
    is called after each step (the page draws a progress bar with it). The class stays the one explained at the
    start (default: the trained model's prediction), so the maps compare like with like.
    """
    chosen = tuple(methods) if methods is not None else tuple(available_methods(model))
    cls = int(np.argmax(predict_proba(model, image)[0])) if class_index is None else int(class_index)
    total = len(layers_to_randomise(model)) + 1
    steps: list[SanityStep] = []
    for randomised, work in cascade(model, seed):
        maps = {m: attribute(work, image, cls, m, **options).map for m in chosen}
        reference = steps[0].maps if steps else maps
        steps.append(
            SanityStep(
                randomised=randomised,
                maps=maps,
                spearman={m: spearman(reference[m], maps[m]) for m in chosen},
                predicted=int(np.argmax(predict_proba(work, image)[0])),
            )
        )
        if progress is not None:
            progress(len(steps), total)
    return SanityResult(class_index=cls, methods=chosen, seed=seed, steps=tuple(steps))
