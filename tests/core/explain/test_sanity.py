"""The randomisation test (fmnist_core.explain.sanity): each step re-initialises exactly the named layers, on a
clone (the loaded model is untouched), seeded; it runs on any network of the app, conv or not."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from fmnist_core.data import fashion_mnist
from fmnist_core.explain import attributions, sanity
from fmnist_core.explain.sanity import clone, randomise_layer
from fmnist_core.runs import store


def weights_by_layer(model: keras.Model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}


def test_each_step_changes_the_named_layers_and_only_those(model: keras.Model) -> None:
    trained = weights_by_layer(model)
    seen = []
    for randomised, work in sanity.cascade(model, seed=3):  # one clone changed in place: check it at each step
        seen.append(randomised)
        assert work is not model
        now = weights_by_layer(work)
        assert set(now) == set(trained)  # the clone keeps the layer names the steps report
        for name, weights in trained.items():
            for before, after in zip(weights, now[name], strict=True):
                if name in randomised:
                    assert not np.allclose(before, after), (randomised, name)
                else:
                    np.testing.assert_array_equal(before, after, err_msg=f"{name} changed at {randomised}")
    assert seen == [
        (),
        ("dense_1",),
        ("dense_1", "dense"),
        ("dense_1", "dense", "conv2d_1"),
        ("dense_1", "dense", "conv2d_1", "conv2d"),
    ]
    for name, weights in weights_by_layer(model).items():  # the cached model is what it was
        for before, after in zip(trained[name], weights, strict=True):
            np.testing.assert_array_equal(before, after)


def test_randomising_is_seeded_and_uses_each_layers_own_initialiser(model: keras.Model) -> None:
    a, b, c = clone(model), clone(model), clone(model)
    randomise_layer(a, "conv2d", 5)
    randomise_layer(b, "conv2d", 5)
    randomise_layer(c, "conv2d", 6)
    kernel_a, bias_a = a.get_layer("conv2d").get_weights()
    np.testing.assert_array_equal(kernel_a, b.get_layer("conv2d").get_weights()[0])
    assert not np.allclose(kernel_a, c.get_layer("conv2d").get_weights()[0])
    limit = np.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 64))  # Glorot uniform, Keras' default for Conv2D kernels
    assert np.abs(kernel_a).max() <= limit and np.abs(kernel_a).max() > 0.8 * limit
    np.testing.assert_array_equal(bias_a, 0)  # biases start at zero


def test_randomisation_test_on_the_shipped_model(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    image = test_set.images[0]
    before = [np.array(w) for w in model.get_weights()]
    calls: list[tuple[int, int]] = []
    result = sanity.randomisation_test(model, image, seed=0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 5) for k in range(1, 6)]
    assert result.methods == ("gradcam", "saliency", "integrated-gradients", "occlusion")
    assert result.class_index == 9 and len(result.steps) == 5
    assert all(rho == pytest.approx(1.0) for rho in result.steps[0].spearman.values())
    for step in result.steps:
        for method, m in step.maps.items():
            assert m.shape == (28, 28)
            rho = step.spearman[method]
            if rho is not None:
                assert rho == pytest.approx(attributions.spearman(result.steps[0].maps[method], m))
    # Destroying the whole network moves Grad-CAM and saliency away from the trained maps.
    last = result.steps[-1].spearman
    assert last["gradcam"] is None or last["gradcam"] < 0.6
    assert last["saliency"] < 0.8
    again = sanity.randomisation_test(model, image, seed=0, methods=["saliency"])
    assert [s.spearman["saliency"] for s in again.steps] == [s.spearman["saliency"] for s in result.steps]
    for w, v in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w, v)


def test_randomisation_test_on_a_network_without_conv_and_one_with_batch_norm(test_set: fashion_mnist.Split) -> None:
    image = test_set.images[1]
    dense = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    result = sanity.randomisation_test(dense, image, methods=None, patch=7, stride=7, steps=8)
    assert result.methods == ("saliency", "integrated-gradients", "occlusion")
    assert [s.randomised for s in result.steps] == [(), ("out",), ("out", "hidden")]

    improved = store.load_model("improved")  # conv + batch norm + relu blocks
    order = sanity.layers_to_randomise(improved)
    assert any(name.startswith("batch_normalization") for name in order)
    last_names, last_model = list(sanity.cascade(improved, seed=1))[-1]
    assert set(last_names) == set(order)
    probs = last_model(fashion_mnist.scale(image[None]), training=False)
    assert np.isfinite(np.asarray(probs)).all()  # moving variances start at one: no NaN from a random variance


def test_cli_sanity_json(capsys: pytest.CaptureFixture) -> None:
    from fmnist_core.cli import commands

    assert commands.main(["sanity", "--index", "0", "--method", "saliency", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"method", "steps"} and out["method"] == "saliency"
    assert [s["randomised"] for s in out["steps"]] == [
        ["dense_1"],
        ["dense_1", "dense"],
        ["dense_1", "dense", "conv2d_1"],
        ["dense_1", "dense", "conv2d_1", "conv2d"],
    ]
    assert all(set(s) == {"randomised", "spearman"} and -1 <= s["spearman"] <= 1 for s in out["steps"])
