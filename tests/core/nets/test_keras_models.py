"""fmnist_core.nets.keras_models: the notebook's CNN exactly, stable names, seeded weights, bfloat16 variant, summary rows."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.nets import keras_models as m

# The notebook's model.summary(), row by row: (name, type, output shape, params).
NOTEBOOK_SUMMARY = [
    ("conv2d", "Conv2D", (26, 26, 64), 640),
    ("max_pooling2d", "MaxPooling2D", (13, 13, 64), 0),
    ("conv2d_1", "Conv2D", (11, 11, 64), 36928),
    ("max_pooling2d_1", "MaxPooling2D", (5, 5, 64), 0),
    ("flatten", "Flatten", (1600,), 0),
    ("dense", "Dense", (128,), 204928),
    ("dense_1", "Dense", (10,), 1290),
]


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


def test_seed_cnn_matches_the_notebook_summary() -> None:
    model = m.build_notebook_cnn(seed=1)
    rows = m.summary_rows(model)
    assert [(r.name, r.type, r.output_shape, r.params) for r in rows] == NOTEBOOK_SUMMARY
    assert m.total_params(model) == 243_786 == m.NOTEBOOK_PARAMS
    assert sum(r.params for r in rows) == 243_786
    assert tuple(r.name for r in rows) == m.NOTEBOOK_LAYER_NAMES
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1)
    assert tuple(model.outputs[0].shape) == (None, 10)


def test_names_stay_the_same_however_many_models_are_built() -> None:
    models = [m.build_notebook_cnn(seed=i) for i in range(3)] + [m.build_model("seed_cnn")]
    for model in models:
        assert [layer.name for layer in model.layers] == list(m.NOTEBOOK_LAYER_NAMES)
        assert model.name == "sequential"


def test_same_seed_same_initial_weights_different_seed_different() -> None:
    a, b, c = m.build_notebook_cnn(seed=7), m.build_notebook_cnn(seed=7), m.build_notebook_cnn(seed=8)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    kernels_a = a.get_weights()[0::2]
    kernels_c = c.get_weights()[0::2]
    for ka, kc in zip(kernels_a, kernels_c, strict=True):
        assert not np.array_equal(ka, kc)
    for bias in a.get_weights()[1::2]:
        assert not bias.any()  # biases start at zero
    # The largest seed the training settings accept still builds.
    assert m.build_notebook_cnn(seed=2**31 - 1).count_params() == 243_786


def test_unseeded_models_differ() -> None:
    a, b = m.build_notebook_cnn(), m.build_notebook_cnn()
    assert not np.array_equal(a.get_weights()[0], b.get_weights()[0])


def test_mixed_bfloat16_keeps_softmax_float32_and_as_float32_copies_weights() -> None:
    mixed = m.build_notebook_cnn(seed=3, compute_dtype="mixed_bfloat16")
    policies = {layer.name: layer.dtype_policy.name for layer in mixed.layers}
    assert policies["dense_1"] == "float32"
    assert all(policies[name] == "mixed_bfloat16" for name in m.NOTEBOOK_LAYER_NAMES[:-1])
    assert mixed.layers[0].compute_dtype == "bfloat16"
    assert all(w.dtype == np.float32 for w in mixed.get_weights())  # variables stay float32

    x = _images(16, seed=1)
    mixed_out = np.asarray(mixed(x, training=False))
    assert mixed_out.dtype == np.float32

    plain = m.as_float32(mixed)
    assert plain is not mixed
    assert all(layer.dtype_policy.name == "float32" for layer in plain.layers)
    assert [layer.name for layer in plain.layers] == list(m.NOTEBOOK_LAYER_NAMES)
    for wa, wb in zip(mixed.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    plain_out = np.asarray(plain(x, training=False))
    np.testing.assert_allclose(plain_out, mixed_out, atol=1e-2)
    np.testing.assert_allclose(plain_out.sum(axis=1), 1.0, atol=1e-5)


def test_as_float32_returns_a_float32_model_unchanged() -> None:
    model = m.build_notebook_cnn(seed=2)
    assert m.as_float32(model) is model


def test_spatial_layers_are_the_conv_and_pool_layers() -> None:
    model = m.build_notebook_cnn(seed=0)
    assert m.spatial_layers(model) == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1"]


def test_build_model_knows_both_architectures_and_rejects_others() -> None:
    improved = m.build_model("improved_cnn", seed=1)
    rows = m.summary_rows(improved)
    assert rows[-1].name == "dense_1" and rows[-1].output_shape == (10,)
    assert tuple(improved.inputs[0].shape) == (None, 28, 28, 1)
    assert m.spatial_layers(improved) == ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1"]
    shapes = {row.name: row.output_shape for row in rows}
    assert shapes["conv2d"] == (28, 28, 32) and shapes["conv2d_1"] == (14, 14, 64)
    assert shapes["max_pooling2d_1"] == (7, 7, 64) and shapes["dense"] == (256,)
    assert {row.type for row in rows} >= {"BatchNormalization", "Dropout"}
    assert not any(row.type.startswith("Random") for row in rows)  # augmentation lives in the input pipeline
    probs = np.asarray(improved(_images(4), training=False))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="unknown architecture .resnet.*improved_cnn.*notebook_cnn"):
        m.build_model("resnet")


def test_build_model_takes_a_spec_and_as_float32_clones_any_spec_built_model() -> None:
    spec = {
        "conv": [
            {"filters": 8, "kernel": 5, "padding": "same", "batch_norm": True, "pool": "avg"},
            {"filters": 8, "kernel": 3},
            {"filters": 16, "kernel": 1, "pool": "none", "batch_norm": True},
            {"filters": 16, "kernel": 3, "padding": "same"},
        ],
        "dense": [32, 16],
        "dropout": 0.2,
        "activation": "elu",
    }
    mixed = m.build_model(spec, seed=4, compute_dtype="mixed_bfloat16")
    names = [layer.name for layer in mixed.layers]
    assert names[:5] == ["conv2d", "batch_normalization", "activation", "average_pooling2d", "conv2d_1"]
    assert names[-1] == "dense_2" and mixed.layers[-1].dtype_policy.name == "float32"
    plain = m.as_float32(mixed)
    assert plain is not mixed and [layer.name for layer in plain.layers] == names
    assert {layer.dtype_policy.name for layer in plain.layers} == {"float32"}
    for wa, wb in zip(mixed.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    x = _images(8, seed=2)
    np.testing.assert_allclose(np.asarray(plain(x, training=False)), np.asarray(mixed(x, training=False)), atol=2e-2)
    assert m.spatial_layers(plain) == [
        "conv2d",
        "average_pooling2d",
        "conv2d_1",
        "max_pooling2d",
        "conv2d_2",
        "conv2d_3",
        "max_pooling2d_1",
    ]
    # The improved preset keeps the shipped file's "relu" name for its Activation layer through the clone.
    improved = m.as_float32(m.build_model("improved_cnn", seed=1, compute_dtype="mixed_bfloat16"))
    assert "relu" in [layer.name for layer in improved.layers] and improved.name == "improved"


@pytest.mark.parametrize("compute_dtype", ["float32", "mixed_bfloat16"])
def test_fused_batch_norm_trains_like_keras_and_saves_as_plain_batch_norm(compute_dtype: str, tmp_path) -> None:
    """Fused batch norm is a speed-up, not another network: one training step from the same weights moves the
    statistics and weights as Keras' own layer does, and the saved copy holds only standard layers."""
    import keras

    x, y = _images(64, seed=5), np.arange(64) % 10
    models = {}
    for fused in (False, True):
        model = m.build_model("speed_cnn", seed=7, compute_dtype=compute_dtype, fused_batch_norm=fused)
        for layer in model.layers:  # the same epsilon (the fused kernel's), so the two networks are one
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.epsilon, layer.momentum = m.FUSED_EPSILON, m.FUSED_MOMENTUM
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        model.train_on_batch(x, y)
        models[fused] = model
    kinds = {type(layer).__name__ for layer in models[True].layers}
    assert "FusedBatchNormalization" in kinds and "BatchNormalization" not in kinds
    tolerance = 1e-5 if compute_dtype == "float32" else 3e-2
    for plain_w, fused_w in zip(models[False].get_weights(), models[True].get_weights(), strict=True):
        np.testing.assert_allclose(fused_w, plain_w, atol=tolerance, rtol=tolerance)

    saved = m.as_float32(models[True])
    assert {type(layer).__name__ for layer in saved.layers} >= {"BatchNormalization"}
    assert not any(isinstance(layer, m.FusedBatchNormalization) for layer in saved.layers)
    assert [layer.name for layer in saved.layers] == [layer.name for layer in models[True].layers]
    np.testing.assert_allclose(
        np.asarray(saved(x, training=False)), np.asarray(models[True](x, training=False)), atol=tolerance
    )
    path = tmp_path / "speed.keras"
    saved.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)  # no custom class needed to read it back
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(saved(x)), atol=1e-6)
