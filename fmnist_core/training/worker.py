"""The Keras side of a training: fit, evaluate, save (feeding in pipeline.py, the callback in keras_callback.py). Runs in a worker.

A worker is a spawned process (`process_main`, the local default) or a Ray actor (fmnist_core.training.executors); the
web server never imports TensorFlow for a training. The worker reports through `emit(event)` (plain values,
fmnist_core.training.events) and saves the run through `store` itself. After a failed save it keeps the model and
waits for a retry, so "Retry saving" needs neither TensorFlow in the server nor a temporary model file.

The process around it (priority below the server, death with it) is fmnist_core.training.process_setup; the entry
here only connects the trainer to the job's pipe.
"""

from __future__ import annotations

import os
import platform
import queue
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core import settings
from fmnist_core.analysis import run_results
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.presets import (
    PRESETS,
    TARGET_ACCURACY,
    Preset,
    TrainConfig,
    bfloat16_supported,
    steps_per_execution,
)
from fmnist_core.runs import store
from fmnist_core.runs.metadata import RunMetadata
from fmnist_core.training import faults
from fmnist_core.training.events import (
    PHASE_BUILD,
    PHASE_DATA,
    PHASE_PREPARING,
    PHASE_TENSORFLOW,
    Ended,
    Evaluated,
    Event,
    Failed,
    FitEnd,
    Phase,
    SaveResult,
    Setup,
    Started,
)
from fmnist_core.training.frame_capture import sample_indices
from fmnist_core.training.keras_callback import live_callback
from fmnist_core.training.live_state import LiveState
from fmnist_core.training.pipeline import training_pipeline, validation_pipeline
from fmnist_core.training.process_setup import prepare_process

RETRY_WINDOW_SECONDS = 1800  # how long a worker whose save failed keeps the model for "Retry saving"


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, picklable: the settings and where to read data and save the run."""

    config: TrainConfig  # resolved
    home: str  # the store's absolute path; with Ray it must be shared storage every node sees
    data_dir: str | None
    run_id: str | None
    command: str | None
    executor: str  # "local-process" or "ray"
    owner: str | None = None  # who trained it (people.Actor.id), recorded in the run's metadata
    parent_pid: int | None = None  # the server's pid: a local worker dies with it
    launched_at: float | None = None  # time.time() when the job launched this worker (after any queue)
    scheduling: str = "nice"  # the server's FMNIST_WORKER_SCHEDULING, honoured wherever the worker runs
    recipe: Preset | None = None  # a variant of the config's preset (the benchmark's tricks table); None: the preset


class Trainer:
    """One training inside a worker: `run()` fits, evaluates and saves; `retry_save()` after a failed save."""

    def __init__(self, spec: WorkerSpec, send: Callable[[Event], None], stop: threading.Event) -> None:
        self.spec = spec
        self.config = spec.config
        self.preset = spec.recipe or PRESETS[spec.config.preset]
        self._send = send
        self.stop = stop
        self.state = LiveState(epochs=int(spec.config.epochs), executor=spec.executor)
        self.model: Any = None  # the float32 model, kept only while a failed save may be retried
        self.probabilities: np.ndarray | None = None  # the final evaluation's, kept beside the run once saved
        self.test_images: np.ndarray | None = None  # what the run's caches are computed on before it is offered
        self._stopped = False  # whether the fit ended early (a Stop during evaluation does not count)
        # Seconds of each part of the training, for the run's metadata: the time estimate learns from them.
        self.timings: dict[str, float] = {}
        self._began = time.time()

    def emit(self, event: Event) -> None:
        """Fold the event into this worker's state (for the metadata) and send it to the job."""
        self.state.apply(event, time.monotonic())
        self._send(event)

    def run(self) -> None:
        """The whole training; any exception becomes a Failed event with its one-line description."""
        self.state.started = time.monotonic()
        self._began = time.time()
        if self.spec.launched_at is not None:  # spawning Python and importing this module (or Ray scheduling)
            self.timings["start_seconds"] = max(0.0, self._began - self.spec.launched_at)
        try:  # how busy the machine was: the same training takes longer when other work shares the cores
            self.timings["load_average"] = os.getloadavg()[0]
        except OSError:
            pass
        self.emit(Started(executor=self.spec.executor, node=socket.gethostname(), pid=os.getpid()))
        try:
            self._train()
        except Exception as exc:  # reported to the job, which shows it; the worker then exits
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.emit(Failed(detail))

    @property
    def can_retry(self) -> bool:
        return self.model is not None

    def retry_save(self) -> SaveResult:
        """Save the kept model again (after the disk was freed or the folder made writable)."""
        if self.model is None:
            result = SaveResult(None, "nothing to save: the model is gone or was saved already")
            self._send(result)
            return result
        return self._save()

    def _save(self) -> SaveResult:
        home = Path(self.spec.home)
        images, probabilities = self.test_images, self.probabilities
        meta = self.metadata()

        def prepare(run_id: str) -> None:
            """What the pages read first, kept before the run is listed (see run_results.prepare); its time is
            part of the click-to-result time the estimate learns from."""
            if images is None or not settings.prepare_runs():
                return
            started = time.monotonic()
            self.emit(Phase(PHASE_PREPARING))
            run_results.prepare(run_id, self.model, images, home, probabilities)
            spent = time.monotonic() - started
            if meta.timings is not None:
                meta.timings["prepare_seconds"] = spent
                meta.timings["total_seconds"] = meta.timings.get("total_seconds", 0.0) + spent

        try:
            run_id = store.save_run(
                self.model,
                meta,
                run_id=self.spec.run_id,
                home=home,
                frames=self.state.frames,
                before_rename=lambda: faults.at("in-save"),  # a test kills the worker there, mid-save
                prepare=prepare,
            )
            result = SaveResult(run_id, None)
            self.model = None
        except store.StoreError as exc:
            result = SaveResult(None, str(exc))
        self.emit(result)
        return result

    def _lap(self, name: str, since: float) -> float:
        """Record the seconds since `since` under `name`; returns now (time.monotonic())."""
        now = time.monotonic()
        self.timings[name] = now - since
        return now

    def _train(self) -> None:
        lap = time.monotonic()
        self.emit(Phase(PHASE_TENSORFLOW))
        from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

        quiet_import_tensorflow(without_sklearn=True)
        import keras

        from fmnist_core.nets.inference import evaluate, mirror_averaged_accuracy
        from fmnist_core.nets.keras_models import as_float32, build_model

        lap = self._lap("tensorflow_seconds", lap)
        cfg, preset = self.config, self.preset
        self.emit(Phase(PHASE_DATA))
        train = fashion_mnist.load_train_set(self.spec.data_dir)
        test = fashion_mnist.load_test_set(self.spec.data_dir)
        lap = self._lap("data_seconds", lap)
        self.emit(Phase(PHASE_BUILD))
        n = cfg.limit or len(train)
        precision, note = preset.precision, "this preset trains with ordinary 32-bit numbers"
        if precision == "mixed_bfloat16":
            ok, why = bfloat16_supported()
            precision, note = ("mixed_bfloat16", why) if ok else ("float32", why)
        bpe = -(-n // cfg.batch_size)

        dtype = np.float64 if preset.input_dtype == "float64" else np.float32
        fit_kwargs: dict[str, Any]
        if preset.feed == "numpy":
            # The notebook as written: model.fit(x, y) on float64 /255 arrays with Keras' own batching and shuffling.
            keras.utils.set_random_seed(cfg.seed)
            labels = train.labels[:n]
            if preset.label_smoothing:  # smoothing needs one-hot targets (tf.data recipes make them per batch)
                labels = np.eye(10, dtype=np.float32)[labels]
            fit_args: tuple = (fashion_mnist.scale(train.images[:n], dtype), labels)
            fit_kwargs = {"batch_size": cfg.batch_size}
        else:
            fit_args = (training_pipeline(preset, train.images[:n], train.labels[:n], dtype, cfg.batch_size, cfg.seed),)
            fit_kwargs = {"shuffle": False}
        val = None
        if cfg.evaluate_each_epoch:
            val = validation_pipeline(test.images, test.labels, dtype, one_hot=bool(preset.label_smoothing))

        watch_samples = sample_indices(test)  # watch it learn: the same test images at every epoch end
        watch_images = fashion_mnist.scale(test.images[list(watch_samples)], dtype)
        network = cfg.arch if cfg.arch is not None else preset.architecture
        model = build_model(network, seed=cfg.seed, compute_dtype=precision, fused_batch_norm=preset.fused_batch_norm)
        lr: Any = cfg.learning_rate
        if preset.schedule == "cosine":
            # Warm up from lr/10 over the first 5% of steps, then cosine down to 0: stable at batch 128 and a high peak.
            total_steps = cfg.epochs * bpe
            warmup = max(1, total_steps // 20)
            lr = keras.optimizers.schedules.CosineDecay(
                cfg.learning_rate / 10,
                decay_steps=max(1, total_steps - warmup),
                warmup_target=cfg.learning_rate,
                warmup_steps=warmup,
                alpha=0.0,
            )
        loss: Any = "sparse_categorical_crossentropy"
        if preset.label_smoothing:
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=lr),
            loss=loss,
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution(preset, cfg.epochs * bpe),
        )
        self._lap("build_seconds", lap)
        self.emit(Setup(bpe, n, int(cfg.batch_size), precision, note))
        fit_started = time.monotonic()
        model.fit(
            *fit_args,
            epochs=cfg.epochs,
            validation_data=val,
            verbose=0,
            callbacks=[live_callback(self.emit, self.stop, bpe, watch_samples, watch_images)],
            **fit_kwargs,
        )
        stopped = self._stopped = self.stop.is_set()
        self.emit(FitEnd(time.monotonic() - fit_started, stopped))
        lap = time.monotonic()
        final = as_float32(model)
        del model
        result = evaluate(final, test.images, test.labels)
        mirror = mirror_averaged_accuracy(final, test.images, test.labels) if preset.mirror_test else None
        self._lap("final_evaluation_seconds", lap)
        self.emit(Evaluated(result.loss, result.accuracy, mirror))
        self.model = final
        self.probabilities = result.probabilities.astype(np.float32)
        self.test_images = test.images
        self._save()
        self.emit(Ended(stopped))

    def metadata(self) -> RunMetadata:
        """The run's metadata, from this worker's own copy of the live state."""
        import keras
        import tensorflow as tf

        from fmnist_core import __version__
        from fmnist_core.nets.keras_models import summary_rows, total_params

        s = self.state
        timings = {
            **self.timings,
            "first_batch_seconds": s.first_batch_seconds,
            "steady_train_seconds": s.steady_seconds,
            "steady_train_images": s.steady_images,
            # From the launch (the click, when no queue) to the result, saving excepted; or from the worker's start.
            "total_seconds": time.time() - (self.spec.launched_at or self._began),
        }
        try:
            fingerprint = fashion_mnist.fingerprint(self.spec.data_dir)
        except fashion_mnist.DataError:
            fingerprint = None
        stopped = self._stopped
        return RunMetadata(
            preset=self.config.preset,
            architecture=self.preset.architecture,
            arch=self.config.arch,
            settings=self.config,
            status="stopped" if stopped else "finished",
            history=list(s.history),
            batch_trace=list(s.batch_trace),
            test_loss=s.test_loss,
            test_accuracy=s.test_accuracy,
            mirror_accuracy=s.mirror_accuracy,
            seconds=s.fit_seconds,
            train_seconds=s.train_seconds,
            samples_per_second=s.samples_seen / s.train_seconds if s.train_seconds else None,
            seconds_to_target=s.seconds_to_target,
            target_accuracy=TARGET_ACCURACY,
            train_images=s.train_images,
            precision=s.precision,
            precision_note=s.precision_note,
            executor=self.spec.executor,
            node=s.node,
            timings={key: float(value) for key, value in timings.items() if value is not None},
            versions={
                "python": platform.python_version(),
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "numpy": np.__version__,
                "fmnist_core": __version__,
            },
            data_fingerprint=fingerprint,
            command=self.spec.command,
            owner=self.spec.owner,
            params=total_params(self.model),
            summary=summary_rows(self.model),
        )


# --- the local worker process ------------------------------------------------------------------------
def process_main(spec: WorkerSpec, conn: Connection) -> None:
    """Entry point of a spawned (cold) worker: prepare the process, then `serve` the one training."""
    prepare_process(spec.parent_pid)
    serve(spec, conn)


def serve(spec: WorkerSpec, conn: Connection) -> None:
    """Train, save, then linger only while a failed save may be retried; the process ends after it.

    The job sends "stop", "retry" or "quit" through `conn`; a closed connection means the server is gone.
    """
    stop = threading.Event()
    commands: queue.Queue[str] = queue.Queue()
    send_lock = threading.Lock()

    def send(event: Event) -> None:
        with send_lock:
            try:
                conn.send(event)
            except (BrokenPipeError, OSError):  # nobody listens any more: finish quietly and save
                pass

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                stop.set()
                commands.put("quit")
                return
            if message == "stop":
                stop.set()
            else:
                commands.put(message)

    threading.Thread(target=listen, name="commands", daemon=True).start()
    trainer = Trainer(spec, send, stop)
    trainer.run()
    deadline = time.monotonic() + RETRY_WINDOW_SECONDS
    while trainer.can_retry:
        try:
            command = commands.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if command != "retry":
            break
        trainer.retry_save()
    conn.close()
