"""importer.import_model: a good model imports, is evaluated and predicts as it did; every kind of bad file is
refused with one sentence before Keras deserialises anything, nothing is stored, and no code from it runs."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.inference import evaluate, predict_proba
from fmnist_core.nets.keras_models import build
from fmnist_core.runs import importer, store
from helpers import PYTHON, REAL_DATA_DIR, REPO_ROOT, requires_real_data, subprocess_env

pytestmark = requires_real_data


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[keras.Model, Path]:
    """A small CNN trained for one epoch on 2,000 images, saved as a .keras file the way a user would."""
    train = fashion_mnist.load_train_set(REAL_DATA_DIR)
    keras.utils.set_random_seed(3)
    model = build({"conv": [{"filters": 8, "kernel": 3}], "dense": [32]}, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(fashion_mnist.scale(train.images[:2000]), train.labels[:2000], batch_size=64, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("user") / "my_cnn.keras"
    model.save(path)
    return model, path


def _stored(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir()) if home.exists() else []


def test_a_good_model_imports_evaluates_and_predicts(store_home: Path, trained, test_set: fashion_mnist.Split) -> None:
    model, path = trained
    result = importer.import_model(path, name="mine", data_dir=REAL_DATA_DIR, actor=people.LOCAL)
    assert result.run_id == "mine" and result.notes == ()
    assert _stored(store_home) == ["mine.json", "mine.keras"]
    info = store.get_run("mine")
    assert (info.status, info.usable) == ("imported", True)
    assert info.label() == f"imported {path.stem[:18]} · {info.test_accuracy:.2%}"
    expected = evaluate(model, test_set.images, test_set.labels)
    assert info.test_accuracy == expected.accuracy and info.test_accuracy > 0.6  # one epoch on 2,000 images
    assert info.test_loss == pytest.approx(expected.loss, abs=1e-6)
    meta = info.metadata
    assert meta.imported_from == "my_cnn.keras" and meta.input_scaling == importer.INPUT_SCALING
    assert "0..1" in meta.input_scaling and meta.params == model.count_params() and meta.arch is None
    assert [row.name for row in meta.summary] == [layer.name for layer in model.layers]
    loaded = store.load_model("mine")
    np.testing.assert_allclose(
        predict_proba(loaded, test_set.images[:200]), predict_proba(model, test_set.images[:200]), atol=1e-6
    )
    # The same bytes from an upload (no path) import under a generated id.
    again = importer.import_model(
        path.read_bytes(), file_name="my_cnn.keras", data_dir=REAL_DATA_DIR, actor=people.LOCAL
    ).run_id
    assert "-imported-" in again and store.get_run(again).test_accuracy == info.test_accuracy
    # A taken name is refused before anything is evaluated.
    with pytest.raises(store.StoreError, match="a run with id mine exists already"):
        importer.import_model(path, name="mine", data_dir=REAL_DATA_DIR, actor=people.LOCAL)
    with pytest.raises(store.StoreError, match="a run with id default exists already"):
        importer.import_model(path, name="default", data_dir=REAL_DATA_DIR, actor=people.LOCAL)


def test_a_28x28_logits_model_is_adapted_and_says_so(
    store_home: Path, tmp_path: Path, test_set: fashion_mnist.Split
) -> None:
    mlp = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(name="pixels"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    conv = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Reshape((28, 28, 1), name="add_channel"),
            keras.layers.Conv2D(4, 3, activation="relu", name="edges"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, activation="softmax", name="classes"),
        ]
    )
    x = test_set.images[:50].astype(np.float32) / 255
    for name, model in (("mlp", mlp), ("conv", conv)):
        model.save(tmp_path / f"{name}.keras")
        result = importer.import_model(
            tmp_path / f"{name}.keras", name=name, data_dir=REAL_DATA_DIR, actor=people.LOCAL
        )
        loaded = store.load_model(name)
        assert tuple(loaded.inputs[0].shape) == (None, 28, 28, 1)
        out = np.asarray(model(x, training=False))
        expected = keras.ops.convert_to_numpy(keras.ops.softmax(out)) if name == "mlp" else out
        np.testing.assert_allclose(predict_proba(loaded, test_set.images[:50]), expected, atol=1e-5)
        assert list(result.notes) == store.get_run(name).metadata.notes
    assert store.get_run("mlp").metadata.notes == [
        "The model takes 28x28 images; its Flatten layer takes 28x28x1 the same way.",
        "The model's last layer gave scores, not probabilities; a softmax layer (which turns scores into "
        "probabilities that add up to 1) was added.",
        "Layers were given Keras' default names, as this app's own models have "
        "(pixels → flatten, hidden → dense, logits → dense_1).",
    ]
    assert [layer.name for layer in store.load_model("mlp").layers] == ["flatten", "dense", "dense_1", "softmax"]
    assert store.get_run("conv").metadata.notes == [
        "The model takes 28x28 images; a reshape from 28x28x1 was put in front.",
        "Layers were given Keras' default names, as this app's own models have "
        "(add_channel → reshape_1, edges → conv2d, flat → flatten, classes → dense).",
    ]
    assert [layer.name for layer in store.load_model("conv").layers] == [
        "reshape",
        "reshape_1",
        "conv2d",
        "flatten",
        "dense",
    ]


# --- bad files: each refused with its sentence, nothing stored -----------------------------------------------
def _lambda_file(tmp_path: Path, marker: Path) -> Path:
    """A model whose Lambda writes `marker` whenever its code runs (building the model here runs it once)."""
    # The path is a literal in the lambda's own code (Keras marshals the code; it cannot restore defaults).
    touch = eval(f"lambda x: (open({str(marker)!r}, 'a').close(), x)[1]")  # noqa: S307
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Lambda(touch, name="tripwire"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran the lambda; from here on it must never run again
    return path


def test_a_conv_after_the_flatten_is_refused(store_home: Path, tmp_path: Path) -> None:
    late_conv = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(784),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(2, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    late_conv.save(tmp_path / "late.keras")
    with pytest.raises(store.StoreError, match=r"has a Conv2D layer \(conv2d[_0-9]*\) after its flatten[_0-9]* layer"):
        importer.import_model(tmp_path / "late.keras", name="late", data_dir=REAL_DATA_DIR, actor=people.LOCAL)
    assert _stored(store_home) == []


def test_a_lambda_model_is_refused_and_its_code_never_runs(store_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "lambda_ran"
    path = _lambda_file(tmp_path, marker)
    with pytest.raises(store.StoreError) as err:
        importer.import_model(path, data_dir=REAL_DATA_DIR, actor=people.LOCAL)
    assert str(err.value) == "lambda.keras contains layers this app does not load: Lambda"
    assert not marker.exists() and _stored(store_home) == []
    # Second line of defence: even past the checks, Keras' safe mode refuses to load the lambda's code.
    with pytest.raises(store.StoreError, match="lambda.keras could not be loaded: .*"):
        importer._load_imported(path.read_bytes(), "lambda.keras")
    assert not marker.exists()
    # The tripwire works: loading without safe mode and calling the model runs the code and writes the marker.
    unsafe = keras.saving.load_model(path, safe_mode=False, compile=False)
    unsafe(np.zeros((1, 28, 28, 1), np.float32))
    assert marker.exists()


CONSTRUCTED: list[str] = []


@keras.saving.register_keras_serializable(package="fmnist_test")
class Tripwire(keras.layers.Layer):
    """A custom layer that records every construction (deserialising it would construct it)."""

    def __init__(self, **kwargs: object) -> None:
        CONSTRUCTED.append("Tripwire")
        super().__init__(**kwargs)

    def call(self, x: object) -> object:
        return x


@keras.saving.register_keras_serializable(package="fmnist_test")
def tripwire_activation(x: object) -> object:
    CONSTRUCTED.append("tripwire_activation")
    return keras.activations.softmax(x)


def _custom_class_file(tmp_path: Path) -> Path:
    model = keras.Sequential([keras.Input((28, 28, 1)), Tripwire(), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.save(tmp_path / "custom.keras")
    return tmp_path / "custom.keras"


def _custom_activation_file(tmp_path: Path) -> Path:
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation=tripwire_activation)]
    )
    model.save(tmp_path / "activation.keras")
    return tmp_path / "activation.keras"


def _saved(model: keras.Model, tmp_path: Path, name: str) -> Path:
    model.save(tmp_path / name)
    return tmp_path / name


def _wrong_input(tmp_path: Path) -> Path:
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    return _saved(model, tmp_path, "cifar.keras")


def _wrong_outputs(tmp_path: Path) -> Path:
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    return _saved(model, tmp_path, "five.keras")


def _functional(tmp_path: Path) -> Path:
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    return _saved(keras.Model(inputs, outputs), tmp_path, "functional.keras")


def _good_bytes(tmp_path: Path) -> bytes:
    return _wrong_outputs(tmp_path).read_bytes()  # any real .keras file to damage


def _truncated(tmp_path: Path) -> Path:
    raw = _good_bytes(tmp_path)
    (tmp_path / "truncated.keras").write_bytes(raw[: len(raw) // 2])
    return tmp_path / "truncated.keras"


def _bitflipped(tmp_path: Path) -> Path:
    raw = _good_bytes(tmp_path)
    mid = len(raw) // 2
    (tmp_path / "flipped.keras").write_bytes(raw[:mid] + bytes(b ^ 0xFF for b in raw[mid : mid + 64]) + raw[mid + 64 :])
    return tmp_path / "flipped.keras"


def _zip_bomb(tmp_path: Path) -> Path:
    """A valid config and 100 MB of zeros as 'weights', deflated to about 100 KB."""
    with zipfile.ZipFile(_wrong_outputs(tmp_path)) as zf:
        config = zf.read("config.json")
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", config)
        with zf.open("model.weights.h5", "w", force_zip64=True) as out:
            chunk = bytes(2**20)
            for _ in range(100):
                out.write(chunk)
    assert path.stat().st_size < 1_000_000
    return path


def _foreign_module(tmp_path: Path) -> Path:
    """A well-formed archive whose config asks Keras to find a known class name in another module."""
    with zipfile.ZipFile(_wrong_outputs(tmp_path)) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(parts["config.json"])
    config["config"]["layers"][-1]["config"]["kernel_initializer"]["module"] = "keras.src.utils.file_utils"
    parts["config.json"] = json.dumps(config).encode()
    path = tmp_path / "module.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    return path


def _extra_entry(tmp_path: Path) -> Path:
    path = tmp_path / "extra.keras"
    path.write_bytes(_good_bytes(tmp_path))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("run_me.py", "print('hello')")
    return path


def _not_keras_name(tmp_path: Path) -> Path:
    path = tmp_path / "model.h5"
    path.write_bytes(_good_bytes(tmp_path))
    return path


def _png_named_keras(tmp_path: Path) -> Path:
    path = tmp_path / "picture.keras"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return path


def _too_big(tmp_path: Path) -> Path:
    path = tmp_path / "huge.keras"
    with open(path, "wb") as fh:
        fh.truncate(51 * 2**20)  # sparse: costs no disk
    return path


BAD_FILES = {
    "custom_class": (_custom_class_file, "custom.keras contains layers this app does not load: Tripwire"),
    "custom_function": (
        _custom_activation_file,
        "activation.keras contains objects this app does not load: function fmnist_test>tripwire_activation from module builtins",
    ),
    "wrong_input": (_wrong_input, "cifar.keras takes input of shape (32, 32, 3); it must take 28x28 grayscale images"),
    "wrong_outputs": (_wrong_outputs, "five.keras gives outputs of shape (5,); it must give 10 (one per class)"),
    "functional": (_functional, "functional.keras holds a Functional model; only Sequential models are loaded"),
    "truncated_zip": (_truncated, "truncated.keras is not a .keras archive (damaged or truncated)"),
    "bitflipped_zip": (_bitflipped, "flipped.keras is corrupt (model.weights.h5 fails its checksum)"),
    "zip_bomb": (
        _zip_bomb,
        "bomb.keras looks like a zip bomb: model.weights.h5 would unpack 10",
    ),
    "foreign_module": (
        _foreign_module,
        "module.keras contains objects this app does not load: GlorotUniform from module keras.src.utils.file_utils",
    ),
    "extra_entry": (_extra_entry, "extra.keras holds entries a .keras model does not have: run_me.py"),
    "not_keras_name": (_not_keras_name, "model.h5 is not a .keras file; save the model with model.save('name.keras')"),
    "png_named_keras": (_png_named_keras, "picture.keras is not a .keras archive (damaged or truncated)"),
    "over_50_mb": (_too_big, "huge.keras is 51.0 MB; models of up to 50 MB can be imported"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_files_are_refused_in_one_sentence_and_nothing_is_stored(
    store_home: Path, tmp_path: Path, kind: str
) -> None:
    make, message = BAD_FILES[kind]
    path = make(tmp_path)
    CONSTRUCTED.clear()
    with pytest.raises(store.StoreError) as err:
        importer.import_model(path, data_dir=REAL_DATA_DIR, actor=people.LOCAL)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
    assert CONSTRUCTED == []  # no custom class or function from a file was ever constructed or called
    assert _stored(store_home) == []


def test_uploaded_bytes_are_checked_the_same_way(store_home: Path, tmp_path: Path) -> None:
    with pytest.raises(store.StoreError, match=r"^the uploaded file is 50.0 MB; models of up to 50 MB"):
        importer.import_model(bytes(50 * 2**20 + 1), actor=people.LOCAL)
    with pytest.raises(store.StoreError, match=r"^notes.txt is not a .keras file"):
        importer.import_model(b"hello", file_name="notes.txt", actor=people.LOCAL)
    with pytest.raises(store.StoreError, match=r"^the uploaded file is empty$"):
        importer.import_model(b"", actor=people.LOCAL)
    bomb = _zip_bomb(tmp_path).read_bytes()
    with pytest.raises(store.StoreError, match=r"^x.keras looks like a zip bomb"):
        importer.import_model(bomb, file_name="x.keras", actor=people.LOCAL)
    # A zip that declares small sizes but carries more is caught by zipfile's own size and CRC checks.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(100))
    lying = buffer.getvalue().replace(b"\x6c\x00\x00\x00", b"\x08\x00\x00\x00")  # 108 -> 8 in the headers
    with pytest.raises(store.StoreError, match=r"^the uploaded file is (damaged|corrupt)"):
        importer.import_model(lying, actor=people.LOCAL)
    assert _stored(store_home) == []


def _import_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "fmnist_core", "models", *args],
        cwd=REPO_ROOT,
        env=subprocess_env(home, FMNIST_DATA_DIR=str(REAL_DATA_DIR)),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_cli_imports_a_model_and_refuses_a_bad_one(tmp_path: Path, trained) -> None:
    model, path = trained
    home = tmp_path / "home"
    done = _import_cli(home, "--import", str(path), "--name", "from-cli", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["id"] == "from-cli" and payload["status"] == "imported" and payload["notes"] == []
    assert payload["params"] == model.count_params() and 0.6 < payload["test_accuracy"] <= 1
    assert payload["input_scaling"] == importer.INPUT_SCALING
    marker = tmp_path / "lambda_ran"
    bad = _lambda_file(tmp_path, marker)
    refused = _import_cli(home, "--import", str(bad), "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == "error: lambda.keras contains layers this app does not load: Lambda\n"
    assert not marker.exists()
    assert sorted(p.name for p in home.iterdir()) == ["from-cli.json", "from-cli.keras"]
