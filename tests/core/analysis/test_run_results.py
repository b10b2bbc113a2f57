"""fmnist_core.runs.cache: results kept beside a run are the computed ones, computed once, and never stale."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.analysis import activations, embedding, run_results
from fmnist_core.nets.inference import predict_proba
from fmnist_core.nets.keras_models import build_notebook_cnn
from fmnist_core.runs import cache, paths, store

META = {"preset": "notebook", "test_accuracy": 0.75, "test_loss": 0.5}


@pytest.fixture(scope="module")
def images(test_set) -> np.ndarray:
    return test_set.images[:300]


@pytest.fixture(scope="module")
def tiny_model() -> keras.Model:
    return build_notebook_cnn(seed=3)


def _never() -> None:
    raise AssertionError("the model was asked for although the result was on disk")


def test_probabilities_are_computed_once_and_then_read_without_the_model(
    store_home: Path, tiny_model: keras.Model, images: np.ndarray
) -> None:
    store.save_run(tiny_model, META, run_id="r1")
    calls: list[int] = []

    def model() -> keras.Model:
        calls.append(1)
        return tiny_model

    first = run_results.test_probabilities("r1", model, images)
    np.testing.assert_allclose(first, predict_proba(tiny_model, images), atol=1e-6)
    assert first.dtype == np.float32 and calls == [1]
    again = run_results.test_probabilities("r1", _never, images)  # a restarted server: nothing recomputed
    np.testing.assert_array_equal(again, first)
    assert (store_home / paths.CACHE_FOLDER / "r1" / f"{run_results.PROBABILITIES}.npz").is_file()


def test_a_run_saved_again_under_its_id_is_recomputed(store_home: Path, tiny_model: keras.Model, images) -> None:
    store.save_run(tiny_model, META, run_id="r2")
    run_results.test_probabilities("r2", lambda: tiny_model, images)
    other = build_notebook_cnn(seed=4)
    store.delete_run("r2", actor=people.LOCAL)
    store.save_run(other, META, run_id="r2")
    os.utime(store.model_file("r2"), ns=(1, 1))  # even with a clock that did not move, the size/time differ
    again = run_results.test_probabilities("r2", lambda: other, images)
    np.testing.assert_allclose(again, predict_proba(other, images), atol=1e-6)


def test_replacing_the_model_file_in_place_invalidates(store_home: Path, tiny_model: keras.Model, images) -> None:
    store.save_run(tiny_model, META, run_id="r3")
    run_results.test_probabilities("r3", lambda: tiny_model, images)
    path = store.model_file("r3")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache.load("r3", run_results.PROBABILITIES) is None


def test_deleting_a_run_removes_what_was_kept(store_home: Path, tiny_model: keras.Model, images) -> None:
    store.save_run(tiny_model, META, run_id="r4")
    run_results.test_probabilities("r4", lambda: tiny_model, images)
    assert cache.folder("r4").is_dir()
    store.delete_run("r4", actor=people.LOCAL)
    assert not cache.folder("r4").exists()


def test_a_torn_cache_file_is_recomputed(store_home: Path, tiny_model: keras.Model, images) -> None:
    store.save_run(tiny_model, META, run_id="r5")
    run_results.test_probabilities("r5", lambda: tiny_model, images)
    path = store_home / paths.CACHE_FOLDER / "r5" / f"{run_results.PROBABILITIES}.npz"
    path.write_bytes(path.read_bytes()[:100])
    assert cache.load("r5", run_results.PROBABILITIES) is None
    again = run_results.test_probabilities("r5", lambda: tiny_model, images)
    assert again.shape == (len(images), 10)
    assert cache.load("r5", run_results.PROBABILITIES) is not None  # written again whole


def test_a_folder_that_cannot_be_written_still_gives_the_result(
    store_home: Path, tiny_model: keras.Model, images, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save_run(tiny_model, META, run_id="r6")
    (store_home / paths.CACHE_FOLDER).write_text("not a folder")  # mkdir below it fails, as on a read-only disk
    probs = run_results.test_probabilities("r6", lambda: tiny_model, images)
    assert probs.shape == (len(images), 10)
    assert cache.load("r6", run_results.PROBABILITIES) is None


def test_channel_maxima_and_embeddings_round_trip(store_home: Path, tiny_model: keras.Model, images) -> None:
    store.save_run(tiny_model, META, run_id="r7")
    direct = activations.channel_maxima(tiny_model, images, "conv2d_1")
    first = run_results.channel_maxima("r7", lambda: tiny_model, images, "conv2d_1")
    kept = run_results.channel_maxima("r7", _never, images, "conv2d_1")
    for found in (first, kept):
        assert (found.layer, found.map_shape) == (direct.layer, direct.map_shape)
        np.testing.assert_allclose(found.maxima, direct.maxima, rtol=1e-6)
        np.testing.assert_array_equal(found.rows, direct.rows)
        np.testing.assert_array_equal(found.cols, direct.cols)
    assert [e.index for e in activations.top_exemplars(kept, 5)] == [
        e.index for e in activations.top_exemplars(direct, 5)
    ]

    # The pass that computed conv2d_1 kept every layer with feature maps: the next Layer change pays nothing.
    for layer in activations.spatial_layers(tiny_model):
        other = run_results.channel_maxima("r7", _never, images, layer)
        alone = activations.channel_maxima(tiny_model, images, layer)
        np.testing.assert_allclose(other.maxima, alone.maxima, rtol=1e-6)
        np.testing.assert_array_equal(other.rows, alone.rows)
        assert other.map_shape == alone.map_shape
    with pytest.raises(ValueError, match="has no feature maps"):
        run_results.channel_maxima("r7", lambda: tiny_model, images, "dense")

    points = embedding.embed(tiny_model, images, embedding.PCA).points
    run_results.embedding("r7", lambda: tiny_model, images, embedding.PCA)
    kept_map = run_results.embedding("r7", _never, images, embedding.PCA)
    assert (kept_map.method, kept_map.layer) == (embedding.PCA, embedding.feature_layer(tiny_model))
    np.testing.assert_allclose(kept_map.points, points, rtol=1e-5, atol=1e-5)
    assert kept_map.seconds >= 0


def test_shipped_runs_keep_their_results_in_the_home_folder(store_home: Path, images) -> None:
    calls: list[int] = []
    shipped = store.load_model(paths.DEFAULT_RUN_ID)

    def model() -> keras.Model:
        calls.append(1)
        return shipped

    run_results.test_probabilities(paths.DEFAULT_RUN_ID, model, images)
    run_results.test_probabilities(paths.DEFAULT_RUN_ID, model, images)
    assert calls == [1] and (store_home / paths.CACHE_FOLDER / paths.DEFAULT_RUN_ID).is_dir()
