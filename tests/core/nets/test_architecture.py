"""fmnist_core.nets.architecture: every validation rule and its sentence, costs against Keras and a hand count,
builds with stable names, presets as specs (same config as the shipped files), custom models end to end."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.explain import gradcam
from fmnist_core.nets import architecture as a
from fmnist_core.nets.keras_models import NOTEBOOK_LAYER_NAMES, build, build_model, summary_rows
from fmnist_core.runs import paths, store
from helpers import PYTHON, REPO_ROOT, requires_real_data, subprocess_env

NOTEBOOK = {"conv": [{"filters": 64, "kernel": 3}, {"filters": 64, "kernel": 3}], "dense": [128]}
B = {"filters": 8, "kernel": 3}  # a small valid block

# (spec, the exact sentence SpecError gives)
INVALID = {
    "not_json": (
        "{",
        "the spec is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)).",
    ),
    "not_object": ([B], "the spec must be a JSON object with a 'conv' list, not a list."),
    "unknown_key": (
        {"conv": [B], "pooling": 1},
        "unknown key 'pooling' in the spec; the keys are conv, dense, dropout, activation.",
    ),
    "no_conv": ({"dense": [8]}, "'conv' must be a list of 1 to 4 conv blocks, not null."),
    "zero_blocks": ({"conv": []}, "'conv' must be a list of 1 to 4 conv blocks, not 0 blocks."),
    "five_blocks": ({"conv": [B] * 5}, "'conv' must be a list of 1 to 4 conv blocks, not 5 blocks."),
    "block_not_object": ({"conv": [3]}, 'conv block 1 must be an object like {"filters": 32, "kernel": 3}, not 3.'),
    "block_unknown_key": (
        {"conv": [B, dict(B, stride=2)]},
        "unknown key 'stride' in conv block 2; the keys are filters, kernel, padding, batch_norm, pool.",
    ),
    "no_filters": ({"conv": [{"kernel": 3}]}, "conv block 1 needs 'filters'."),
    "no_kernel": ({"conv": [{"filters": 8}]}, "conv block 1 needs 'kernel'."),
    "filters_low": (
        {"conv": [dict(B, filters=3)]},
        "conv block 1: filters must be a whole number from 4 to 256, not 3.",
    ),
    "filters_high": (
        {"conv": [dict(B, filters=257)]},
        "conv block 1: filters must be a whole number from 4 to 256, not 257.",
    ),
    "filters_float": (
        {"conv": [dict(B, filters=8.0)]},
        "conv block 1: filters must be a whole number from 4 to 256, not 8.0.",
    ),
    "filters_bool": (
        {"conv": [dict(B, filters=True)]},
        "conv block 1: filters must be a whole number from 4 to 256, not true.",
    ),
    "kernel_high": ({"conv": [dict(B, kernel=9)]}, "conv block 1: kernel must be a whole number from 1 to 7, not 9."),
    "kernel_zero": ({"conv": [dict(B, kernel=0)]}, "conv block 1: kernel must be a whole number from 1 to 7, not 0."),
    "kernel_even": ({"conv": [B, dict(B, kernel=4)]}, "conv block 2: kernel must be odd (1, 3, 5 or 7), not 4."),
    "padding": ({"conv": [dict(B, padding="full")]}, "conv block 1: padding must be 'valid' or 'same', not 'full'."),
    "batch_norm": ({"conv": [dict(B, batch_norm="yes")]}, "conv block 1: batch_norm must be true or false, not 'yes'."),
    "pool": ({"conv": [dict(B, pool="min")]}, "conv block 1: pool must be 'max', 'avg' or 'none', not 'min'."),
    "dense_not_list": ({"conv": [B], "dense": 128}, "'dense' must be a list of 0 to 3 layer sizes, not 128."),
    "four_dense": ({"conv": [B], "dense": [8] * 4}, "'dense' must be a list of 0 to 3 layer sizes, not 4 layers."),
    "units_low": (
        {"conv": [B], "dense": [64, 7]},
        "dense layer 2 must have a whole number of units from 8 to 2048, not 7.",
    ),
    "units_high": (
        {"conv": [B], "dense": [4096]},
        "dense layer 1 must have a whole number of units from 8 to 2048, not 4096.",
    ),
    "dropout_high": ({"conv": [B], "dropout": 0.9}, "dropout must be a number from 0 to 0.8, not 0.9."),
    "dropout_negative": ({"conv": [B], "dropout": -0.1}, "dropout must be a number from 0 to 0.8, not -0.1."),
    "dropout_text": ({"conv": [B], "dropout": "0.2"}, "dropout must be a number from 0 to 0.8, not '0.2'."),
    "activation": (
        {"conv": [B], "activation": "sigmoid"},
        "activation must be 'relu', 'gelu', 'elu' or 'tanh', not 'sigmoid'.",
    ),
    # 28 -> 22 (7x7 valid) -> 11 -> 5 -> 2: block 3's 7x7 conv gets 2x2 maps.
    "conv_reaches_zero": (
        {"conv": [dict(B, kernel=7)] * 3},
        "conv block 3 gets 2x2 maps, too small for its 7x7 'valid' conv (it would give 0x0); use 'same' padding, a smaller kernel or fewer pools.",
    ),
    # 1x1 'same' convs: 28 -> 14 -> 7 -> 3, then block 4's 5x5 'valid' conv has nothing to slide over.
    "pool_reaches_zero": (
        {"conv": [dict(B, kernel=1, padding="same")] * 3 + [dict(B, kernel=5, pool="max")]},
        "conv block 4 gets 3x3 maps, too small for its 5x5 'valid' conv (it would give 0x0); use 'same' padding, a smaller kernel or fewer pools.",
    ),
    # 'same' convs: 28 -> 14 -> 7 -> 3, block 4's 3x3 'valid' conv gives 1x1, and its pool would give 0x0.
    "pool_of_one": (
        {"conv": [dict(B, padding="same")] * 3 + [dict(B, pool="avg")]},
        "conv block 4's avg pool gets 1x1 maps and would shrink them to 0x0; use 'same' padding, pool 'none' or fewer blocks.",
    ),
    # conv 3*3*256 + 256, then 28*28*256 features into 64 units, then 64*10 + 10.
    "too_many_params": (
        {"conv": [{"filters": 256, "kernel": 3, "padding": "same", "pool": "none"}], "dense": [64]},
        "the network has 12,848,330 parameters, more than the limit of 5,000,000; use fewer filters or dense units, or pool more before the dense layers.",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_each_invalid_spec_is_one_sentence(case: str) -> None:
    spec, message = INVALID[case]
    with pytest.raises(a.SpecError) as err:
        a.parse_spec(spec)
    assert str(err.value) == message
    assert "\n" not in message and message.endswith(".")


def test_the_limits_themselves_are_accepted() -> None:
    spec = a.parse_spec(
        {
            "conv": [
                {"filters": 4, "kernel": 1, "padding": "same", "pool": "none"},
                {"filters": 256, "kernel": 7, "padding": "same", "batch_norm": True, "pool": "avg"},
                {"filters": 16, "kernel": 5, "padding": "valid"},
                {"filters": 16, "kernel": 1, "pool": "max"},
            ],
            "dense": [8, 2048, 8],
            "dropout": 0.8,
            "activation": "tanh",
        }
    )
    # 28 (same, no pool) -> 28 -> 14 (avg) -> 10 (5x5 valid) -> 5 -> 5 (1x1) -> 2
    rows = {r.name: r for r in a.describe(spec).layers}
    assert rows["max_pooling2d_1"].output_shape == (2, 2, 16) and rows["flatten"].output_shape == (64,)
    assert a.parse_spec({"conv": [B], "dense": []}).dense == ()


def test_defaults_and_round_trips() -> None:
    spec = a.parse_spec(NOTEBOOK)
    assert spec == a.NOTEBOOK_SPEC
    assert spec.conv[0] == a.ConvBlock(filters=64, kernel=3, padding="valid", batch_norm=False, pool="max")
    assert (spec.dropout, spec.activation) == (0.0, "relu")
    full = a.to_dict(spec)
    assert full["conv"][1] == {"filters": 64, "kernel": 3, "padding": "valid", "batch_norm": False, "pool": "max"}
    assert a.parse_spec(full) == spec
    assert a.parse_spec(json.dumps(full)) == spec
    assert a.parse_spec(a.to_json(a.EARLY_IMPROVED_SPEC)) == a.EARLY_IMPROVED_SPEC
    assert a.parse_spec(spec) is not spec and a.parse_spec(spec) == spec
    # An ArchSpec made by hand is validated like any other.
    with pytest.raises(a.SpecError, match="kernel must be odd"):
        a.parse_spec(a.ArchSpec(conv=(a.ConvBlock(8, 2),)))


def test_summary_line_names_every_block() -> None:
    assert a.summary_line(a.EARLY_IMPROVED_SPEC) == (
        "conv 32 3x3 same max → conv 64 3x3 same bn max → dense 256 · relu, dropout 0.3"
    )
    assert a.summary_line(a.parse_spec({"conv": [dict(B, pool="none")], "dense": []})) == "conv 8 3x3 valid none · relu"


def test_notebook_spec_costs_by_hand() -> None:
    d = a.describe(a.parse_spec(NOTEBOOK))
    assert d.params == 243_786
    assert [r.name for r in d.layers] == list(NOTEBOOK_LAYER_NAMES)
    # Multiply-adds x 2: conv2d 26*26*64*(3*3*1), conv2d_1 11*11*64*(3*3*64), dense 1600*128, dense_1 128*10.
    by_hand = 2 * (26 * 26 * 64 * 9 + 11 * 11 * 64 * 9 * 64 + 1600 * 128 + 128 * 10)
    assert by_hand == 10_112_000 == d.flops_forward
    assert [r.flops for r in d.layers] == [778_752, 0, 8_921_088, 0, 0, 409_600, 2_560]
    # Training: forward + weight gradients + input gradients of all but the first conv.
    assert d.flops_train == 3 * 10_112_000 - 778_752 == 29_557_248
    assert d.to_json() == {
        "layers": [
            {"name": "conv2d", "type": "Conv2D", "shape": [26, 26, 64], "params": 640},
            {"name": "max_pooling2d", "type": "MaxPooling2D", "shape": [13, 13, 64], "params": 0},
            {"name": "conv2d_1", "type": "Conv2D", "shape": [11, 11, 64], "params": 36928},
            {"name": "max_pooling2d_1", "type": "MaxPooling2D", "shape": [5, 5, 64], "params": 0},
            {"name": "flatten", "type": "Flatten", "shape": [1600], "params": 0},
            {"name": "dense", "type": "Dense", "shape": [128], "params": 204928},
            {"name": "dense_1", "type": "Dense", "shape": [10], "params": 1290},
        ],
        "params": 243786,
        "mflop_forward": 10.112,
        "mflop_train": 29.557,
    }


SPECS = {
    "notebook": NOTEBOOK,
    "one_block_same_avg": {"conv": [{"filters": 16, "kernel": 5, "padding": "same", "pool": "avg"}], "dense": []},
    "three_blocks_bn": {
        "conv": [dict(B, batch_norm=True, padding="same"), dict(B, filters=16), dict(B, kernel=1, pool="none")],
        "dense": [32, 16],
        "dropout": 0.25,
        "activation": "gelu",
    },
    "four_blocks_mixed": {
        "conv": [
            {"filters": 8, "kernel": 3, "padding": "same", "batch_norm": True, "pool": "max"},
            {"filters": 16, "kernel": 3, "padding": "valid", "pool": "avg"},
            {"filters": 16, "kernel": 1, "padding": "same", "batch_norm": True, "pool": "none"},
            {"filters": 32, "kernel": 3, "padding": "same", "pool": "max"},
        ],
        "dense": [64, 32, 16],
        "dropout": 0.1,
        "activation": "elu",
    },
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_describe_matches_keras(name: str) -> None:
    spec = a.parse_spec(SPECS[name])
    described = a.describe(spec)
    model = build(spec, seed=3)
    keras_rows = [(r.name, r.type, r.output_shape, r.params) for r in summary_rows(model)]
    assert keras_rows == [(r.name, r.type, r.output_shape, r.params) for r in described.layers]
    assert model.count_params() == described.params
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1) and tuple(model.outputs[0].shape) == (None, 10)
    assert model.layers[-1].name == described.layers[-1].name and model.layers[-1].activation.__name__ == "softmax"
    # Each block: conv (no bias and linear with batch norm), then BN and an Activation, then the pool.
    for block, conv in zip(spec.conv, [x for x in model.layers if type(x).__name__ == "Conv2D"], strict=True):
        assert conv.use_bias is not block.batch_norm
        assert conv.activation.__name__ == ("linear" if block.batch_norm else spec.activation)
        assert conv.kernel_size == (block.kernel, block.kernel) and conv.padding == block.padding
    names = [x.name for x in model.layers]
    assert names.count("dropout") == (1 if spec.dropout else 0)
    assert sum(n.startswith("dropout") for n in names) == (len(spec.dense) + 1 if spec.dropout else 0)
    # FLOPs from the model's own layers: 2 x output cells x weights per cell, for each Conv2D and Dense.
    flops = 0
    for layer in model.layers:
        if type(layer).__name__ in ("Conv2D", "Dense"):
            kernel = layer.kernel.shape
            cells = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
            flops += 2 * cells * int(np.prod(kernel))
    assert flops == described.flops_forward


def test_build_names_are_stable_seeded_and_mixed_precision_keeps_the_softmax_float32() -> None:
    spec = a.parse_spec(SPECS["four_blocks_mixed"])
    first, second = build(spec, seed=5), build(spec, seed=5)
    assert [x.name for x in first.layers] == [x.name for x in second.layers]
    assert [x.name for x in first.layers][:4] == ["conv2d", "batch_normalization", "activation", "max_pooling2d"]
    assert "average_pooling2d" in [x.name for x in first.layers]
    for wa, wb in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    other = build(spec, seed=6)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    mixed = build(spec, seed=5, compute_dtype="mixed_bfloat16")
    assert mixed.layers[-1].dtype_policy.name == "float32"
    assert {x.dtype_policy.name for x in mixed.layers[:-1]} == {"mixed_bfloat16"}
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    out = np.asarray(mixed(x, training=False))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(a.SpecError, match="kernel must be odd"):
        build({"conv": [dict(B, kernel=2)]})


def _strip_seeds(config: object) -> object:
    if isinstance(config, dict):
        return {k: _strip_seeds(v) for k, v in config.items() if k not in ("seed", "shared_object_id")}
    if isinstance(config, list):
        return [_strip_seeds(v) for v in config]
    return config


@pytest.mark.parametrize(("preset", "asset"), [("notebook_cnn", "default"), ("deep_cnn", "improved")])
def test_presets_as_specs_build_the_shipped_configs(preset: str, asset: str) -> None:
    with zipfile.ZipFile(paths.ASSETS_DIR / f"{asset}.keras") as zf:
        shipped = json.loads(zf.read("config.json"))["config"]
    built = json.loads(json.dumps(build_model(preset, seed=1).get_config()))
    assert _strip_seeds(built) == _strip_seeds(shipped)
    # Keras' own naming throughout (the improved model's first network called its Activation layer "relu").
    spec_names = [r.name for r in a.describe(a.PRESET_SPECS[preset]).layers]
    shipped_names = [layer["config"]["name"] for layer in shipped["layers"][1:]]
    differing = {(s, f) for s, f in zip(spec_names, shipped_names, strict=True) if s != f}
    assert differing == set()


def test_build_model_accepts_specs_in_every_form() -> None:
    for form in (NOTEBOOK, json.dumps(NOTEBOOK), a.NOTEBOOK_SPEC):
        assert build_model(form, seed=1).count_params() == 243_786
    with pytest.raises(a.SpecError, match="unknown key 'x'"):
        build_model({"conv": [B], "x": 1})


@requires_real_data
@pytest.mark.parametrize("name", ["one_block_same_avg", "three_blocks_bn", "four_blocks_mixed"])
def test_custom_models_train_save_load_and_explain(
    name: str, store_home: Path, test_set: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A custom network through a short fit, the store, and every per-layer function the pages use."""
    import keras

    from fmnist_core.analysis.activations import layer_outputs
    from fmnist_core.data import fashion_mnist
    from fmnist_core.nets.keras_models import as_float32, spatial_layers
    from helpers import REAL_DATA_DIR

    spec = a.parse_spec(SPECS[name])
    train = fashion_mnist.load_train_set(REAL_DATA_DIR)
    x, y = fashion_mnist.scale(train.images[:600]), train.labels[:600].astype(np.int32)
    keras.utils.set_random_seed(0)
    model = build(spec, seed=1, compute_dtype="mixed_bfloat16")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    final = as_float32(model)
    assert [x.name for x in final.layers] == [x.name for x in model.layers]
    assert {x.dtype_policy.name for x in final.layers} == {"float32"}
    run_id = store.save_run(
        final, {"preset": "custom", "arch": a.to_dict(spec)}, run_id=f"custom-{name}".replace("_", "-")
    )
    assert store.get_run(run_id).metadata.arch == a.to_dict(spec)
    loaded = store.load_model(run_id)
    image = test_set.images[0]
    outputs = layer_outputs(loaded, image)
    for row in a.describe(spec).layers:
        assert outputs[row.name].shape == row.output_shape
    assert spatial_layers(loaded) == [
        r.name for r in a.describe(spec).layers if r.type.endswith(("Conv2D", "Pooling2D"))
    ]
    last = gradcam.last_conv_layer(loaded)
    heat = gradcam.grad_cam(loaded, image, layer=last)
    assert heat.shape == (28, 28) and np.isfinite(heat).all() and heat.max() <= 1.0
    kernels = gradcam.first_layer_kernels(loaded)
    assert kernels.shape == (spec.conv[0].kernel, spec.conv[0].kernel, spec.conv[0].filters)


def _arch_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "fmnist_core", "arch", *args],
        cwd=REPO_ROOT,
        env=subprocess_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_cli_arch_prints_the_table_and_costs(tmp_path: Path) -> None:
    path = tmp_path / "notebook.json"
    path.write_text(json.dumps(NOTEBOOK))
    done = _arch_cli(tmp_path, str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == a.describe(a.parse_spec(NOTEBOOK)).to_json()
    assert json.loads(done.stdout)["params"] == 243_786
    text = _arch_cli(tmp_path, str(path))
    assert text.returncode == 0
    assert "conv2d_1               Conv2D               11x11x64             36,928    8.921" in text.stdout
    assert text.stdout.strip().endswith(
        "243,786 parameters; 10.11 MFLOP per image forward, 29.56 per training image (forward + gradients)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (json.dumps({"conv": [dict(B, kernel=4)]}), "error: conv block 1: kernel must be odd (1, 3, 5 or 7), not 4."),
        ("{", "error: the spec is not valid JSON"),
        (None, "error: cannot read the spec"),
    ],
)
def test_cli_arch_refuses_a_bad_spec_in_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "spec.json"
    if content is not None:
        path.write_text(content)
    done = _arch_cli(tmp_path, str(path), "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
