"""fmnist_core.training.jobs (with presets, progress and worker): settings, the live state, tiny real trainings in
worker processes, determinism, stop, failure, queue, save retry. Faults (killed workers) are in test_worker.py."""

from __future__ import annotations

import json
import math
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import FrozenInstanceError, asdict, replace
from pathlib import Path

import numpy as np
import pytest

import helpers
from fmnist_core import people
from fmnist_core.analysis import activations, embedding, run_results
from fmnist_core.data import fashion_mnist
from fmnist_core.nets import presets
from fmnist_core.nets.inference import evaluate, mirror_averaged_accuracy
from fmnist_core.nets.presets import ConfigError, TrainConfig
from fmnist_core.runs import cache, store
from fmnist_core.training import events, jobs, keras_callback, pipeline, queue_times
from fmnist_core.training.events import (
    PHASE_BUILD,
    PHASE_DATA,
    PHASE_EVALUATING,
    PHASE_STARTING,
    PHASE_TENSORFLOW,
    BatchEnd,
    Ended,
    EpochBegin,
    EpochEnd,
    Evaluated,
    Failed,
    FitEnd,
    Phase,
    Setup,
    Started,
)
from fmnist_core.training.jobs import TrainingJob
from fmnist_core.training.live_state import LiveState, Snapshot, clock, progress_text
from helpers import HAS_REAL_DATA, REAL_DATA_DIR

needs_data = pytest.mark.skipif(not HAS_REAL_DATA, reason=f"real Fashion-MNIST not found in {REAL_DATA_DIR}")
TIMEOUT = 300


def run_to_end(job: TrainingJob) -> Snapshot:
    job.start()
    assert job.wait(TIMEOUT), f"training did not end: {job.snapshot().phase}"
    return job.snapshot()


def poll(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    helpers.poll(condition, what, timeout)


def tiny(preset: str = "notebook", **changes) -> TrainConfig:
    return TrainConfig(**{"preset": preset, "epochs": 1, "limit": 512, "seed": 42, **changes})


def weights_of(run_id: str, home: Path) -> list[np.ndarray]:
    return store.load_model(run_id, home=home).get_weights()


# --- settings ---------------------------------------------------------------------------------------


def test_presets_fill_their_defaults() -> None:
    seed = TrainConfig(preset="notebook").resolved()
    assert (seed.epochs, seed.batch_size, seed.learning_rate) == (5, 32, 1e-3)
    assert presets.PRESETS["notebook"].input_dtype == "float64"  # the notebook's recipe, exactly
    fast, preset = TrainConfig(preset="fast").resolved(), presets.PRESETS["fast"]  # tuned: follow the preset
    assert (fast.epochs, fast.batch_size, fast.learning_rate) == (
        preset.epochs,
        preset.batch_size,
        preset.learning_rate,
    )
    assert TrainConfig().resolved().preset == presets.DEFAULT_PRESET == "fast"
    mine = TrainConfig(preset="notebook", epochs=np.int64(2), batch_size=64, learning_rate=1, limit=60_000).resolved()
    assert (mine.epochs, mine.batch_size, mine.learning_rate, mine.limit) == (2, 64, 1, 60_000)
    assert TrainConfig(preset="notebook").epochs is None  # resolved() returns a copy


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": -1}, "epochs"),
        ({"epochs": "x"}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"epochs": 201}, "epochs"),
        ({"batch_size": 0}, "batch size"),
        ({"batch_size": 4097}, "batch size"),
        ({"learning_rate": 0}, "learning rate"),
        ({"learning_rate": 2}, "learning rate"),
        ({"learning_rate": -0.1}, "learning rate"),
        ({"learning_rate": float("nan")}, "learning rate"),
        ({"learning_rate": "0.01"}, "learning rate"),
        ({"preset": "turbo"}, "unknown preset 'turbo'"),
        ({"limit": 0}, "training images"),
        ({"limit": 60_001}, "training images"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_config_errors(changes: dict, names: str) -> None:
    config = TrainConfig(**changes)
    with pytest.raises(ConfigError, match=names):
        config.resolved()
    with pytest.raises(ConfigError):
        TrainingJob(config, actor=people.LOCAL)
    assert issubclass(ConfigError, ValueError)


def test_job_rejects_a_bad_run_id_or_executor() -> None:
    with pytest.raises(store.StoreError, match="invalid run id"):
        TrainingJob(tiny(), run_id="../escape", actor=people.LOCAL)
    with pytest.raises(ConfigError, match="unknown executor 'slurm'; choose 'local-process' or 'ray'"):
        TrainingJob(tiny(), executor="slurm", actor=people.LOCAL)


def test_a_job_not_started_yet() -> None:
    job = TrainingJob(tiny(), actor=people.LOCAL)
    assert job.wait(0.01) is False and not job.finished
    snap = job.snapshot()
    assert (snap.state, snap.progress, snap.eta, snap.queue_position) == ("queued", 0.0, None, None)
    assert snap.config.limit == 512 and snap.preset == "notebook" and snap.executor == "local-process"
    json.dumps(asdict(snap))


def test_snapshot_is_a_frozen_copy_and_final_states_stick() -> None:
    job = TrainingJob(tiny(), actor=people.LOCAL)
    job._apply(Setup(batches_per_epoch=16, train_images=512, batch_size=32, precision="float32", precision_note=""))
    job._apply(EpochBegin(1))
    assert job.snapshot().phase == "preparing the first batch"  # TensorFlow traces the step: the page says so
    job._apply(BatchEnd(done_in_epoch=4, loss=0.5, accuracy=0.25, seconds=0.2))
    snap = job.snapshot()
    assert snap.phase == "training"
    assert (snap.epoch, snap.batch, snap.samples_seen, snap.progress) == (1, 4, 128, 0.25)
    assert snap.samples_per_second == pytest.approx(640.0) and snap.batch == 4
    with pytest.raises(FrozenInstanceError):
        snap.state = "done"  # type: ignore[misc]
    snap.batch_trace.append({"step": 99})
    assert job.snapshot().batch_trace == [{"step": 4, "epoch": 1, "loss": 0.5, "accuracy": 0.25}]

    job._apply(Ended(stopped=True))
    job._apply(Failed("late news"))  # a worker dying after it reported the end does not undo the end
    snap = job.snapshot()
    assert (snap.state, snap.phase, snap.error, snap.progress) == ("stopped", "ended", None, 0.25)


def test_progress_names_the_phase_and_shows_no_eta_before_a_measured_rate() -> None:
    # The issue: "batch 0/0" for 36 s, then a frozen "batch 0/47" for 18 s while the ETA rose.
    config = TrainConfig(preset="fast", epochs=2, limit=6_000).resolved()
    state = LiveState(epochs=2, executor="local-process", state="running", phase=PHASE_STARTING, started=0.0)

    def at(now: float) -> Snapshot:
        return state.snapshot(config, now, None)

    assert progress_text(at(1)) == "Starting Python · elapsed 0:01"
    state.apply(Started(executor="local-process", node="here", pid=1), 1.0)
    state.apply(Phase(PHASE_TENSORFLOW), 1.0)
    assert progress_text(at(37)) == "Loading TensorFlow · elapsed 0:37"
    state.apply(Phase(PHASE_DATA), 37.0)
    assert progress_text(at(38)) == "Loading data · elapsed 0:38"
    state.apply(Phase(PHASE_BUILD), 39.0)
    state.apply(Setup(batches_per_epoch=47, train_images=6_000, batch_size=128, precision="f", precision_note=""), 41)
    state.apply(EpochBegin(1), 41.0)
    for now in (45, 59):  # TensorFlow traces the step: no rate yet, so no ETA (and none that rises)
        assert progress_text(at(now)) == f"Preparing the first batch · elapsed {clock(now)}"
        assert at(now).eta is None
    state.apply(BatchEnd(done_in_epoch=8, loss=1.0, accuracy=0.5, seconds=18.0), 59.0)  # the tracing's report
    assert at(60).eta is None and progress_text(at(60)) == "Epoch 1/2 · batch 8/47 · training · elapsed 1:00"
    state.apply(BatchEnd(done_in_epoch=16, loss=1.0, accuracy=0.5, seconds=2.048), 61.0)  # 2 ms per image
    # 78 batches left at 0.256 s, and 3 test evaluations of 10,000 images (after each epoch, and the final one
    # of the saved network) at a third of a step each.
    expected = 78 * 0.256 + 3 * 0.256 / 128 * 10_000 / 3
    assert at(61).eta == pytest.approx(expected)
    assert progress_text(at(61)) == f"Epoch 1/2 · batch 16/47 · training · elapsed 1:01 · ETA {clock(expected)}"
    assert at(66).eta == pytest.approx(expected - 5)  # between reports it counts down
    assert at(61 + 60).eta == 0.0
    # After an epoch its measured evaluation replaces the guess.
    for done in (24, 32, 40, 47):
        state.apply(BatchEnd(done_in_epoch=done, loss=1.0, accuracy=0.5, seconds=2.048), 70.0)
    state.apply(EpochEnd(1, 1.0, 0.5, 0.4, 0.8, seconds=18 + 5 * 2.048 + 9.0, elapsed=40.0), 80.0)
    assert state.history[0].train_seconds == pytest.approx(18 + 5 * 2.048)
    assert at(80).eta == pytest.approx(47 * (5 * 2.048 / 39) + 2 * 9.0)  # 39 steady batches in 5 reports


def test_an_epochs_end_stays_evaluating_and_the_eta_counts_the_evaluations() -> None:
    # The issue: at batch 16/16 the phase went evaluating -> training -> evaluating, and the ETA reached 0:00
    # while the final test evaluation still ran for seconds with no time shown.
    config = TrainConfig(preset="notebook", epochs=2, limit=512).resolved()
    state = LiveState(epochs=2, executor="local-process", state="running", phase=PHASE_STARTING, started=0.0)
    phases: list[str] = []

    def feed(event: events.Event, now: float) -> None:
        state.apply(event, now)
        if not phases or phases[-1] != state.phase:
            phases.append(state.phase)

    def at(now: float) -> Snapshot:
        return state.snapshot(config, now, None)

    feed(Setup(batches_per_epoch=16, train_images=512, batch_size=32, precision="f", precision_note=""), 0.0)
    feed(EpochBegin(1), 0.0)
    feed(BatchEnd(done_in_epoch=8, loss=1.0, accuracy=0.5, seconds=5.0), 5.0)  # tracing the step
    feed(BatchEnd(done_in_epoch=16, loss=1.0, accuracy=0.5, seconds=1.0), 6.0)  # 0.125 s per batch
    feed(Phase(PHASE_EVALUATING), 6.0)
    feed(EpochEnd(1, 1.0, 0.5, 0.9, 0.6, seconds=9.0, elapsed=9.0), 9.0)  # its test evaluation took 3 s
    assert at(9.0).phase == PHASE_EVALUATING  # not back to training between the evaluation and the next epoch
    feed(EpochBegin(2), 9.0)
    feed(BatchEnd(done_in_epoch=8, loss=1.0, accuracy=0.5, seconds=1.0), 10.0)
    feed(BatchEnd(done_in_epoch=16, loss=1.0, accuracy=0.5, seconds=1.0), 11.0)
    # Nothing left to train: this epoch's evaluation and the final one of the saved network, 3 s each.
    assert at(11.0).eta == pytest.approx(6.0)
    feed(Phase(PHASE_EVALUATING), 11.0)
    feed(BatchEnd(done_in_epoch=16, loss=1.0, accuracy=0.5, seconds=0.0), 11.5)  # a late report changes nothing
    assert at(12.0).phase == PHASE_EVALUATING and at(12.0).eta == pytest.approx(5.0)
    feed(EpochEnd(2, 1.0, 0.5, 0.8, 0.7, seconds=5.0, elapsed=14.0), 14.0)
    feed(FitEnd(fit_seconds=14.2, stopped=False), 14.2)
    snap = at(15.0)
    assert snap.phase == PHASE_EVALUATING and snap.eta == pytest.approx(2.0) and snap.phase_seconds == 4.0
    assert progress_text(snap) == (
        "Epoch 2/2 · batch 16/16 · evaluating on the 10,000 test images, 0:04 so far · elapsed 0:15 · ETA 0:02"
    )
    # Slower than measured: no frozen "ETA 0:00", the evaluation's own time goes on counting.
    assert progress_text(at(18.0)) == (
        "Epoch 2/2 · batch 16/16 · evaluating on the 10,000 test images, 0:07 so far · elapsed 0:18"
    )
    feed(Evaluated(test_loss=0.8, test_accuracy=0.7), 18.5)
    assert at(19.0).eta is None  # the result is known; saving is quick
    assert phases == [
        "preparing the first batch",
        "training",
        PHASE_EVALUATING,
        "training",
        PHASE_EVALUATING,
        "saving",
    ]


def test_training_slots_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, capacity in (("3", 3), ("0", 1), ("many", 2)):
        monkeypatch.setenv("FMNIST_MAX_TRAININGS", value)
        assert jobs.SLOTS.capacity() == capacity
    monkeypatch.delenv("FMNIST_MAX_TRAININGS")
    assert jobs.SLOTS.capacity() == 2


# --- the live callback, fed by hand -------------------------------------------------------------------


def test_live_callback_counts_samples_thins_the_trace_and_times_the_target() -> None:
    job = TrainingJob(TrainConfig(preset="notebook", epochs=2, batch_size=128, limit=10_000), actor=people.LOCAL)
    job._apply(Setup(batches_per_epoch=79, train_images=10_000, batch_size=128, precision="float32", precision_note=""))
    callback = keras_callback.live_callback(job._apply, threading.Event(), batches_per_epoch=79)
    for epoch in range(2):
        callback.on_epoch_begin(epoch)
        for batch in range(79):
            callback.on_train_batch_end(batch, {"loss": np.float32(1.0 / (batch + 1)), "accuracy": 0.5})
        callback.on_test_begin()  # fit's validation of the test set
        assert job.snapshot().phase == "evaluating on the 10,000 test images"
        val = 0.9 if epoch == 0 else 0.95
        callback.on_epoch_end(epoch, {"loss": 0.4, "accuracy": 0.8, "val_loss": 0.3, "val_accuracy": val})
    snap = job.snapshot()
    assert snap.samples_seen == 20_000  # the last batch of each epoch holds 10,000 - 78 * 128 = 16 images
    assert (snap.epoch, snap.batch) == (2, 79)
    trace = snap.batch_trace
    assert [p["step"] for p in trace] == list(range(1, 159))
    assert trace[0] == {"step": 1, "epoch": 1, "loss": 1.0, "accuracy": 0.5}
    assert all(type(p["loss"]) is float for p in trace)
    rows = snap.history
    assert [(r.epoch, r.test_accuracy, r.complete, r.batches) for r in rows] == [
        (1, 0.9, True, 79),
        (2, 0.95, True, 79),
    ]
    assert snap.seconds_to_target == rows[1].elapsed  # 0.9 < 0.9137 <= 0.95
    json.dumps(asdict(snap))

    # A long run keeps at most MAX_BATCH_POINTS points, evenly spaced, ending near the latest step.
    job2 = TrainingJob(TrainConfig(preset="notebook", epochs=1), actor=people.LOCAL)
    job2._apply(
        Setup(batches_per_epoch=1875, train_images=60_000, batch_size=32, precision="float32", precision_note="")
    )
    cb2 = keras_callback.live_callback(job2._apply, threading.Event(), batches_per_epoch=1875)
    cb2.on_epoch_begin(0)
    for batch in range(1875):
        cb2.on_train_batch_end(batch, {"loss": 1.0, "accuracy": 0.5})
    steps = [p["step"] for p in job2.snapshot().batch_trace]
    assert len(steps) < events.MAX_BATCH_POINTS
    stride = steps[1] - steps[0]
    assert stride == 8 and steps == list(range(stride, 1876, stride))


def test_a_short_training_draws_its_running_loss() -> None:
    # The issue: 1,000 images for 1 epoch gave an empty "Running loss per batch". The fast preset runs 8 batches per
    # call, Keras reports once per call, and the 8-batch fit made one point: a line needs two.
    fast = presets.PRESETS["fast"]
    batches = -(-1000 // fast.batch_size)
    chunk = presets.steps_per_execution(fast, batches)
    job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=1000), actor=people.LOCAL)
    job._apply(Setup(batches, train_images=1000, batch_size=fast.batch_size, precision="f", precision_note=""))
    callback = keras_callback.live_callback(job._apply, threading.Event(), batches_per_epoch=batches)
    callback.on_epoch_begin(0)
    for end in range(chunk - 1, batches + chunk - 1, chunk):  # Keras reports the last batch of each call
        callback.on_train_batch_end(end, {"loss": 2.0 / (end + 1), "accuracy": 0.5})
    trace = job.snapshot().batch_trace
    assert [point["step"] for point in trace] == list(range(1, 9))  # a curve of 8 points
    # A full training keeps the preset's 8 batches per call (its speed) and still reports hundreds of times.
    assert presets.steps_per_execution(fast, 469 * 10) == fast.steps_per_execution == 8
    assert presets.steps_per_execution(fast, 47) == 5  # 6,000 images for 1 epoch: 10 reports, not 6


# --- real (tiny) trainings ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[dict, Path]]:
    """Train each preset once (512 images, 1 epoch, seed 42) and share the result in this module."""
    done: dict[str, tuple[dict, Path]] = {}

    def get(preset: str) -> tuple[dict, Path]:
        if preset not in done:
            home = tmp_path_factory.mktemp(f"tiny-{preset}")
            with helpers.preparing_runs():  # test_tiny_job_trains_evaluates_and_saves reads what it prepared
                job = TrainingJob(tiny(preset), home=home, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL)
                done[preset] = (run_to_end(job), home)
        return done[preset]

    return get


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize(("preset", "batch_size"), [("notebook", 32), ("fast", 128), ("speedrun", 256)])
def test_tiny_job_trains_evaluates_and_saves(tiny_runs, preset: str, batch_size: int) -> None:
    snap, home = tiny_runs(preset)
    assert (snap.state, snap.error, snap.save_error, snap.phase) == ("done", None, None, "ended")
    bpe = math.ceil(512 / batch_size)
    assert (snap.epoch, snap.batches_per_epoch) == (1, bpe)
    assert snap.train_images == 512 and snap.samples_seen == 512
    assert snap.progress == 1.0 and snap.eta is None and snap.queue_position is None
    assert snap.samples_per_second > 0 and snap.fit_seconds > 0
    expect_bf16 = preset != "notebook" and presets.bfloat16_supported()[0]
    assert snap.precision == ("mixed_bfloat16" if expect_bf16 else "float32")

    (row,) = snap.history
    assert (row.epoch, row.complete) == (1, True)
    assert math.isfinite(row.loss) and 0 < row.accuracy <= 1
    if preset == "speedrun":
        # Two steps: batch norm's running statistics (what the test evaluation uses) have moved 2% of the way, so
        # the test accuracy is near chance; the training batches show it learned.
        assert 0.15 < row.accuracy and 0 < row.test_accuracy <= 1
    else:
        assert 0.2 < row.test_accuracy <= 1  # chance is 0.1
    assert row.test_accuracy == pytest.approx(snap.test_accuracy, abs=1e-2 if expect_bf16 else 1e-3)
    steps = [p["step"] for p in snap.batch_trace]
    assert steps and steps == sorted(set(steps)) and steps[0] >= 1
    # Plain values, except the frames of "watch it learn" (read-only numpy arrays, tests/core/training/test_frame_capture.py).
    assert [f.epoch for f in snap.frames.epochs] == [1]
    json.dumps(asdict(replace(snap, frames=None)))
    assert snap.executor == "local-process" and snap.node == socket.gethostname()
    assert snap.worker_pid not in (None, os.getpid())  # the fit ran in a worker process

    info = store.get_run(snap.run_id, home=home)
    assert info.status == "finished" and info.preset == preset
    assert info.test_accuracy == snap.test_accuracy and info.test_loss == snap.test_loss
    meta = info.metadata
    assert meta.history == snap.history and meta.train_images == 512
    assert meta.settings.limit == 512 and meta.settings.seed == 42
    assert meta.unknown_fields() == []  # the worker writes only fields this version knows
    assert meta.data_fingerprint == fashion_mnist.fingerprint(REAL_DATA_DIR)
    assert set(meta.versions) == {"python", "tensorflow", "keras", "numpy", "fmnist_core"}
    assert (meta.executor, meta.node) == ("local-process", socket.gethostname())
    # What the time estimate learns from: each part of the training, and launch to result.
    t = meta.timings
    parts = ("start_seconds", "tensorflow_seconds", "data_seconds", "build_seconds", "final_evaluation_seconds")
    assert all(t[key] > 0 for key in (*parts, "first_batch_seconds", "total_seconds")), t
    assert t["load_average"] >= 0  # how busy the machine was when it started
    assert t["total_seconds"] >= sum(t[key] for key in parts) + row.seconds
    assert row.train_seconds == pytest.approx(t["first_batch_seconds"] + t["steady_train_seconds"])
    assert 0 < row.train_seconds < row.seconds  # the rest of the epoch is the test evaluation
    first_report = batch_size * presets.steps_per_execution(presets.PRESETS[preset], bpe)
    assert t["steady_train_images"] == 512 - first_report  # notebook: 480 after the first batch; fast: 384

    test = fashion_mnist.load_test_set(REAL_DATA_DIR)
    fresh = evaluate(store.load_model(snap.run_id, home=home), test.images, test.labels)
    assert fresh.accuracy == pytest.approx(snap.test_accuracy, abs=1e-6)
    assert fresh.loss == pytest.approx(snap.test_loss, abs=1e-6)
    # The worker kept its final evaluation's probabilities beside the run: Test images need not predict again.
    kept = cache.load(snap.run_id, run_results.PROBABILITIES, home)
    assert kept is not None
    np.testing.assert_allclose(kept["probabilities"], fresh.probabilities, atol=1e-5)
    # And what Feature maps and Embedding read first, computed by the worker before the run was listed.
    loaded = store.load_model(snap.run_id, home=home)
    never = lambda: pytest.fail("computed again although the worker kept it")  # noqa: E731
    for layer in activations.spatial_layers(loaded):
        maxima = run_results.channel_maxima(snap.run_id, never, test.images, layer, home)
        again = activations.channel_maxima_of_layers(loaded, test.images[:500], [layer])[layer]
        np.testing.assert_allclose(maxima.maxima[:500], again.maxima, rtol=1e-4, atol=1e-4)
    pca = run_results.embedding(snap.run_id, never, test.images, embedding.PCA, home=home)
    assert pca.points.shape == (len(test), 2)
    # Only speedrun also measures itself with mirror images, and its fused batch norm is saved as Keras' own.
    if preset == "speedrun":
        assert (
            meta.mirror_accuracy
            == snap.mirror_accuracy
            == pytest.approx(mirror_averaged_accuracy(loaded, test.images, test.labels), abs=1e-6)
        )
        kinds = {type(layer).__name__ for layer in loaded.layers}
        assert "BatchNormalization" in kinds and "FusedBatchNormalization" not in kinds
    else:
        assert meta.mirror_accuracy is None and snap.mirror_accuracy is None


BATCH_BUG = (
    "BUG: with steps_per_execution > 1 Keras passes the chunk's unclipped end step to on_train_batch_end, "
    "so _LiveCallback reports more batches than the epoch has"
)


@needs_data
@pytest.mark.parametrize("preset", ["notebook", "fast"])
def test_tiny_job_batch_counts_stay_within_the_epoch(tiny_runs, preset: str) -> None:
    snap, _ = tiny_runs(preset)
    bpe = snap.batches_per_epoch
    spe = presets.steps_per_execution(presets.PRESETS[preset], bpe)  # the callback fires once per executed chunk
    assert snap.batch == bpe and snap.history[0].batches == bpe
    assert [p["step"] for p in snap.batch_trace] == [min(s, bpe) for s in range(spe, bpe + spe, spe)]


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`image` moved by (dy, dx) pixels with zeros shifted in: what a 2-px pad and a 28x28 window give."""
    padded = np.pad(image, 2)
    return padded[2 - dy : 30 - dy, 2 - dx : 30 - dx]


def test_augmentation_flips_and_shifts_each_image_and_follows_the_seed() -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = rng.random((64, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, 64).astype(np.int32)
    preset = presets.Preset(name="t", description="", augment=("flip", "shift"), label_smoothing=0.1)
    prepare = pipeline._batch_preparer(preset, tf.constant(images), tf.constant(labels))
    idx = tf.range(64, dtype=tf.int64)
    out, y = (np.asarray(t) for t in prepare(idx, tf.constant([3, 4], tf.int64)))
    again, _ = (np.asarray(t) for t in prepare(idx, tf.constant([3, 4], tf.int64)))
    other, _ = (np.asarray(t) for t in prepare(idx, tf.constant([5, 6], tf.int64)))
    np.testing.assert_array_equal(out, again)  # same key, same batch
    assert not np.array_equal(out, other)
    np.testing.assert_array_equal(y.argmax(axis=1), labels)  # one-hot for label smoothing, same classes
    assert y.shape == (64, 10) and y.dtype == np.float32

    flips, moves = 0, set()
    for original, seen in zip(images[..., 0], out[..., 0], strict=True):
        matches = [
            (flip, dy, dx)
            for flip in (False, True)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(seen, _shifted(original[:, ::-1] if flip else original, dy, dx))
        ]
        assert len(matches) == 1, "each output is the image, maybe mirrored, moved by at most 2 px"
        flips += matches[0][0]
        moves.add(matches[0][1:])
    assert 15 < flips < 49 and len(moves) > 10  # about half mirrored, many different shifts


def test_no_augmentation_passes_batches_through() -> None:
    import tensorflow as tf

    images = np.random.default_rng(1).random((8, 28, 28, 1)).astype(np.float32)
    labels = np.arange(8, dtype=np.int32)
    prepare = pipeline._batch_preparer(presets.PRESETS["notebook"], tf.constant(images), tf.constant(labels))
    x, y = prepare(tf.constant([5, 1], tf.int64))
    np.testing.assert_array_equal(np.asarray(x), images[[5, 1]])
    np.testing.assert_array_equal(np.asarray(y), [5, 1])


def test_live_callback_with_steps_per_execution_stays_within_the_epoch() -> None:
    job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=10_000), actor=people.LOCAL)
    job._apply(Setup(batches_per_epoch=79, train_images=10_000, batch_size=128, precision="float32", precision_note=""))
    callback = keras_callback.live_callback(job._apply, threading.Event(), batches_per_epoch=79)
    callback.on_epoch_begin(0)
    for end_step in range(7, 80, 8):  # what Keras passes with steps_per_execution=8: 7, 15, ..., 79
        callback.on_train_batch_end(end_step, {"loss": 1.0, "accuracy": 0.5})
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    snap = job.snapshot()
    assert snap.samples_seen == 10_000
    assert snap.batch == 79 and snap.history[0].batches == 79
    assert snap.batch_trace[-1]["step"] == 79


@needs_data
@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(tiny_runs, tmp_path: Path) -> None:
    first, first_home = tiny_runs("notebook")
    again = run_to_end(
        TrainingJob(tiny(evaluate_each_epoch=False), home=tmp_path, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL)
    )
    other = run_to_end(
        TrainingJob(
            tiny(seed=7, evaluate_each_epoch=False), home=tmp_path, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL
        )
    )
    assert again.test_loss == first.test_loss and again.test_accuracy == first.test_accuracy
    for a, b in zip(weights_of(first.run_id, first_home), weights_of(again.run_id, tmp_path), strict=True):
        np.testing.assert_array_equal(a, b)
    assert other.test_loss != first.test_loss
    kernels = zip(weights_of(first.run_id, first_home), weights_of(other.run_id, tmp_path), strict=True)
    assert all(not np.array_equal(a, b) for a, b in kernels)


@needs_data
def test_stop_keeps_what_was_learned_as_a_stopped_run(tmp_path: Path) -> None:
    config = TrainConfig(preset="fast", epochs=3, limit=20_000, evaluate_each_epoch=False)
    job = TrainingJob(config, home=tmp_path, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL).start()
    poll(lambda: job.snapshot().batch > 0 or job.finished, "the first batch")
    job.stop()
    assert job.snapshot().state == "stopping"
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.error is None and snap.run_id
    assert snap.epoch == 1 and 0 < snap.batch < snap.batches_per_epoch == 157
    assert snap.progress < 1.0
    assert all(not row.complete for row in snap.history)
    info = store.get_run(snap.run_id, home=tmp_path)
    assert info.status == "stopped" and info.metadata.status == "stopped"
    assert info.test_accuracy == snap.test_accuracy and 0 <= info.test_accuracy <= 1
    store.load_model(snap.run_id, home=tmp_path)


def test_a_failing_job_reports_its_error(store_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    snap = run_to_end(
        TrainingJob(tiny(), data_dir=str(empty), actor=people.LOCAL)
    )  # the worker's data.load_train_set raises
    assert snap.state == "failed" and snap.phase == "failed"
    assert snap.error.startswith("fmnist_core.data.fashion_mnist.DataError: ") and str(empty) in snap.error
    assert snap.run_id is None and not store_home.exists()
    assert jobs.SLOTS.running() == 0  # the slot was given back


@needs_data
@pytest.mark.slow
def test_queue_runs_one_at_a_time_and_a_queued_job_can_be_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FMNIST_MAX_TRAININGS", "1")
    make = lambda: TrainingJob(  # noqa: E731
        tiny("fast", limit=1024, evaluate_each_epoch=False),
        home=tmp_path,
        data_dir=str(REAL_DATA_DIR),
        actor=people.LOCAL,
    )
    first, second, third = make(), make(), make()
    first.start()
    poll(lambda: first.snapshot().state == "running", "the first job to run")
    second.start()
    poll(lambda: second.snapshot().queue_position == 1, "the second job to queue")
    third.start()
    poll(lambda: third.snapshot().queue_position == 2, "the third job to queue")
    snap = second.snapshot()
    assert (snap.state, snap.phase) == ("queued", "waiting for a training slot")

    third.stop()
    assert third.wait(10), "a cancelled queued job must end at once"
    cancelled = third.snapshot()
    assert (cancelled.state, cancelled.phase) == ("stopped", "cancelled before it started")
    assert cancelled.history == [] and cancelled.run_id is None and cancelled.batch_trace == []
    assert not first.finished  # it ended while the first was still training

    a, b = run_to_end(first), run_to_end(second)
    assert a.state == b.state == "done"
    assert a.ended <= b.fit_started  # never two at once
    assert b.queue_position is None and jobs.SLOTS.running() == 0
    assert {r.id for r in store.list_runs(tmp_path, include_shipped=False)} == {a.run_id, b.run_id}


@pytest.mark.slow
@needs_data
def test_a_failed_save_can_be_retried(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's parent folder should be")
    home = blocker / "home"
    job = TrainingJob(
        tiny("fast", evaluate_each_epoch=False),
        home=home,
        data_dir=str(REAL_DATA_DIR),
        run_id="retry-me",
        actor=people.LOCAL,
    )
    snap = run_to_end(job)
    assert snap.state == "done" and snap.run_id is None
    assert "could not save run retry-me" in snap.save_error

    blocker.unlink()
    assert job.retry_save() == "retry-me"
    after = job.snapshot()
    assert (after.run_id, after.save_error) == ("retry-me", None)
    info = store.get_run("retry-me", home=home)
    assert info.status == "finished" and info.test_accuracy == snap.test_accuracy
    store.load_model("retry-me", home=home)
    with pytest.raises(store.StoreError, match="nothing to save"):
        job.retry_save()


@pytest.mark.slow
def test_a_job_nobody_holds_any_more_still_finishes_and_saves(tmp_path: Path) -> None:
    """A browser tab closed mid-training drops the session's reference: the job's thread and worker must finish
    and save."""
    import gc

    job = TrainingJob(
        TrainConfig(preset="notebook", epochs=1, limit=256, seed=3), home=tmp_path, actor=people.LOCAL
    ).start()
    thread = job._thread
    del job
    gc.collect()
    thread.join(180)
    assert not thread.is_alive()
    saved = list(tmp_path.glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["status"] == "finished"


class _StandIn:
    """A job as the queue sees it: its state, progress, place and estimate alone."""

    def __init__(self, state: str, alone: float, progress: float = 0.0, place: int | None = None) -> None:
        self.alone_seconds = alone
        self._snap = type("Snap", (), {"state": state, "progress": progress, "queue_position": place})()

    def snapshot(self):
        return self._snap


def test_the_wait_shown_before_a_click_counts_the_queue(store_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FMNIST_MAX_TRAININGS", "2")
    assert jobs.queue_wait(28.0) == queue_times.Wait(0.0, 28.0, 0)
    half_done = _StandIn("running", 40.0, progress=0.5)  # 20 s of its own left
    monkeypatch.setitem(jobs._ACTIVE, half_done, "ada")
    assert jobs.queue_wait(28.0) == queue_times.Wait(0.0, 48.0, 1)  # shares the cores for 40 s, then alone
    monkeypatch.setitem(jobs._ACTIVE, _StandIn("running", 28.0), "bob")
    monkeypatch.setitem(jobs._ACTIVE, _StandIn("queued", 10.0, place=1), "cy")
    # 20 and 28 s left share the cores: at 40 s the first ends and the queued one starts (8 and 10 left); at 56 s
    # the second ends and ours starts beside the last 2 s of the queued one (4 s), then runs alone: 86 s.
    wait = jobs.queue_wait(28.0)
    assert wait == queue_times.Wait(56.0, 86.0, 3)
    monkeypatch.setitem(jobs._ACTIVE, _StandIn("done", 99.0), "dee")  # finished trainings are not counted
    assert jobs.queue_wait(28.0) == wait


def test_a_running_job_expects_to_share_the_cores_with_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FMNIST_MAX_TRAININGS", "2")
    job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=600), actor=people.LOCAL)  # fed by hand: no worker
    job._apply(Started(executor="local-process", node="here", pid=1))
    job.alone_seconds = 28.0
    monkeypatch.setitem(jobs._ACTIVE, job, "me")
    assert job.expected_wait() == queue_times.Wait(0.0, 28.0, 0)
    monkeypatch.setitem(jobs._ACTIVE, _StandIn("running", 28.0), "ada")
    monkeypatch.setitem(jobs._ACTIVE, _StandIn("queued", 28.0, place=1), "bob")
    assert job.expected_wait() == queue_times.Wait(0.0, 56.0, 1)  # shared with Ada's; Bob's starts after
    assert jobs.queue_wait(28.0) == queue_times.Wait(56.0, 112.0, 3)  # a new one starts beside Bob's, when two end
