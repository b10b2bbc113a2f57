"""fmnist_core.explain: Grad-CAM and gradient saliency maps in [0, 1], the last conv layer, first-layer kernels."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from fmnist_core.data import fashion_mnist
from fmnist_core.explain import cells, gradcam, gradients
from fmnist_core.nets.inference import predict_proba
from fmnist_core.nets.keras_models import build_model, build_notebook_cnn
from fmnist_core.runs import paths

ANKLE_BOOT, SNEAKER = 9, 7


def near(mask: np.ndarray, radius: int) -> np.ndarray:
    """The mask grown by `radius` pixels (8-connected): the object and its outline."""
    padded = np.pad(mask, radius)
    grown = np.zeros_like(mask)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            grown |= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]]
    return grown


def assert_is_a_map(heat: np.ndarray, allow_zero: bool = False) -> None:
    assert heat.shape == (28, 28) and heat.dtype == np.float32
    assert np.isfinite(heat).all()
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert heat.max() == 1.0 or (allow_zero and heat.max() == 0.0)


# --- the shipped model on real images ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def boot(model: keras.Model, test_set: fashion_mnist.Split) -> np.ndarray:
    """Test image 0, an ankle boot the shipped model gets right."""
    image = test_set.images[0]
    assert test_set.labels[0] == ANKLE_BOOT == int(predict_proba(model, image).argmax())
    return image


@pytest.fixture(scope="module")
def cam(model: keras.Model, boot: np.ndarray) -> np.ndarray:
    return gradcam.grad_cam(model, boot)


@pytest.fixture(scope="module")
def sal(model: keras.Model, boot: np.ndarray) -> np.ndarray:
    return gradients.saliency(model, boot)


def test_maps_are_28x28_in_0_1_with_max_1(cam: np.ndarray, sal: np.ndarray) -> None:
    assert_is_a_map(cam)
    assert_is_a_map(sal)


@pytest.mark.parametrize("run_id", ["default", "improved"])
def test_grad_cam_is_never_blank_and_follows_the_class(run_id: str, test_set: fashion_mnist.Split) -> None:
    """Where the heat lands is the model's business (these models weigh the background beside the silhouette as
    much as the object: object > background for about half the images); the maps must not be blank. Weighing
    the improved model's linear conv output instead of its relu gave all-zero maps for 38 of 60 images."""
    from fmnist_core.runs import store

    if run_id == "improved" and not (paths.ASSETS_DIR / "improved.keras").exists():
        pytest.skip("the improved model is not shipped")
    shipped = store.load_model(run_id)
    blank, differ = 0, 0
    for image in test_set.images[:60]:
        cam = gradcam.grad_cam(shipped, image)
        assert_is_a_map(cam, allow_zero=True)
        blank += cam.max() == 0
        other = gradcam.grad_cam(shipped, image, class_index=int(predict_proba(shipped, image).argsort()[0][-2]))
        differ += not np.allclose(cam, other, atol=1e-3)
    assert blank <= 3, f"{blank} of 60 Grad-CAM maps are blank"
    assert differ >= 55, "the runner-up class should get its own map"


def test_saliency_concentrates_on_the_object_and_its_outline(boot: np.ndarray, sal: np.ndarray) -> None:
    """The gradient is largest on the silhouette's edge, which straddles the `> 30` mask: on the object alone the
    mean is lower than on the whole background (0.038 vs 0.077 for this boot), so the object is grown by 2 px and
    compared with the background further away (0.095 vs 0.035; 0.078 vs 0.042 with logit gradients)."""
    obj = near(boot > 30, 2)
    assert sal[obj].mean() > 1.5 * sal[~obj].mean()
    assert sal[~near(boot > 30, 4)].mean() < 0.05  # far from the boot hardly anything matters


def test_saliency_is_near_the_object_for_most_images(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    hits = 0
    for image in test_set.images[:20]:
        heat = gradients.saliency(model, image)
        obj = near(image > 30, 2)
        hits += bool(heat[obj].mean() > heat[~obj].mean())
    assert hits >= 18  # observed 98 of the first 100


def test_class_index_chooses_the_class(model: keras.Model, boot: np.ndarray, cam: np.ndarray, sal: np.ndarray) -> None:
    np.testing.assert_array_equal(gradcam.grad_cam(model, boot, class_index=ANKLE_BOOT), cam)
    np.testing.assert_array_equal(gradients.saliency(model, boot, class_index=ANKLE_BOOT), sal)
    other_cam = gradcam.grad_cam(model, boot, class_index=SNEAKER)
    other_sal = gradients.saliency(model, boot, class_index=SNEAKER)
    assert_is_a_map(other_cam)
    assert_is_a_map(other_sal)
    assert np.abs(other_cam - cam).max() > 0.3
    assert np.abs(other_sal - sal).max() > 0.1


def test_scaled_float_input_gives_the_same_maps(model: keras.Model, boot: np.ndarray, cam: np.ndarray) -> None:
    np.testing.assert_allclose(gradcam.grad_cam(model, fashion_mnist.scale(boot)), cam, atol=1e-6)
    np.testing.assert_allclose(gradcam.grad_cam(model, boot[None]), cam, atol=1e-6)


def test_grad_cam_on_an_explicit_layer(model: keras.Model, boot: np.ndarray, cam: np.ndarray) -> None:
    # On the first layer the channel weights often sum to negative evidence everywhere: for this boot the
    # map is all zeros after the ReLU (15 of the first 100 test images), which must stay zeros, not NaN.
    assert_is_a_map(gradcam.grad_cam(model, boot, layer="conv2d"), allow_zero=True)
    np.testing.assert_array_equal(gradcam.grad_cam(model, boot, layer="conv2d_1"), cam)
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        gradcam.grad_cam(model, boot, layer="conv9")


def test_last_conv_layer() -> None:
    assert gradcam.last_conv_layer(build_notebook_cnn(seed=1)) == "conv2d_1"
    assert gradcam.last_conv_layer(build_model("improved_cnn", seed=1)) == "relu"
    dense_only = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    with pytest.raises(ValueError, match="has no conv layer"):
        gradcam.last_conv_layer(dense_only)
    with pytest.raises(ValueError, match="has no conv layer"):
        gradcam.grad_cam(dense_only, np.zeros((28, 28), np.uint8))


def test_last_conv_layer_of_the_shipped_model(model: keras.Model) -> None:
    assert gradcam.last_conv_layer(model) == "conv2d_1"


def test_first_layer_kernels(model: keras.Model) -> None:
    kernels = gradcam.first_layer_kernels(model)
    assert kernels.shape == (3, 3, 64) and kernels.dtype == np.float32
    np.testing.assert_array_equal(kernels, model.get_layer("conv2d").get_weights()[0][:, :, 0, :])
    assert kernels.std() > 0.01  # trained, not all zeros


# --- untrained and degenerate models -----------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["notebook_cnn", "improved_cnn"])
def test_untrained_models_give_finite_maps(architecture: str) -> None:
    untrained = build_model(architecture, seed=11)
    rng = np.random.default_rng(2)
    for image in (rng.integers(0, 256, (28, 28), dtype=np.uint8), np.zeros((28, 28), np.uint8)):
        for class_index in (None, 0, 9):
            assert_is_a_map(gradcam.grad_cam(untrained, image, class_index), allow_zero=True)
            assert_is_a_map(gradients.saliency(untrained, image, class_index), allow_zero=True)
    kernels = gradcam.first_layer_kernels(untrained)
    assert kernels.shape == (3, 3, untrained.get_layer("conv2d").filters)


def test_all_zero_gradients_give_all_zero_maps() -> None:
    """No weights, no gradients: the maps are zeros (not NaN from dividing by a zero maximum)."""
    flat = build_notebook_cnn(seed=1)
    flat.set_weights([np.zeros_like(w) for w in flat.get_weights()])
    image = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    for heat in (gradcam.grad_cam(flat, image), gradients.saliency(flat, image), gradcam.grad_cam(flat, image, 3)):
        assert heat.shape == (28, 28) and heat.dtype == np.float32
        np.testing.assert_array_equal(heat, np.zeros((28, 28), np.float32))


def test_confident_predictions_still_get_maps(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    """The shipped model with its logits x5: the same predictions, only more confident."""
    confident = keras.models.clone_model(model)
    confident.set_weights(model.get_weights())
    kernel, bias = confident.get_layer("dense_1").get_weights()
    confident.get_layer("dense_1").set_weights([kernel * 5, bias * 5])
    images = test_set.images[:50]
    np.testing.assert_array_equal(
        predict_proba(confident, images).argmax(axis=1), predict_proba(model, images).argmax(axis=1)
    )
    blank = [i for i, image in enumerate(images) if gradcam.grad_cam(confident, image).max() == 0]
    blank += [i for i, image in enumerate(images) if gradients.saliency(confident, image).max() == 0]
    assert blank == []


# --- where Grad-CAM puts the heat: a hand-made model with a known answer -----------------------------------------


def box_filter_model(architecture: str) -> keras.Model:
    """Channel 0 of each conv is a 3x3 box filter, everything else zero; class 0's logit sums channel 0 of the
    last pooled map (BN is the identity). So Grad-CAM for class 0 is channel 0 of the last conv: a blob on the dot."""
    built = build_model(architecture, seed=0)
    for layer in built.layers:
        weights = [np.zeros_like(w) for w in layer.get_weights()]
        if not weights:
            continue
        kind = type(layer).__name__
        if kind == "Conv2D":
            weights[0][:, :, 0, 0] = 1.0
        elif kind == "BatchNormalization":  # gamma, beta, moving mean, moving variance
            weights[0][:], weights[3][:] = 1.0, 1.0 - layer.epsilon
        elif layer.name == "dense":
            weights[0][0::64, 0] = 1.0  # channel 0 of every cell (flatten order is y, x, channel)
        elif layer.name == "dense_1":
            weights[0][0, 0] = 0.005  # a modest logit: no softmax saturation
        layer.set_weights(weights)
    return built


def dot_at(y: int, x: int) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return image


def heat_peak(built: keras.Model, image: np.ndarray) -> tuple[int, int]:
    heat = gradcam.grad_cam(built, image, class_index=0)
    assert_is_a_map(heat)
    return tuple(int(v) for v in np.unravel_index(heat.argmax(), heat.shape))


DOTS = [(5, 5), (21, 21), (5, 21), (8, 18), (13, 13)]


def test_grad_cam_peaks_on_the_dot_for_same_padding() -> None:
    built = box_filter_model("improved_cnn")
    for y, x in DOTS:
        py, px = heat_peak(built, dot_at(y, x))
        assert abs(py - y) <= 1 and abs(px - x) <= 1, ((y, x), (py, px))


def test_grad_cam_peaks_on_a_centred_dot_for_valid_padding() -> None:
    assert heat_peak(box_filter_model("notebook_cnn"), dot_at(13, 13)) == (13, 13)


def test_grad_cam_peaks_on_the_dot_for_valid_padding() -> None:
    built = box_filter_model("notebook_cnn")  # the shipped model's architecture
    for y, x in DOTS:
        py, px = heat_peak(built, dot_at(y, x))
        assert abs(py - y) <= 1 and abs(px - x) <= 1, ((y, x), (py, px))


# --- explain_cell: how one number is made ---------------------------------------------------------
CELLS_PER_LAYER = 6


def spatial_maps(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every 4-D layer's output from a separately built Keras model and predict(): the model's own numbers."""
    layers = [lyr for lyr in model.layers if len(lyr.output.shape) == 4]
    multi = keras.Model(model.inputs, [lyr.output for lyr in layers])
    outs = multi.predict(fashion_mnist.scale(image[None]), verbose=0)
    return {lyr.name: out[0] for lyr, out in zip(layers, outs, strict=True)}


def keras_pre_activation(model: keras.Model, image: np.ndarray, layer: str) -> np.ndarray:
    """The conv's pre-activation map by keras.ops.conv on the previous layer's output (an independent path)."""
    target = model.get_layer(layer)
    before = keras.Model(model.inputs, target.input).predict(fashion_mnist.scale(image[None]), verbose=0)
    pre = keras.ops.conv(before, target.kernel, strides=target.strides, padding=target.padding)
    pre = np.asarray(pre)[0]
    return pre + (np.asarray(target.bias) if target.use_bias else 0.0)


def random_cells(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> list[tuple[int, int, int]]:
    """n cells (channel, row, col) with the two corners among them: 'same' padding reaches past them."""
    h, w, c = shape
    cells = [(0, 0, 0), (c - 1, h - 1, w - 1)]
    cells += [(int(rng.integers(c)), int(rng.integers(h)), int(rng.integers(w))) for _ in range(n - 2)]
    return cells


def check_cells(model: keras.Model, image: np.ndarray, seed: int) -> int:
    """Every conv and pool layer: recomputed numbers equal the model's; returns how many cells were checked."""
    rng = np.random.default_rng(seed)
    maps = spatial_maps(model, image)
    checked = 0
    for lyr in model.layers:
        kind = type(lyr).__name__
        if kind not in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            continue
        pre_map = keras_pre_activation(model, image, lyr.name) if kind == "Conv2D" else None
        for channel, row, col in random_cells(rng, maps[lyr.name].shape, CELLS_PER_LAYER):
            cell = cells.explain_cell(model, image, lyr.name, channel, row, col)
            want = float(maps[lyr.name][row, col, channel])
            assert cell.value == pytest.approx(want, abs=1e-4), (lyr.name, channel, row, col)
            assert cell.model_value == pytest.approx(want, abs=1e-6)
            if kind == "Conv2D":
                assert cell.kind == "conv"
                assert cell.pre_activation == pytest.approx(float(pre_map[row, col, channel]), abs=1e-4)
                np.testing.assert_allclose(cell.products, cell.patch * cell.kernel)
                np.testing.assert_allclose(cell.contributions, cell.products.sum(axis=(0, 1)))
                assert cell.total + cell.bias == pytest.approx(cell.pre_activation, abs=1e-9)
                assert cell.contributions.shape == (cell.source_shape[2],)
                np.testing.assert_array_equal(cell.kernel, np.asarray(lyr.kernel)[:, :, :, channel])
            else:
                window = cell.patch[~np.isnan(cell.patch)]
                assert cell.value == (window.max() if kind == "MaxPooling2D" else pytest.approx(window.mean()))
                if kind == "MaxPooling2D":
                    source = maps.get(cell.source_layer)
                    if source is not None:
                        assert source[cell.winner[0], cell.winner[1], channel] == pytest.approx(cell.value, abs=1e-6)
            checked += 1
    return checked


@pytest.mark.parametrize("run_id", ["default", "improved"])
def test_explain_cell_adds_up_on_both_shipped_models(run_id: str, test_set: fashion_mnist.Split) -> None:
    """default: 'valid' padding, relu inside the convs; improved: 'same' padding, linear convs + BN + relu."""
    from fmnist_core.nets.keras_models import spatial_layers
    from fmnist_core.runs import store

    shipped = store.load_model(run_id)
    checked = sum(check_cells(shipped, test_set.images[i], seed=i) for i in (0, 10, 110))
    assert checked == 3 * len(spatial_layers(shipped)) * CELLS_PER_LAYER


def test_explain_cell_with_strides_average_pooling_and_same_padding() -> None:
    """Layers the shipped models lack: a strided 'same' conv (uneven padding), 5x5 kernels, an average pool."""
    init = keras.initializers.RandomNormal(seed=3)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 5, strides=2, padding="same", activation="tanh", kernel_initializer=init, name="c1"),
            keras.layers.AveragePooling2D(3, strides=2, padding="same", name="a1"),
            keras.layers.Conv2D(3, 3, padding="valid", bias_initializer="ones", kernel_initializer=init, name="c2"),
            keras.layers.MaxPooling2D(2, padding="same", name="m1"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    image = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    assert check_cells(model, image, seed=2) == 4 * CELLS_PER_LAYER


@pytest.mark.parametrize("run_id", ["default", "improved"])
def test_receptive_field_holds_every_pixel_that_matters(run_id: str, test_set: fashion_mnist.Split) -> None:
    """Pixels outside the field can change at will without moving the cell; some pixel inside does move it."""
    from fmnist_core.runs import store

    shipped = store.load_model(run_id)
    rng = np.random.default_rng(5)
    image = test_set.images[0]
    for layer in ("conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1"):
        cell = cells.explain_cell(shipped, image, layer, 3, 2, 3)
        top, left, bottom, right = cell.receptive_field
        assert 0 <= top <= bottom <= 27 and 0 <= left <= right <= 27
        outside = np.ones((28, 28), bool)
        outside[top : bottom + 1, left : right + 1] = False
        noisy = np.where(outside, rng.integers(0, 256, (28, 28)), image).astype(np.uint8)
        again = cells.explain_cell(shipped, noisy, layer, 3, 2, 3)
        assert again.model_value == pytest.approx(cell.model_value, abs=1e-6), layer
        inside = np.where(outside, image, 255 - image).astype(np.uint8)
        moved = cells.explain_cell(shipped, inside, layer, 3, 2, 3).model_value
        assert moved != pytest.approx(cell.model_value, abs=1e-6) or cell.model_value == 0.0, layer


def test_receptive_field_by_hand(model: keras.Model) -> None:
    """The default (valid) model: conv2d_1 (0, 3) <- pool rows 0..2, cols 3..5 <- conv2d rows 0..5, cols 6..11."""
    assert cells.receptive_field(model, "conv2d", 10, 12) == (10, 12, 12, 14)
    assert cells.receptive_field(model, "max_pooling2d", 0, 3) == (0, 6, 3, 9)
    assert cells.receptive_field(model, "conv2d_1", 0, 3) == (0, 6, 7, 13)
    # the last cell: conv2d_1 rows 8..9 <- pool 8..11 <- conv2d 16..23 <- input 16..25; pixels 26-27 reach only
    # conv2d_1's row 10, which the 2x2 pool drops
    assert cells.receptive_field(model, "max_pooling2d_1", 4, 4) == (16, 16, 25, 25)


def test_explain_cell_notes_the_batch_norm_after_a_conv(test_set: fashion_mnist.Split) -> None:
    from fmnist_core.runs import store

    improved = store.load_model("improved")
    names = [layer.name for layer in improved.layers]
    # The shipped improved network: conv2d_1 (linear) -> batch_normalization_1 -> activation_1 -> max_pooling2d.
    assert names[names.index("conv2d_1") : names.index("conv2d_1") + 4] == [
        "conv2d_1",
        "batch_normalization_1",
        "activation_1",
        "max_pooling2d",
    ]
    cell = cells.explain_cell(improved, test_set.images[0], "conv2d_1", 5, 3, 3)
    assert cell.activation == "linear" and cell.bias == 0.0
    assert "batch_normalization_1, activation_1" in cell.note
    pool = cells.explain_cell(improved, test_set.images[0], "max_pooling2d", 5, 3, 3)
    assert pool.source_layer == "activation_1"


@pytest.mark.parametrize(
    ("layer", "channel", "row", "col", "message"),
    [
        ("conv2d", 0, 26, 0, r"cell \(26, 0\) is outside conv2d's 26x26 map"),
        ("conv2d", 0, 0, -1, "is outside"),
        ("conv2d", 64, 0, 0, r"channel 64 does not exist in conv2d \(0..63\)"),
        ("dense", 0, 0, 0, "is not a conv or pool layer; choose one of conv2d, max_pooling2d"),
        ("flatten", 0, 0, 0, "is not a conv or pool layer"),
    ],
)
def test_explain_cell_bad_cells_are_one_sentence(
    model: keras.Model, boot: np.ndarray, layer: str, channel: int, row: int, col: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as info:
        cells.explain_cell(model, boot, layer, channel, row, col)
    assert "\n" not in str(info.value)


def test_cli_explain_cell_json(model: keras.Model, boot: np.ndarray, capsys: pytest.CaptureFixture) -> None:
    from fmnist_core.cli import commands

    args = ["explain-cell", "--index", "0", "--layer", "conv2d", "--channel", "1", "--row", "10", "--col", "12"]
    assert commands.main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = cells.explain_cell(model, boot, "conv2d", 1, 10, 12)
    assert {
        "layer",
        "channel",
        "row",
        "col",
        "value",
        "pre_activation",
        "bias",
        "receptive_field",
        "contributions",
    } <= set(out)
    assert (out["layer"], out["channel"], out["row"], out["col"]) == ("conv2d", 1, 10, 12)
    assert out["receptive_field"] == [10, 12, 12, 14]
    assert out["value"] == pytest.approx(want.value) and out["pre_activation"] == pytest.approx(want.pre_activation)
    assert out["contributions"] == pytest.approx(list(want.contributions)) and len(out["contributions"]) == 1
    assert out["pre_activation"] == pytest.approx(sum(out["contributions"]) + out["bias"])
    assert (out["kind"], out["source_layer"], out["window"], out["winner"]) == ("conv", "input", [10, 12, 12, 14], None)
    assert commands.main(args) == 0
    assert "receptive field: rows 10..12, cols 12..14" in capsys.readouterr().out
    pool = ["explain-cell", "--index", "0", "--layer", "max_pooling2d", "--channel", "1", "--row", "5", "--col", "6"]
    assert commands.main([*pool, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = cells.explain_cell(model, boot, "max_pooling2d", 1, 5, 6)
    assert (out["kind"], out["source_layer"], out["window"]) == ("max_pool", "conv2d", [10, 12, 11, 13])
    assert out["winner"] == list(want.winner) and out["value"] == pytest.approx(want.value)
    assert out["pre_activation"] is None and out["contributions"] is None
    assert commands.main([*args[:-4], "--row", "26", "--col", "0"]) != 0
    err = capsys.readouterr().err.strip()
    assert err == "error: cell (26, 0) is outside conv2d's 26x26 map (rows and columns 0..25)"
