"""The shipped default model: loads safely, knows the notebook's example images, beats the notebook's accuracy."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import keras
import pytest

from fmnist_core import people
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.inference import evaluate, predict_proba
from fmnist_core.nets.presets import TARGET_ACCURACY
from fmnist_core.runs import paths, store
from helpers import HAS_REAL_DATA, PYTHON, REAL_DATA_DIR, REPO_ROOT, subprocess_env

SHIPPED = paths.ASSETS_DIR / "default.keras"
STRONG_TARGET = 0.935
pytestmark = [
    pytest.mark.skipif(not SHIPPED.exists(), reason=f"{SHIPPED} is not shipped yet"),
    pytest.mark.skipif(not HAS_REAL_DATA, reason=f"real Fashion-MNIST not found in {REAL_DATA_DIR}"),
]


@pytest.mark.parametrize(("index", "label", "name"), [(0, 9, "Ankle boot"), (10, 4, "Coat"), (110, 2, "Pullover")])
def test_known_images(model: keras.Model, test_set: fashion_mnist.Split, index: int, label: int, name: str) -> None:
    probs = predict_proba(model, test_set.images[index])[0]
    assert int(probs.argmax()) == label == int(test_set.labels[index])
    assert fashion_mnist.CLASS_NAMES[label] == name


def test_accuracy_at_least_the_notebooks(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    result = evaluate(model, test_set.images, test_set.labels)
    assert result.n == 10_000
    assert result.accuracy >= TARGET_ACCURACY == 0.9137
    info = store.get_run(paths.DEFAULT_RUN_ID)
    if info.test_accuracy is not None:  # the metadata tells the truth about the file
        assert info.test_accuracy == pytest.approx(result.accuracy, abs=1e-3)


def test_listed_first_and_not_deletable(tmp_path: Path) -> None:
    first = store.list_runs(tmp_path)[0]
    assert (first.id, first.shipped, first.usable) == ("default", True, True)
    with pytest.raises(store.StoreError, match="shipped"):
        store.delete_run("default", home=tmp_path, actor=people.LOCAL)


def test_cli_uses_it_by_default(tmp_path: Path) -> None:
    proc = subprocess.run(
        [PYTHON, "-m", "fmnist_core", "predict", "--index", "0", "--json"],
        cwd=REPO_ROOT,
        env=subprocess_env(tmp_path, FMNIST_DATA_DIR=str(REAL_DATA_DIR)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["model"], out["predicted"], out["predicted_label"], out["actual"]) == ("default", 9, "Ankle boot", 9)


# --- the second shipped model: the "improved" preset ------------------------------------------------------------
IMPROVED = paths.ASSETS_DIR / "improved.keras"
needs_improved = pytest.mark.skipif(not IMPROVED.exists(), reason=f"{IMPROVED} is not shipped yet")


@needs_improved
def test_improved_is_shipped_loads_and_beats_the_default(model: keras.Model, test_set: fashion_mnist.Split) -> None:
    info = store.get_run("improved")
    assert (info.shipped, info.usable, info.preset) == (True, True, "improved")
    assert info.metadata.command == (
        "python -m fmnist_core train --preset improved --seed 1 --run-id improved --output-dir fmnist_core/assets"
    )
    assert info.metadata.architecture == "deep_cnn" and info.metadata.settings.epochs == 15
    improved = store.load_model("improved")
    assert [layer.name for layer in improved.layers if type(layer).__name__ in ("Conv2D", "MaxPooling2D")] == [
        "conv2d",
        "conv2d_1",
        "max_pooling2d",
        "conv2d_2",
        "conv2d_3",
        "max_pooling2d_1",
    ]
    mine = evaluate(improved, test_set.images, test_set.labels)
    default = evaluate(model, test_set.images, test_set.labels)
    assert mine.accuracy == pytest.approx(info.test_accuracy, abs=1e-3)
    # What the preset is for: 0.935 or better at its last epoch, the model that is saved.
    assert info.metadata.history[-1].test_accuracy == info.test_accuracy >= STRONG_TARGET == 0.935
    assert mine.accuracy >= STRONG_TARGET
    assert mine.accuracy > default.accuracy >= TARGET_ACCURACY
    for index, label in ((0, 9), (10, 4), (110, 2)):
        assert int(predict_proba(improved, test_set.images[index])[0].argmax()) == label


@needs_improved
def test_improved_cannot_be_deleted_or_overwritten(tmp_path: Path) -> None:
    with pytest.raises(store.StoreError, match="shipped"):
        store.delete_run("improved", home=tmp_path, actor=people.LOCAL)
    from fmnist_core.nets.keras_models import build_notebook_cnn

    with pytest.raises(store.StoreError, match="shipped model"):
        store.save_run(build_notebook_cnn(seed=0), {"preset": "notebook"}, run_id="improved", home=tmp_path)
    assert [r.id for r in store.list_runs(tmp_path)][:2] == ["default", "improved"]
