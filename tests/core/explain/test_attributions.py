"""fmnist_core.explain's attributions on the shipped model and real images, checked against their definitions:
integrated gradients add up to p(x) - p(black), occlusion values are p drops recomputed by filling and predicting,
Spearman equals a plain rank-then-Pearson; plus the one attribute() shape and the CLI's JSON."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from fmnist_core.data import fashion_mnist
from fmnist_core.explain import attributions, gradients, occlusion
from fmnist_core.nets.inference import as_model_input, predict_proba

ANKLE_BOOT = 9


@pytest.fixture(scope="module")
def boot(model: keras.Model, test_set: fashion_mnist.Split) -> np.ndarray:
    """Test image 0, an ankle boot the shipped model gets right."""
    assert int(predict_proba(model, test_set.images[0]).argmax()) == ANKLE_BOOT
    return test_set.images[0]


@pytest.fixture(scope="module")
def all_maps(model: keras.Model, boot: np.ndarray) -> dict[str, attributions.Attribution]:
    return attributions.attribute_all(model, boot)


# --- integrated gradients -------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_integrated_gradients_add_up_to_the_change_in_p(
    model: keras.Model, test_set: fashion_mnist.Split, index: int
) -> None:
    image = test_set.images[index]
    probs = predict_proba(model, image)[0]
    cls = int(probs.argmax())
    ig = gradients.integrated_gradients(model, image, cls)
    p_black = predict_proba(model, np.zeros((28, 28), np.uint8))[0, cls]
    assert ig.p_image == pytest.approx(probs[cls], abs=1e-5)
    assert ig.p_baseline == pytest.approx(p_black, abs=1e-5)
    assert ig.total == pytest.approx(ig.attributions.sum())
    assert abs(ig.total - ig.difference) <= 0.05 * abs(ig.difference), (ig.total, ig.difference)


def test_integrated_gradients_converge_to_the_integral(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    """Image 30 has the widest gap at 64 points (about 13%: p turns sharply along the path); more points close it,
    so the gap is the quadrature's, not a wrong formula's."""
    image = test_set.images[30]
    cls = int(predict_proba(model, image).argmax())
    coarse = gradients.integrated_gradients(model, image, cls)
    fine = gradients.integrated_gradients(model, image, cls, steps=512)
    assert fine.gap < 0.02 and fine.gap < coarse.gap, (coarse.gap, fine.gap)


def test_integrated_gradients_are_zero_where_the_image_is_black(model: keras.Model, boot: np.ndarray) -> None:
    """(x - x0) multiplies every attribution: a pixel equal to the baseline gets none."""
    ig = gradients.integrated_gradients(model, boot, ANKLE_BOOT)
    assert (ig.attributions[boot == 0] == 0).all()
    assert np.abs(ig.attributions[boot > 0]).max() > 0


# --- occlusion ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("patch", "stride"), [(6, 2), (5, 4), (2, 1)])
def test_occlusion_values_are_p_drops_recomputed_by_filling(
    model: keras.Model, boot: np.ndarray, patch: int, stride: int
) -> None:
    occ = occlusion.occlusion(model, boot, ANKLE_BOOT, patch=patch, stride=stride)
    assert occ.tops[0] == 0 and occ.tops[-1] == 28 - patch  # the last position reaches the far edge
    assert occ.grid.shape == (len(occ.tops), len(occ.lefts)) == (len(occ.tops), len(occ.tops))
    x = as_model_input(boot)[0, :, :, 0]
    p_image = predict_proba(model, x[None])[0, ANKLE_BOOT]
    rng = np.random.default_rng(patch)
    cells = [(0, 0), (len(occ.tops) - 1, len(occ.lefts) - 1)]
    cells += [tuple(int(v) for v in rng.integers(0, len(occ.tops), 2)) for _ in range(4)]
    for r, c in cells:
        top, left = int(occ.tops[r]), int(occ.lefts[c])
        covered = x.copy()
        covered[top : top + patch, left : left + patch] = 0.0
        want = p_image - predict_proba(model, covered[None])[0, ANKLE_BOOT]
        assert occ.grid[r, c] == pytest.approx(want, abs=1e-5), (r, c)
    # Each pixel's map value: the mean of the positions whose patch covers it.
    for y, x_ in [(0, 0), (13, 14), (27, 27), (5, 20)]:
        covering = [
            occ.grid[r, c]
            for r, top in enumerate(occ.tops)
            for c, left in enumerate(occ.lefts)
            if top <= y < top + patch and left <= x_ < left + patch
        ]
        assert occ.map[y, x_] == pytest.approx(np.mean(covering))


def test_occlusion_refuses_patches_the_page_does_not_offer(model: keras.Model, boot: np.ndarray) -> None:
    for patch, stride, message in ((1, 1, "patch must be 2 to 14"), (15, 2, "patch"), (6, 7, "stride must be 1 to")):
        with pytest.raises(ValueError, match=message):
            occlusion.occlusion(model, boot, 0, patch=patch, stride=stride)


# --- Spearman -----------------------------------------------------------------------------------------------------


def plain_spearman(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook way, written out: average ranks (ties share the mean of their places), then Pearson."""

    def rank(v: np.ndarray) -> np.ndarray:
        v = v.ravel()
        return np.array([(v < t).sum() + ((v == t).sum() + 1) / 2 for t in v])

    return float(np.corrcoef(rank(np.abs(a)), rank(np.abs(b)))[0, 1])


def test_spearman_equals_rank_then_pearson(all_maps: dict[str, attributions.Attribution]) -> None:
    maps = {name: a.map for name, a in all_maps.items()}
    assert (maps["gradcam"] == 0).sum() > 10  # ties: Grad-CAM is clipped at zero over the background
    names = list(maps)
    matrix = attributions.agreement(maps)
    assert matrix.shape == (4, 4) and np.allclose(matrix, matrix.T) and np.allclose(np.diag(matrix), 1)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            want = plain_spearman(maps[a], maps[b])
            assert attributions.spearman(maps[a], maps[b]) == pytest.approx(want, abs=1e-12), (a, b)
            assert matrix[i, j] == pytest.approx(want, abs=1e-12)
    rng = np.random.default_rng(0)
    a, b = rng.integers(-3, 4, (28, 28)), rng.normal(size=(28, 28))  # many ties, and signs (absolute values count)
    assert attributions.spearman(a, b) == pytest.approx(plain_spearman(a, b), abs=1e-12)
    assert attributions.spearman(a, -a) == pytest.approx(1.0)
    assert attributions.spearman(np.zeros((28, 28)), b) is None


# --- one call shape -----------------------------------------------------------------------------------------------


def test_attribute_gives_each_method_in_one_shape(all_maps: dict[str, attributions.Attribution]) -> None:
    assert list(all_maps) == ["gradcam", "saliency", "integrated-gradients", "occlusion"] == list(attributions.METHODS)
    for name, result in all_maps.items():
        assert result.method == name and result.class_index == ANKLE_BOOT
        assert result.map.shape == (28, 28) and np.isfinite(result.map).all()
        assert result.seconds > 0
    assert all_maps["gradcam"].layer == "conv2d_1"
    assert all_maps["occlusion"].grid.shape == (12, 12)  # patch 6, stride 2: tops 0, 2, ..., 22
    total, difference = all_maps["integrated-gradients"].completeness
    assert total == pytest.approx(all_maps["integrated-gradients"].map.sum())
    for name in ("gradcam", "saliency"):
        assert all_maps[name].map.max() == 1.0 and all_maps[name].map.min() >= 0


def test_attribute_explains_any_class_and_refuses_what_it_cannot(model: keras.Model, boot: np.ndarray) -> None:
    other = attributions.attribute(model, boot, 7, "integrated-gradients", steps=8)
    assert other.class_index == 7
    with pytest.raises(ValueError, match="unknown method 'lime'"):
        attributions.attribute(model, boot, None, "lime")
    with pytest.raises(ValueError, match=r"class 10 does not exist \(0..9\)"):
        attributions.attribute(model, boot, 10, "saliency")
    dense = dense_model()
    assert attributions.available_methods(dense) == ["saliency", "integrated-gradients", "occlusion"]
    with pytest.raises(ValueError, match="Grad-CAM: this model has no conv layer"):
        attributions.attribute(dense, boot, None, "gradcam")


def dense_model() -> keras.Model:
    """A network without conv layers, as an import may be."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )


# --- the command line ---------------------------------------------------------------------------------------------


def test_cli_attribute_json(
    model: keras.Model, boot: np.ndarray, all_maps: dict[str, attributions.Attribution], capsys: pytest.CaptureFixture
) -> None:
    from fmnist_core.cli import commands

    assert commands.main(["attribute", "--index", "0", "--method", "integrated-gradients", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"method", "class", "map", "completeness"}
    assert (out["method"], out["class"]) == ("integrated-gradients", ANKLE_BOOT)
    assert np.allclose(out["map"], all_maps["integrated-gradients"].map)
    assert set(out["completeness"]) == {"sum", "difference"}
    assert out["completeness"]["sum"] == pytest.approx(np.sum(out["map"]))

    args = ["attribute", "--index", "0", "--method", "occlusion", "--class", "7", "--patch", "4", "--stride", "3"]
    assert commands.main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"method", "class", "map", "grid"} and out["class"] == 7
    want = occlusion.occlusion(model, boot, 7, patch=4, stride=3)
    assert np.array(out["map"]).shape == (28, 28) and np.array(out["grid"]).shape == want.grid.shape == (9, 9)
    assert np.allclose(out["grid"], want.grid, atol=1e-6)  # row-major from the top-left position

    assert commands.main(["attribute", "--index", "0", "--method", "gradcam", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"method", "class", "map"} and np.allclose(out["map"], all_maps["gradcam"].map)

    assert commands.main(["attribute", "--index", "0", "--method", "occlusion", "--patch", "4", "--stride", "5"]) == 1
    assert capsys.readouterr().err.strip() == "error: the stride must be 1 to the patch size (4) px, not 5"
