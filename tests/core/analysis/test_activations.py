"""fmnist_core.analysis.activations: every layer's output for one image, and the channel mosaic layout."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from fmnist_core.analysis import activations
from fmnist_core.data import fashion_mnist
from fmnist_core.nets import inference
from fmnist_core.nets.keras_models import NOTEBOOK_LAYER_NAMES, build_notebook_cnn
from helpers import PYTHON, REPO_ROOT, requires_real_data, subprocess_env

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
    return build_notebook_cnn(seed=5)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(9).integers(0, 256, (28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def outputs(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    return activations.layer_outputs(model, image)


def test_layer_outputs_has_the_notebooks_layers_and_shapes(outputs: dict[str, np.ndarray]) -> None:
    assert list(outputs) == list(NOTEBOOK_LAYER_NAMES)
    assert {name: arr.shape for name, arr in outputs.items()} == NOTEBOOK_SHAPES
    assert all(arr.dtype == np.float32 for arr in outputs.values())


def test_layer_outputs_match_a_manual_keras_model(
    model: keras.Model, image: np.ndarray, outputs: dict[str, np.ndarray]
) -> None:
    manual = keras.Model(model.inputs, [layer.output for layer in model.layers])
    expected = manual.predict(fashion_mnist.scale(image[None]), verbose=0)
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
    scaled = activations.layer_outputs(model, fashion_mnist.scale(image[None]))
    batch = activations.layer_outputs(model, np.stack([image, np.zeros_like(image)]))  # first image only
    for name in NOTEBOOK_LAYER_NAMES:
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


# --- what excites a channel -------------------------------------------------------------------------
SUBSET = 400  # images for the brute-force comparison


@pytest.fixture(scope="module", params=["default", "improved"])
def shipped(request: pytest.FixtureRequest) -> keras.Model:
    from fmnist_core.runs import store

    return store.load_model(request.param)


@pytest.fixture(scope="module")
def subset(test_set: fashion_mnist.Split) -> tuple[np.ndarray, np.ndarray]:
    return test_set.images[:SUBSET], test_set.labels[:SUBSET].astype(int)


def brute_force_maps(model: keras.Model, images: np.ndarray, layer: str) -> np.ndarray:
    """The layer's maps from a separately built Keras sub-model and model.predict: no shared code path."""
    sub = keras.Model(model.inputs, model.get_layer(layer).output)
    return sub.predict(fashion_mnist.scale(images), batch_size=64, verbose=0)


def test_channel_maxima_match_a_brute_force_computation(
    shipped: keras.Model, subset: tuple[np.ndarray, np.ndarray]
) -> None:
    images, _ = subset
    for layer in [lyr.name for lyr in shipped.layers if len(lyr.output.shape) == 4]:
        maps = brute_force_maps(shipped, images, layer)
        # an odd batch size: batches of 150, 150 and 100 must join up in order
        got = activations.channel_maxima(shipped, images, layer, batch_size=150)
        assert got.maxima.shape == got.rows.shape == got.cols.shape == (SUBSET, maps.shape[3])
        assert got.map_shape == maps.shape[1:]
        np.testing.assert_allclose(got.maxima, maps.max(axis=(1, 2)), atol=1e-5, err_msg=layer)
        # the reported cell holds the maximum (ties may pick another cell of equal value)
        n, c = np.meshgrid(np.arange(SUBSET), np.arange(maps.shape[3]), indexing="ij")
        np.testing.assert_allclose(maps[n, got.rows, got.cols, c], got.maxima, atol=1e-5, err_msg=layer)
        assert got.rows.max() < maps.shape[1] and got.cols.max() < maps.shape[2]


def test_top_exemplars_are_the_brute_force_top_k(shipped: keras.Model, subset: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = subset
    maps = brute_force_maps(shipped, images, "conv2d_1")
    peak = maps.max(axis=(1, 2))
    got = activations.channel_maxima(shipped, images, "conv2d_1")
    for channel in (0, 5, 31):
        top = activations.top_exemplars(got, channel)
        assert [e.index for e in top] == list(np.argsort(-peak[:, channel], kind="stable")[:9])
        values = [e.value for e in top]
        assert values == sorted(values, reverse=True) and values[0] == pytest.approx(peak[:, channel].max(), abs=1e-5)
        for e in top:
            assert maps[e.index, e.row, e.col, channel] == pytest.approx(e.value, abs=1e-5)
        coats = activations.top_exemplars(got, channel, k=4, labels=labels, class_index=4)
        want = np.flatnonzero(labels == 4)
        want = want[np.argsort(-peak[want, channel], kind="stable")[:4]]
        assert [e.index for e in coats] == list(want) and all(labels[e.index] == 4 for e in coats)


def test_top_exemplars_order_ties_by_index_and_cap_k() -> None:
    maxima = activations.ChannelMaxima(
        "conv2d",
        np.array([[1.0], [3.0], [3.0], [2.0]], np.float32),
        np.zeros((4, 1), np.int16),
        np.zeros((4, 1), np.int16),
        (26, 26, 1),
    )
    assert [e.index for e in activations.top_exemplars(maxima, 0, k=9)] == [1, 2, 3, 0]
    only = activations.top_exemplars(maxima, 0, labels=np.array([5, 5, 6, 5]), class_index=5)
    assert [e.index for e in only] == [1, 3, 0]
    assert activations.top_exemplars(maxima, 0, labels=np.array([5, 5, 6, 5]), class_index=9) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, cm, y: activations.channel_maxima(m, np.zeros((2, 28, 28), np.uint8), "flatten"), "no feature maps"),
        (lambda m, cm, y: activations.channel_maxima(m, np.zeros((2, 28, 28), np.uint8), "nope"), "no feature maps"),
        (lambda m, cm, y: activations.top_exemplars(cm, 64), r"channel 64 does not exist in conv2d \(0..63\)"),
        (lambda m, cm, y: activations.top_exemplars(cm, -1), "does not exist"),
        (lambda m, cm, y: activations.top_exemplars(cm, 0, labels=y, class_index=10), r"outside 0..9"),
        (lambda m, cm, y: activations.top_exemplars(cm, 0, class_index=1), "needs the images' labels"),
        (lambda m, cm, y: activations.top_exemplars(cm, 0, k=0), "1 or more"),
    ],
)
def test_bad_exemplar_requests_are_one_sentence(model: keras.Model, call, message: str) -> None:
    cm = activations.channel_maxima(model, np.zeros((2, 28, 28), np.uint8), "conv2d")
    with pytest.raises(ValueError, match=message) as info:
        call(model, cm, np.zeros(2, int))
    assert "\n" not in str(info.value)


def test_layer_maps_are_the_layers_output(model: keras.Model, image: np.ndarray, outputs) -> None:
    maps = activations.layer_maps(model, np.stack([image, image]), "conv2d_1")
    assert maps.shape == (2, 11, 11, 64)
    np.testing.assert_allclose(maps[1], outputs["conv2d_1"], atol=1e-5)


def test_cli_exemplars_json(subset: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture) -> None:
    from fmnist_core.cli import commands
    from fmnist_core.runs import store

    model = store.load_model("default")
    test = fashion_mnist.load_test_set()
    expected = activations.top_exemplars(
        activations.channel_maxima(model, test.images, "conv2d_1"), 5, k=3, labels=test.labels, class_index=8
    )
    assert (
        commands.main(["exemplars", "--layer", "conv2d_1", "--channel", "5", "--top", "3", "--class", "8", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["layer"] == "conv2d_1" and out["channel"] == 5
    assert [(i["index"], i["row"], i["col"]) for i in out["images"]] == [(e.index, e.row, e.col) for e in expected]
    assert [i["value"] for i in out["images"]] == pytest.approx([e.value for e in expected], abs=1e-6)
    assert all(test.labels[i["index"]] == 8 for i in out["images"])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--layer", "dense", "--channel", "0"], "has no feature maps"),
        (["--layer", "conv2d", "--channel", "64"], "does not exist in conv2d"),
        (["--layer", "conv2d", "--channel", "x"], "whole number"),
        (["--layer", "conv2d", "--channel", "1", "--class", "10"], "outside 0..9"),
        (["--layer", "conv2d", "--channel", "1", "--top", "0"], "1 or more"),
    ],
)
def test_cli_exemplars_bad_input(args: list[str], fragment: str, capsys: pytest.CaptureFixture) -> None:
    from fmnist_core.cli import commands

    try:
        code = commands.main(["exemplars", *args])
    except SystemExit as exc:  # argparse's own checks exit from the parser
        code = exc.code
    assert code != 0
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1 and err.startswith("error:")


@requires_real_data
def test_exemplars_subprocess_and_its_speed(tmp_path) -> None:
    """A real `python -m fmnist_core exemplars` on all 10,000 images; the timing itself is measured in the README."""
    import subprocess

    done = subprocess.run(
        [PYTHON, "-m", "fmnist_core", "exemplars", "--layer", "conv2d", "--channel", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(tmp_path),
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["images"]) == 9
    values = [i["value"] for i in out["images"]]
    assert values == sorted(values, reverse=True) and values[-1] > 0
