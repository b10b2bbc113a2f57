"""The smallest change that flips the answer (fmnist_core.explain.flip), checked as anyone could: the changed
image is classified as reported, no pixel moved more than epsilon, pixels stay in 0..1, and epsilon - 1/255 does
not flip it."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from fmnist_core.data import fashion_mnist
from fmnist_core.explain import flip
from fmnist_core.nets.inference import as_model_input, predict_proba
from fmnist_core.nets.keras_models import build_notebook_cnn

FLOAT32_SLACK = 1e-6  # x + epsilon is rounded to float32


def assert_valid_flip(model: keras.Model, image: np.ndarray, found: flip.Flip, target: int | None) -> None:
    x = as_model_input(image)[0, :, :, 0]
    np.testing.assert_array_equal(found.original, x)
    assert found.levels is not None and found.epsilon == pytest.approx(found.levels / 255)
    probs = predict_proba(model, found.image[None])[0]
    assert int(probs.argmax()) == found.predicted_after != found.predicted_before
    if target is not None:
        assert found.predicted_after == target
    np.testing.assert_allclose(probs, found.probabilities_after, atol=1e-6)
    np.testing.assert_allclose(predict_proba(model, x[None])[0], found.probabilities_before, atol=1e-6)
    assert found.image.min() >= 0.0 and found.image.max() <= 1.0
    assert np.abs(found.change).max() <= found.epsilon + FLOAT32_SLACK
    # Minimal to one grey level: the same attack one level lower leaves the prediction where it was.
    if found.levels > 1:
        assert (found.levels - 1, False) in found.tried
        weaker = flip.pgd(model, image, [(found.levels - 1) / 255], found.predicted_before, target)
        after = int(predict_proba(model, weaker)[0].argmax())
        assert after == found.predicted_before if target is None else after != target


@pytest.mark.parametrize("index", [0, 2])
def test_smallest_flip_is_a_flip_and_minimal(model: keras.Model, test_set: fashion_mnist.Split, index: int) -> None:
    image = test_set.images[index]
    found = flip.smallest_flip(model, image)
    assert found.epsilon is not None and found.epsilon <= 0.3
    assert_valid_flip(model, image, found, None)


def test_smallest_flip_towards_a_target(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    image = test_set.images[0]  # an ankle boot
    found = flip.smallest_flip(model, image, target=0)
    assert_valid_flip(model, image, found, 0)
    with pytest.raises(ValueError, match="already predicts class 9"):
        flip.smallest_flip(model, image, target=9)


def test_a_model_that_cannot_be_flipped_says_so() -> None:
    """Zero weights and one bias: the same answer whatever the image, so no epsilon up to 0.3 flips it."""
    stubborn = build_notebook_cnn(seed=0)
    stubborn.set_weights([np.zeros_like(w) for w in stubborn.get_weights()])
    bias = np.zeros(10, np.float32)
    bias[3] = 2.0
    stubborn.get_layer("dense_1").set_weights([np.zeros_like(stubborn.get_layer("dense_1").get_weights()[0]), bias])
    found = flip.smallest_flip(stubborn, np.full((28, 28), 128, np.uint8))
    assert found.epsilon is None and found.image is None and found.predicted_after is None
    assert found.predicted_before == 3
    assert (flip.MAX_LEVELS, False) in found.tried and flip.MAX_LEVELS / 255 <= 0.3 < (flip.MAX_LEVELS + 1) / 255


def test_cli_flip_json(model: keras.Model, capsys: pytest.CaptureFixture) -> None:
    from fmnist_core.cli import commands

    assert commands.main(["flip", "--index", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"epsilon", "predicted_before", "predicted_after", "image"}
    image = np.array(out["image"], dtype=np.float32)
    assert image.shape == (28, 28) and image.min() >= 0 and image.max() <= 1
    assert int(predict_proba(model, image[None])[0].argmax()) == out["predicted_after"] != out["predicted_before"]
    assert out["epsilon"] * 255 == pytest.approx(round(out["epsilon"] * 255))
    assert commands.main(["flip", "--index", "0", "--target", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predicted_after"] == 0
    assert commands.main(["flip", "--index", "0", "--target", "9"]) == 1
    assert "already predicts class 9" in capsys.readouterr().err
