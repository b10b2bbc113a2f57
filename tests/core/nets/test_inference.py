"""fmnist_core.nets.inference: probabilities, evaluation against Keras, confusion matrix, per-class metrics."""

from __future__ import annotations

import gc
import math
import weakref

import keras
import numpy as np
import pytest

from fmnist_core.data import fashion_mnist
from fmnist_core.nets import inference
from fmnist_core.nets.keras_models import build_notebook_cnn
from helpers import HAS_REAL_DATA, REAL_DATA_DIR, requires_real_data


@pytest.fixture(scope="module")
def untrained() -> keras.Model:
    return build_notebook_cnn(seed=21)


@pytest.fixture(scope="module")
def trained() -> tuple[keras.Model, fashion_mnist.Split]:
    """The seed CNN after one epoch on 512 real training images, and the first 1,000 test images."""
    if not HAS_REAL_DATA:
        pytest.skip(f"real Fashion-MNIST not found in {REAL_DATA_DIR}")
    keras.utils.set_random_seed(0)
    train, test = fashion_mnist.load_train_set(REAL_DATA_DIR), fashion_mnist.load_test_set(REAL_DATA_DIR)
    model = build_notebook_cnn(seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(fashion_mnist.scale(train.images[:512]), train.labels[:512], batch_size=64, epochs=1, verbose=0)
    return model, fashion_mnist.Split(images=test.images[:1000], labels=test.labels[:1000])


def _uint8_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def test_as_model_input_shapes_and_dtypes() -> None:
    one = _uint8_images(1)[0]
    x = inference.as_model_input(one)
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :, 0], one / 255.0, atol=1e-7)
    assert inference.as_model_input(_uint8_images(3)).shape == (3, 28, 28, 1)
    scaled = np.random.default_rng(1).random((2, 28, 28))  # float64, already in [0, 1]: not divided again
    y = inference.as_model_input(scaled)
    assert y.shape == (2, 28, 28, 1) and y.dtype == np.float32
    np.testing.assert_allclose(y[..., 0], scaled, atol=1e-7)
    z = np.zeros((4, 28, 28, 1), np.float32)
    assert inference.as_model_input(z).shape == (4, 28, 28, 1)


def test_predict_proba_shape_rows_and_agreement_with_the_model(untrained: keras.Model) -> None:
    images = _uint8_images(25, seed=2)
    probs = inference.predict_proba(untrained, images)
    assert probs.shape == (25, 10) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert (probs >= 0).all()
    direct = np.asarray(untrained(fashion_mnist.scale(images), training=False))
    np.testing.assert_allclose(probs, direct, atol=1e-6)
    # Batching does not change the answer, nor does handing over pre-scaled floats or a single image.
    np.testing.assert_allclose(inference.predict_proba(untrained, images, batch_size=7), probs, atol=1e-6)
    np.testing.assert_allclose(inference.predict_proba(untrained, fashion_mnist.scale(images)), probs, atol=1e-6)
    np.testing.assert_allclose(inference.predict_proba(untrained, images[4]), probs[4:5], atol=1e-6)
    assert inference.predict_proba(untrained, np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)


def test_compiled_forward_is_built_once_per_model(untrained: keras.Model) -> None:
    assert inference.compiled_forward(untrained) is inference.compiled_forward(untrained)
    other = build_notebook_cnn(seed=22)
    assert inference.compiled_forward(other) is not inference.compiled_forward(untrained)


def test_predicting_does_not_keep_the_model_alive() -> None:
    model = build_notebook_cnn(seed=23)
    inference.predict_proba(model, _uint8_images(2))
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


@requires_real_data
def test_evaluate_agrees_with_keras(trained: tuple[keras.Model, fashion_mnist.Split]) -> None:
    model, test = trained
    result = inference.evaluate(model, test.images, test.labels)
    keras_loss, keras_acc = model.evaluate(fashion_mnist.scale(test.images), test.labels, batch_size=1000, verbose=0)
    assert result.n == 1000
    assert result.loss == pytest.approx(keras_loss, abs=1e-3)
    assert result.accuracy == pytest.approx(keras_acc, abs=1e-3)
    assert 0.4 < result.accuracy < 1.0  # it learned something in one small epoch
    assert result.probabilities.shape == (1000, 10)
    np.testing.assert_array_equal(result.predictions, result.probabilities.argmax(axis=1))
    assert result.accuracy == float((result.predictions == test.labels).mean())


def test_evaluate_on_nothing(untrained: keras.Model) -> None:
    result = inference.evaluate(untrained, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    assert result.n == 0 and math.isnan(result.accuracy)


def test_cross_entropy_by_hand() -> None:
    probs = np.array([[0.5, 0.5, 0.0], [0.1, 0.9, 0.0], [1.0, 0.0, 0.0]])
    labels = np.array([0, 1, 2])
    expected = -(math.log(0.5) + math.log(0.9) + math.log(1e-7)) / 3  # a zero probability is clipped to 1e-7
    assert inference.cross_entropy(probs, labels) == pytest.approx(expected, rel=1e-12)


def test_confusion_matrix_counts() -> None:
    actual = np.array([0, 0, 1, 2, 2, 2, 9])
    predicted = np.array([0, 1, 1, 2, 0, 2, 9])
    small = inference.confusion_matrix(actual[:6], predicted[:6], num_classes=3)
    np.testing.assert_array_equal(small, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    full = inference.confusion_matrix(actual, predicted)
    assert full.shape == (10, 10) and full.sum() == 7 and full[9, 9] == 1 and full.dtype == np.int64


def test_per_class_metrics_by_hand() -> None:
    # Rows are the actual class, columns the predicted one.
    matrix = np.array([[5, 2, 1], [1, 6, 1], [0, 2, 7]])
    rows = inference.per_class_metrics(matrix)
    # precision = TP / column sum, recall = TP / row sum, F1 = 2 TP / (column sum + row sum)
    expected = [
        ("T-shirt/top", 5 / 6, 5 / 8, 10 / 14, 8),
        ("Trouser", 6 / 10, 6 / 8, 12 / 18, 8),
        ("Pullover", 7 / 9, 7 / 9, 14 / 18, 9),
    ]
    assert len(rows) == 3
    for row, (name, precision, recall, f1, support) in zip(rows, expected, strict=True):
        assert row["class"] == name and row["support"] == support
        assert row["precision"] == pytest.approx(precision, abs=1e-12)
        assert row["recall"] == pytest.approx(recall, abs=1e-12)
        assert row["f1"] == pytest.approx(f1, abs=1e-12)


def test_per_class_metrics_undefined_are_zero() -> None:
    matrix = np.zeros((10, 10), dtype=np.int64)
    matrix[0, 0] = 3
    matrix[1, 0] = 1  # class 1 never predicted: precision undefined -> 0; recall 0
    rows = inference.per_class_metrics(matrix)
    assert rows[0]["precision"] == pytest.approx(0.75) and rows[0]["recall"] == 1.0
    assert rows[0]["f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert (rows[1]["precision"], rows[1]["recall"], rows[1]["f1"], rows[1]["support"]) == (0.0, 0.0, 0.0, 1)
    assert rows[5] == {"class": "Sandal", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
