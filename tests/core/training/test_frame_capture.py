"""Watch it learn, core: frames reach the job's snapshot at each epoch end of a real tiny training and are the
model's own; they are kept beside the saved run (atomically), loaded safely, deleted with the run."""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.analysis.activations import layer_outputs
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import frames, paths, store
from fmnist_core.runs.frames import Frames
from fmnist_core.training import keras_callback
from fmnist_core.training.events import Setup
from fmnist_core.training.frame_capture import capture_function, make_frame, quantise, sample_indices
from fmnist_core.training.jobs import TrainingJob
from helpers import REAL_DATA_DIR, requires_real_data

TIMEOUT = 240


def test_sample_indices_are_the_first_image_of_each_class(test_set) -> None:
    samples = sample_indices(test_set)
    assert len(samples) == 10
    assert [int(test_set.labels[i]) for i in samples] == list(range(10))
    for c, i in enumerate(samples):
        assert not (test_set.labels[:i] == c).any()
    assert samples[9] == 0  # the notebook's image 0 is the first ankle boot


def test_quantise_keeps_each_channel_to_1_255_of_its_range() -> None:
    maps = np.random.default_rng(0).normal(size=(3, 5, 5, 4)).astype(np.float32)
    maps[1, :, :, 2] = 7.0  # a flat channel
    frame = make_frame(1, np.zeros((3, 3, 1, 4), np.float32), maps)
    q, lo, hi = quantise(maps)
    assert q.dtype == np.uint8 and lo.shape == (3, 4) and q.min() == 0 and q.max() == 255
    for s in range(3):
        back = frame.feature_maps(s)
        step = (hi[s] - lo[s]) / 255
        assert np.all(np.abs(back - maps[s]) <= step / 2 + 1e-6)
    np.testing.assert_array_equal(frame.feature_maps(1)[:, :, 2], 7.0)
    assert not frame.maps.flags.writeable and not frame.kernels.flags.writeable


def _custom_model():
    import keras

    # The first Conv2D is not the first layer and is not called "conv2d": it is found by its type.
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Reshape((28, 28, 1), name="same_shape"),
            keras.layers.Conv2D(4, 5, padding="same", activation="relu", name="edges"),
            keras.layers.Conv2D(2, 3, name="second"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def test_live_callback_sends_a_frame_at_each_epoch_end_and_snapshots_share_it(test_set) -> None:
    import keras

    model = _custom_model()
    samples = sample_indices(test_set)
    images = fashion_mnist.scale(test_set.images[list(samples)])
    job = TrainingJob(TrainConfig(preset="notebook", epochs=2, limit=64), actor=people.LOCAL)
    job._apply(Setup(batches_per_epoch=2, train_images=64, batch_size=32, precision="float32", precision_note=""))
    callback = keras_callback.live_callback(job._apply, threading.Event(), 2, samples, images)
    callback.set_model(model)
    kernels = []
    for epoch in range(2):
        callback.on_epoch_begin(epoch)
        model.get_layer("edges").kernel.assign(np.full((5, 5, 1, 4), epoch + 1.0, np.float32))
        kernels.append(model.get_layer("edges").get_weights()[0][:, :, 0, :])
        callback.on_train_batch_end(1, {"loss": 1.0, "accuracy": 0.5})
        assert job.snapshot().frames is None or len(job.snapshot().frames.epochs) == epoch
        callback.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5})
        frames = job.snapshot().frames
        assert [f.epoch for f in frames.epochs] == list(range(1, epoch + 2))
    first, again = job.snapshot(), job.snapshot()
    assert first.frames is again.frames  # shared, not copied, on every poll
    assert first.frames.layer == "edges" and first.frames.samples == samples
    for frame, kernel in zip(first.frames.epochs, kernels, strict=True):
        np.testing.assert_array_equal(frame.kernels, kernel)
        assert frame.maps.shape == (10, 28, 28, 4) and frame.maps.dtype == np.uint8
    expected = keras.Model(model.inputs[0], model.get_layer("edges").output)(images).numpy()
    last = first.frames.epochs[-1]
    step = (last.hi - last.lo) / 255
    for s in range(10):
        assert np.all(np.abs(last.feature_maps(s) - expected[s]) <= step[s] / 2 + 1e-5)


def test_a_network_without_conv_sends_no_frames() -> None:
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    assert capture_function(model, np.zeros((2, 28, 28, 1), np.float32)) is None
    job = TrainingJob(TrainConfig(preset="notebook", epochs=1), actor=people.LOCAL)
    callback = keras_callback.live_callback(
        job._apply, threading.Event(), 1, (0, 1), np.zeros((2, 28, 28, 1), np.float32)
    )
    callback.set_model(model)
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    assert job.snapshot().frames is None and len(job.snapshot().history) == 1


# --- a real tiny training ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """The seed preset (float32), 600 images, 2 epochs; snapshots polled while it trains."""
    home = tmp_path_factory.mktemp("watch")
    job = TrainingJob(
        TrainConfig(preset="notebook", epochs=2, limit=600, seed=5, evaluate_each_epoch=False),
        home=home,
        data_dir=str(REAL_DATA_DIR),
        run_id="watched",
        actor=people.LOCAL,
    ).start()
    seen: list[tuple[int, int]] = []  # (epochs in history, frames) as the page would have seen them
    while not job.wait(0.05):
        snap = job.snapshot()
        seen.append((len(snap.history), len(snap.frames.epochs) if snap.frames else 0))
    snap = job.snapshot()
    assert snap.state == "done" and snap.run_id == "watched", snap.error
    return snap, home, seen


@pytest.mark.slow
@requires_real_data
def test_frames_reach_the_snapshot_at_each_epoch_end_and_are_the_models_own(trained, test_set) -> None:
    snap, home, seen = trained
    frames = snap.frames
    assert frames.layer == "conv2d" and frames.samples == sample_indices(test_set)
    assert [f.epoch for f in frames.epochs] == [1, 2]
    # Each epoch's frame follows its EpochEnd: never ahead of the history, at most one behind (the next event).
    assert all(h - 1 <= f <= h for h, f in seen), seen
    assert (1, 1) in seen or (2, 1) in seen, "no snapshot showed the first epoch's frame while training"
    first, last = frames.epochs
    assert not first.maps.flags.writeable and not last.kernels.flags.writeable  # shared by every snapshot
    assert first.kernels.shape == (3, 3, 64) and first.maps.shape == (10, 26, 26, 64)
    assert np.abs(last.kernels - first.kernels).max() > 1e-3  # the kernels moved between the epochs

    model = store.load_model("watched", home)  # the saved model's weights are the last epoch's
    np.testing.assert_allclose(last.kernels, model.get_layer("conv2d").get_weights()[0][:, :, 0, :], atol=1e-7)
    step = (last.hi - last.lo) / 255
    for s, index in enumerate(frames.samples):
        maps = layer_outputs(model, test_set.images[index])["conv2d"]
        assert np.all(np.abs(last.feature_maps(s) - maps) <= step[s] / 2 + 1e-5)


@requires_real_data
def test_the_sidecar_is_saved_listed_loaded_and_deleted_with_the_run(trained, tmp_path: Path) -> None:
    import shutil

    snap, home, _ = trained
    info = store.get_run("watched", home)
    assert info.has_frames and [r.has_frames for r in store.list_runs(home, include_shipped=False)] == [True]
    path = paths.frames_file("watched", home)
    assert path == home / "watched.frames.npz"
    size = path.stat().st_size
    assert 0 < size < 600_000, size  # 2 epochs of 10 images' 26x26x64 maps in uint8, compressed: about 440 KB
    loaded = frames.load_frames("watched", home)
    assert loaded.layer == "conv2d" and loaded.samples == snap.frames.samples
    for mine, theirs in zip(loaded.epochs, snap.frames.epochs, strict=True):
        assert mine.epoch == theirs.epoch
        for name in ("kernels", "maps", "lo", "hi"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name))
            assert not getattr(mine, name).flags.writeable

    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in (".keras", ".json", ".frames.npz"):
        shutil.copy2(home / f"watched{suffix}", copy)
    store.delete_run("watched", copy, actor=people.LOCAL)
    assert [p.name for p in copy.iterdir()] == [paths.SHARED_FOLDER]  # only the record of who deleted it


def _frames(epochs: int = 2) -> Frames:
    rng = np.random.default_rng(1)
    frames = Frames("conv2d", (0, 1, 2))
    for e in range(1, epochs + 1):
        frames = frames.with_frame(make_frame(e, rng.normal(size=(3, 3, 1, 8)), rng.normal(size=(3, 26, 26, 8))))
    return frames


def test_the_sidecar_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fmnist_core.nets.keras_models import build_notebook_cnn

    model = build_notebook_cnn(seed=1)
    real_replace = os.replace

    def fail_on_frames(src, dst) -> None:
        if str(dst).endswith(paths.FRAMES_SUFFIX):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_frames)
    with pytest.raises(store.StoreError, match="disk holding .* is full"):
        store.save_run(model, {"preset": "notebook"}, run_id="full", home=tmp_path, frames=_frames())
    # The JSON comes last, so the run is not listed, and no half-written sidecar or temporary file is left.
    assert store.list_runs(tmp_path, include_shipped=False) == []
    assert not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".*.tmp*.npz"))

    monkeypatch.setattr(os, "replace", real_replace)
    store.save_run(model, {"preset": "notebook"}, run_id="ok", home=tmp_path, frames=_frames(3))
    assert [f.epoch for f in frames.load_frames("ok", tmp_path).epochs] == [1, 2, 3]
    store.save_run(model, {"preset": "notebook"}, run_id="bare", home=tmp_path)  # no frames: no sidecar
    assert not store.get_run("bare", tmp_path).has_frames
    with pytest.raises(store.StoreError, match="run bare has no replay"):
        frames.load_frames("bare", tmp_path)


def _damage(path: Path, how: str) -> None:
    if how == "garbage":
        path.write_bytes(b"not a zip at all" * 20)
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "pickled":  # an object array needs pickle, which loading refuses
        with open(path, "wb") as fh:
            np.savez(fh, version=np.array(1), layer=np.array([{"x": 1}], dtype=object))
    elif how == "mismatched":
        arrays = dict(np.load(path))
        arrays["lo"] = arrays["lo"][:, :1]
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    elif how == "bomb":  # 300 MB of zeros that compress to a few hundred KB
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("maps.npy", b"\0" * (300 * 1024 * 1024))
    elif how == "missing_key":
        arrays = dict(np.load(path))
        del arrays["maps"]
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)


@pytest.mark.parametrize("how", ["garbage", "truncated", "empty", "pickled", "mismatched", "missing_key", "bomb"])
def test_a_damaged_sidecar_is_one_sentence(tmp_path: Path, how: str) -> None:
    from fmnist_core.nets.keras_models import build_notebook_cnn

    store.save_run(build_notebook_cnn(seed=1), {"preset": "notebook"}, run_id="r", home=tmp_path, frames=_frames())
    _damage(paths.frames_file("r", tmp_path), how)
    assert store.get_run("r", tmp_path).usable  # the run itself still works
    with pytest.raises(store.StoreError, match=r"^the replay of run r is damaged, so it cannot be shown \(.+\)$"):
        frames.load_frames("r", tmp_path)


def test_shipped_models_have_no_replay() -> None:
    info = store.get_run(paths.DEFAULT_RUN_ID)
    assert info.shipped and not info.has_frames
    with pytest.raises(store.StoreError, match="shipped models were trained before"):
        frames.load_frames(paths.DEFAULT_RUN_ID)


CUSTOM = {"conv": [{"filters": 6, "kernel": 5, "padding": "same", "batch_norm": True, "pool": "avg"}], "dense": [16]}


@requires_real_data
@pytest.mark.slow
@pytest.mark.parametrize(
    ("changes", "shape"),
    [
        ({"preset": "fast"}, (10, 26, 26, 64)),  # mixed bfloat16: the maps are computed in bfloat16
        ({"preset": "improved"}, (10, 28, 28, 32)),
        ({"preset": "custom", "arch": CUSTOM}, (10, 28, 28, 6)),  # batch norm after it, 5x5 kernels
    ],
    ids=["fast", "improved", "custom"],
)
def test_every_kind_of_network_sends_frames(tmp_path: Path, test_set, changes: dict, shape: tuple) -> None:
    config = TrainConfig(**{"epochs": 1, "limit": 300, "seed": 2, "evaluate_each_epoch": False, **changes})
    job = TrainingJob(config, home=tmp_path, data_dir=str(REAL_DATA_DIR), run_id="r", actor=people.LOCAL).start()
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    frame = snap.frames.epochs[0]
    assert snap.frames.layer == "conv2d" and frame.maps.shape == shape
    model = store.load_model("r", tmp_path)
    np.testing.assert_allclose(frame.kernels, model.get_layer("conv2d").get_weights()[0][:, :, 0, :], atol=1e-7)
    # The worker's maps come from the training model (bfloat16 for fast); the saved one is float32.
    maps = layer_outputs(model, test_set.images[snap.frames.samples[0]])["conv2d"]
    span = (frame.hi[0] - frame.lo[0]).max()
    assert np.abs(frame.feature_maps(0) - maps).max() <= 0.02 * span
    assert store.get_run("r", tmp_path).has_frames
