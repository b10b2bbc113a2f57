"""fmnist_core.activations: every layer's output for one image, and the channel mosaic layout."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_core import activations, data, inference
from fmnist_core.model import SEED_LAYER_NAMES, build_seed_cnn

NOTEBOOK_SHAPES = {
    "conv2d": (26, 26, 64),
    "max_pooling2d": (13, 13, 64),
    "conv2d_1": (11, 11, 64),
    "max_pooling2d_1": (5, 5, 64),
    "flatten": (1600,),
    "dense": (128,),
    "dense_1": (10,),
}


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_seed_cnn(seed=5)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(9).integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def outputs(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    return activations.layer_outputs(model, image)


def test_layer_outputs_has_the_notebooks_layers_and_shapes(outputs: dict[str, np.ndarray]) -> None:
    assert list(outputs) == list(SEED_LAYER_NAMES)
    assert {name: arr.shape for name, arr in outputs.items()} == NOTEBOOK_SHAPES
    assert all(arr.dtype == np.float32 for arr in outputs.values())


def test_layer_outputs_match_a_manual_keras_model(
    model: keras.Model, image: np.ndarray, outputs: dict[str, np.ndarray]
) -> None:
    manual = keras.Model(model.inputs, [layer.output for layer in model.layers])
    expected = manual.predict(data.scale(image[None]), verbose=0)
    for (name, got), want in zip(outputs.items(), expected, strict=True):
        np.testing.assert_allclose(got, want[0], atol=1e-5, err_msg=name)


def test_layer_outputs_relate_as_the_layers_say(
    model: keras.Model, image: np.ndarray, outputs: dict[str, np.ndarray]
) -> None:
    conv, pool = outputs["conv2d"], outputs["max_pooling2d"]
    assert conv.min() >= 0 and conv.max() > 0  # ReLU
    manual_pool = conv[:26, :26].reshape(13, 2, 13, 2, 64).max(axis=(1, 3))
    np.testing.assert_allclose(pool, manual_pool, atol=1e-6)
    np.testing.assert_allclose(outputs["flatten"], outputs["max_pooling2d_1"].reshape(-1), atol=1e-6)
    probs = outputs["dense_1"]
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(probs, inference.predict_proba(model, image)[0], atol=1e-5)


def test_layer_outputs_accept_scaled_input_and_batches(
    model: keras.Model, image: np.ndarray, outputs: dict[str, np.ndarray]
) -> None:
    scaled = activations.layer_outputs(model, data.scale(image[None]))
    batch = activations.layer_outputs(model, np.stack([image, np.zeros_like(image)]))  # first image only
    for name in SEED_LAYER_NAMES:
        np.testing.assert_allclose(scaled[name], outputs[name], atol=1e-6)
        np.testing.assert_allclose(batch[name], outputs[name], atol=1e-6)
    assert activations.activation_function(model) is activations.activation_function(model)


@pytest.fixture(scope="module")
def maps() -> np.ndarray:
    return np.random.default_rng(4).random((26, 26, 64), dtype=np.float32)


def test_channel_mosaic_layout_for_64_channels(maps: np.ndarray) -> None:
    mosaic, channel = activations.channel_mosaic(maps)
    assert mosaic.shape == channel.shape == (215, 215)  # 8 x 26 + 7 gutters
    assert mosaic.dtype == np.float32 and channel.dtype == np.int32
    gutters = channel == -1
    np.testing.assert_array_equal(np.isnan(mosaic), gutters)
    assert gutters.sum() == 215 * 215 - 64 * 26 * 26
    assert np.isnan(mosaic[26, :]).all() and np.isnan(mosaic[:, 26]).all()
    # (row, col) in the mosaic -> (channel, y, x) in the maps
    for (r, c), (k, y, x) in {
        (0, 0): (0, 0, 0),
        (0, 27): (1, 0, 0),
        (27, 0): (8, 0, 0),
        (30, 60): (10, 3, 6),
        (214, 214): (63, 25, 25),
        (100, 200): (31, 19, 11),  # 100 = 3 * 27 + 19, 200 = 7 * 27 + 11
    }.items():
        assert channel[r, c] == k
        assert mosaic[r, c] == maps[y, x, k]


def test_channel_mosaic_with_a_ragged_last_row() -> None:
    maps = np.arange(5 * 5 * 10, dtype=np.float32).reshape(5, 5, 10)
    mosaic, channel = activations.channel_mosaic(maps)  # 4 columns, 3 rows
    assert mosaic.shape == (17, 23)
    assert sorted(set(np.unique(channel)) - {-1}) == list(range(10))
    assert (channel[12:, 12:] == -1).all() and np.isnan(mosaic[12:, 12:]).all()  # cells 10 and 11 are empty
    flat, flat_channel = activations.channel_mosaic(maps, columns=10, gutter=0)
    assert flat.shape == (5, 50)
    np.testing.assert_array_equal(flat[:, 5:10], maps[:, :, 1])
    assert (flat_channel >= 0).all()


def test_channel_mosaic_rejects_non_spatial_outputs() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        activations.channel_mosaic(np.zeros(128, np.float32))


@pytest.mark.parametrize(("columns", "gutter"), [(None, 1), (5, 2), (64, 0)])
def test_mosaic_cell_points_at_the_channels_data(maps: np.ndarray, columns: int | None, gutter: int) -> None:
    mosaic, channel = activations.channel_mosaic(maps, columns=columns, gutter=gutter)
    for k in range(64):
        top, left, h, w = activations.mosaic_cell(k, maps.shape, columns=columns, gutter=gutter)
        assert (h, w) == (26, 26)
        np.testing.assert_array_equal(mosaic[top : top + h, left : left + w], maps[:, :, k])
        assert (channel[top : top + h, left : left + w] == k).all()
    assert activations.mosaic_cell(9, maps.shape) == (27, 27, 26, 26)
