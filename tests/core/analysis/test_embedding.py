"""fmnist_core.analysis.embedding: last-hidden-layer features of the test images, projected to 2-D by PCA and t-SNE."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_core.analysis import embedding
from fmnist_core.data import fashion_mnist

SUBSET = 600


@pytest.fixture(scope="module")
def images(test_set: fashion_mnist.Split) -> np.ndarray:
    return test_set.images[:SUBSET]


@pytest.fixture(scope="module")
def dense_features(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return embedding.features(model, images)


def test_features_are_the_dense_layer_of_the_notebooks_model(
    model: keras.Model, images: np.ndarray, dense_features: np.ndarray
) -> None:
    assert embedding.feature_layer(model) == "dense"
    assert dense_features.shape == (SUBSET, 128) and dense_features.dtype == np.float32
    want = keras.Model(model.inputs, model.get_layer("dense").output).predict(fashion_mnist.scale(images), verbose=0)
    np.testing.assert_allclose(dense_features, want, atol=1e-5)
    assert dense_features.min() >= 0 and dense_features.max() > 0  # relu


def test_improved_model_skips_its_dropout_to_reach_dense() -> None:
    from fmnist_core.runs import store

    improved = store.load_model("improved")
    assert [lyr.name for lyr in improved.layers][-3:] == ["dense", "dropout_1", "dense_1"]
    assert embedding.feature_layer(improved) == "dense"
    assert embedding.features(improved, np.zeros((3, 28, 28), np.uint8)).shape == (3, 256)


def test_a_model_without_a_hidden_dense_layer_uses_the_layer_before_the_output() -> None:
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, name="c"),
            keras.layers.MaxPooling2D(2, name="p"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dropout(0.5, name="drop"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    assert embedding.feature_layer(model) == "flat"
    feats = embedding.features(model, np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8))
    assert feats.shape == (5, 13 * 13 * 4)
    pool_only = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.MaxPooling2D(4, name="p"), keras.layers.Flatten()]
    )
    assert embedding.feature_layer(pool_only) == "p"
    assert embedding.features(pool_only, np.zeros((2, 28, 28), np.uint8)).shape == (2, 49)  # 4-D maps flattened


def test_pca_matches_the_svd_of_the_centred_data(dense_features: np.ndarray) -> None:
    points = embedding.pca(dense_features)
    assert points.shape == (SUBSET, 2) and points.dtype == np.float32
    centred = dense_features.astype(np.float64) - dense_features.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    want = u[:, :2] * s[:2]
    for axis in range(2):  # the same axis up to its sign
        sign = np.sign(points[:, axis] @ want[:, axis])
        np.testing.assert_allclose(points[:, axis], sign * want[:, axis], rtol=1e-3, atol=1e-3)
    assert points[:, 0].var() >= points[:, 1].var()
    np.testing.assert_allclose(points.mean(axis=0), 0, atol=1e-3)


def test_pca_is_deterministic_and_its_signs_are_fixed(dense_features: np.ndarray) -> None:
    first = embedding.pca(dense_features)
    np.testing.assert_array_equal(first, embedding.pca(dense_features))
    # reordering the rows reorders the points: no run-dependent sign flips
    order = np.random.default_rng(3).permutation(SUBSET)
    np.testing.assert_allclose(embedding.pca(dense_features[order]), first[order], rtol=1e-4, atol=1e-4)


def test_pca_rejects_too_few_rows() -> None:
    with pytest.raises(ValueError, match="at least two feature rows"):
        embedding.pca(np.zeros((1, 5)))


@pytest.mark.skipif(not embedding.tsne_available(), reason="openTSNE is not installed")
def test_tsne_shape_determinism_and_that_it_separates_classes(
    dense_features: np.ndarray, test_set: fashion_mnist.Split
) -> None:
    heard: list[tuple[float, str]] = []
    first = embedding.project(dense_features, embedding.TSNE, seed=1, progress=lambda f, t: heard.append((f, t)))
    assert first.shape == (SUBSET, 2) and np.isfinite(first).all()
    # A learner sees it move: the neighbour search, then the steps, in order, up to the last.
    fractions = [f for f, _ in heard]
    assert heard[0] == (0.0, "finding each image's nearest neighbours")
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(heard) >= 10
    total = embedding.EXAGGERATION_ITERATIONS + embedding.ITERATIONS
    assert heard[-1][1] == f"arranging the points: step {total} of {total}"
    np.testing.assert_array_equal(first, embedding.project(dense_features, embedding.TSNE, seed=1))
    assert not np.allclose(first, embedding.project(dense_features, embedding.TSNE, seed=2))
    labels = test_set.labels[:SUBSET].astype(int)

    def neighbours_agree(points: np.ndarray) -> float:
        d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        nearest = np.argpartition(d, 5, axis=1)[:, :5]
        return float((labels[nearest] == labels[:, None]).mean())

    # t-SNE keeps classes together better than the linear map: the reason to offer it
    assert neighbours_agree(first) > neighbours_agree(embedding.pca(dense_features)) + 0.1


def test_embed_and_bad_methods(model: keras.Model, images: np.ndarray) -> None:
    result = embedding.embed(model, images[:50])
    assert (result.layer, result.method, result.points.shape) == ("dense", "PCA", (50, 2))
    assert result.seconds >= 0
    with pytest.raises(ValueError, match="unknown projection 'umap'; choose PCA or t-SNE"):
        embedding.project(np.zeros((4, 3)), "umap")
