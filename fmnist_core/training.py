"""TrainingJob: Keras fit in a background thread on its own model, with a lock-protected live snapshot.

The UI (or CLI) only ever reads `job.snapshot()`, a dict of plain Python values; the thread owns the
model. A process-wide scheduler caps concurrent trainings (FMNIST_MAX_TRAININGS, default 2) and queues
the rest in FIFO order.
"""

from __future__ import annotations

import gc
import os
import platform
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core import data, store

TARGET_ACCURACY = 0.9137  # the notebook's test accuracy after 5 epochs
STATES = ("queued", "running", "stopping", "done", "stopped", "failed")
FINAL_STATES = ("done", "stopped", "failed")
MAX_BATCH_POINTS = 400


@dataclass(frozen=True)
class Preset:
    """A training recipe: architecture, defaults for the user-facing settings, and how the data is fed."""

    name: str
    description: str
    architecture: str = "seed_cnn"
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    precision: str = "float32"  # or "mixed_bfloat16"
    input_dtype: str = "float64"  # the notebook fed float64 /255 arrays
    schedule: str = "constant"  # or "cosine"
    steps_per_execution: int = 1
    augment: tuple[str, ...] = ()  # "flip" (left-right) and/or "shift" (up to 2 px), drawn fresh every batch
    label_smoothing: float = 0.0


FAST = Preset(
    name="fast",
    description="Same architecture; float32 tf.data, batch 128, warm-up + cosine learning rate, left-right flips, bfloat16 where the CPU has it.",
    epochs=10,
    batch_size=128,
    learning_rate=3e-3,
    precision="mixed_bfloat16",
    input_dtype="float32",
    schedule="cosine",
    steps_per_execution=8,
    augment=("flip",),
)
# fast's feeding and schedule, on the stronger architecture with more augmentation and epochs.
IMPROVED = replace(
    FAST,
    name="improved",
    description=(
        "Stronger: 'same' padding, batch norm, dropout, a 256-unit dense layer; flip and 2-px shift augmentation, "
        "label smoothing; 12 epochs (4.5-5.5 minutes measured on 2 cores)."
    ),
    architecture="improved_cnn",
    epochs=12,
    augment=("flip", "shift"),
    label_smoothing=0.1,
)
PRESETS: dict[str, Preset] = {
    "fast": FAST,
    "improved": IMPROVED,
    "seed": Preset(
        name="seed",
        description="The notebook's recipe as written: inputs /255 (float64), batch 32, Adam 1e-3, 5 epochs.",
    ),
}
DEFAULT_PRESET = "fast"


class ConfigError(ValueError):
    """Settings that cannot train; the message names the setting."""


@dataclass(frozen=True)
class TrainConfig:
    """What the user chose. None means "the preset's default"."""

    preset: str = DEFAULT_PRESET
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 42
    limit: int | None = None  # how many of the 60,000 training images to use
    evaluate_each_epoch: bool = True

    def resolved(self) -> TrainConfig:
        """Fill the preset's defaults and validate; raises ConfigError with a clear message."""
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        p = PRESETS[self.preset]
        cfg = replace(
            self,
            epochs=p.epochs if self.epochs is None else self.epochs,
            batch_size=p.batch_size if self.batch_size is None else self.batch_size,
            learning_rate=p.learning_rate if self.learning_rate is None else self.learning_rate,
        )
        _check_int("epochs", cfg.epochs, 1, 200)
        _check_int("batch size", cfg.batch_size, 1, 4096)
        _check_int("seed", cfg.seed, 0, 2**31 - 1)
        if cfg.limit is not None:
            _check_int("training images", cfg.limit, 1, data.EXPECTED_COUNT["train"])
        lr = cfg.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not (0 < lr <= 1) or lr != lr:
            raise ConfigError(f"learning rate must be a number in (0, 1], not {lr!r}")
        return cfg


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not (low <= value <= high):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


class _Slots:
    """FIFO admission for trainings: at most `capacity` run at once, the rest wait their turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[object] = []
        self._running = 0

    @staticmethod
    def capacity() -> int:
        try:
            return max(1, int(os.environ.get("FMNIST_MAX_TRAININGS", "2")))
        except ValueError:
            return 2

    def acquire(self, owner: object, cancelled: threading.Event) -> bool:
        with self._cond:
            self._queue.append(owner)
            while self._queue[0] is not owner or self._running >= self.capacity():
                if cancelled.is_set():
                    self._queue.remove(owner)
                    self._cond.notify_all()
                    return False
                self._cond.wait(0.2)
            self._queue.pop(0)
            self._running += 1
            self._cond.notify_all()
            return True

    def release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def position(self, owner: object) -> int | None:
        """1-based place in the queue, or None when not waiting."""
        with self._cond:
            return self._queue.index(owner) + 1 if owner in self._queue else None

    def running(self) -> int:
        with self._cond:
            return self._running


SLOTS = _Slots()


def release_freed_memory() -> None:
    """Collect garbage, then hand glibc's freed heap pages back to the OS.

    A training frees hundreds of MB of tensors; without malloc_trim glibc keeps most of it, and the server's RSS
    grew by 190 MB over 5 trainings of 10,000 images (50 MB with it). Harmless where glibc is absent.
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def bfloat16_supported() -> tuple[bool, str]:
    """Whether this CPU does bfloat16 math natively (AVX512_BF16 or AMX); otherwise it is emulated and slow."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return False, f"bfloat16 not used on {platform.machine()}"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False, "CPU flags unreadable"
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return True, "CPU supports bfloat16 (avx512_bf16/amx_bf16)"
    return False, "CPU lacks avx512_bf16/amx_bf16; trained in float32"


@dataclass
class _State:
    state: str = "queued"
    epoch: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    batch_trace: list[dict[str, float]] = field(default_factory=list)
    trace_stride: int = 1
    started: float | None = None
    fit_started: float | None = None
    ended: float | None = None
    train_seconds: float = 0.0
    samples_seen: int = 0
    error: str | None = None
    run_id: str | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    seconds_to_target: float | None = None
    save_error: str | None = None
    precision: str = "float32"
    precision_note: str = ""
    train_images: int = 0
    phase: str = "waiting for a training slot"
    fit_seconds: float | None = None


class TrainingJob:
    """One training: `start()`, poll `snapshot()`, `stop()` any time; the run is saved when it ends."""

    def __init__(
        self,
        config: TrainConfig,
        home: Path | None = None,
        data_dir: str | None = None,
        run_id: str | None = None,
        command: str | None = None,
    ) -> None:
        self.config = config.resolved()
        self.command = command
        self.run_id = store.validate_run_id(run_id) if run_id else None
        self.preset = PRESETS[self.config.preset]
        self.home = home
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._s = _State(epochs=int(self.config.epochs))
        self._thread: threading.Thread | None = None
        self._model: Any = None  # float32 copy kept after the end only so a failed save can be retried

    # --- control -------------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Start the background thread (once); returns self for chaining."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"training-{id(self):x}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Ask to stop after the current batch; what was learned is kept and saved as a stopped run."""
        self._stop.set()
        with self._lock:
            if self._s.state == "running":
                self._s.state = "stopping"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (True) or the timeout passes (False)."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._s.state in FINAL_STATES

    def snapshot(self) -> dict[str, Any]:
        """A copy of the live state as plain Python values, safe to read from any thread."""
        with self._lock:
            s = self._s
            snap = asdict(s)
            snap.pop("trace_stride")
            now = s.ended or time.monotonic()
            snap["elapsed"] = (now - s.started) if s.started else 0.0
            total = s.epochs * s.batches_per_epoch
            done = (s.epoch - 1) * s.batches_per_epoch + s.batch if s.epoch else 0
            snap["progress"] = 1.0 if s.state == "done" else (min(1.0, done / total) if total else 0.0)
            if s.state in ("running", "stopping") and done and s.fit_started:
                rate = (time.monotonic() - s.fit_started) / done
                snap["eta"] = rate * max(0, total - done)
            else:
                snap["eta"] = None
            snap["samples_per_second"] = s.samples_seen / s.train_seconds if s.train_seconds else None
        snap["queue_position"] = SLOTS.position(self)
        snap["preset"] = self.config.preset
        snap["config"] = asdict(self.config)
        return snap

    def retry_save(self) -> str:
        """Try saving again after a failed save (full disk, read-only store); returns the run id."""
        if self._model is None:
            raise store.StoreError("nothing to save: the model is gone or was saved already")
        run_id = store.save_run(self._model, self._metadata(), run_id=self.run_id, home=self.home)
        with self._lock:
            self._s.run_id, self._s.save_error = run_id, None
        self._model = None
        return run_id

    # --- the thread ----------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._s, key, value)

    def _run(self) -> None:
        self._set(started=time.monotonic())
        if not SLOTS.acquire(self, self._stop):
            self._set(state="stopped", ended=time.monotonic(), phase="cancelled before it started")
            return
        try:
            self._set(state="stopping" if self._stop.is_set() else "running", phase="loading data")
            self._train()
        except Exception as exc:  # the thread must never die silently: the message reaches the UI
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._set(state="failed", error=detail, ended=time.monotonic(), phase="failed")
        finally:
            SLOTS.release()
            release_freed_memory()

    def _train(self) -> None:
        from fmnist_core._tf import quiet_import_tensorflow

        quiet_import_tensorflow()
        import keras
        import tensorflow as tf

        from fmnist_core.model import as_float32, build_model

        cfg, preset = self.config, self.preset
        train = data.load_train_set(self.data_dir)
        test = data.load_test_set(self.data_dir)
        n = cfg.limit or len(train)
        precision, note = preset.precision, "float32 compute"
        if precision == "mixed_bfloat16":
            ok, why = bfloat16_supported()
            precision, note = ("mixed_bfloat16", why) if ok else ("float32", why)
        bpe = -(-n // cfg.batch_size)
        self._set(batches_per_epoch=bpe, precision=precision, precision_note=note, train_images=n)

        dtype = np.float64 if preset.input_dtype == "float64" else np.float32
        x_train = tf.constant(data.scale(train.images[:n], dtype))
        y_train = tf.constant(train.labels[:n].astype(np.int32))
        # Shuffle indices, then gather: the order depends only on the seed, and no shuffle buffer copies images.
        batches = (
            tf.data.Dataset.range(n).shuffle(n, seed=cfg.seed, reshuffle_each_iteration=True).batch(cfg.batch_size)
        )
        prepare = _batch_preparer(preset, x_train, y_train)
        if preset.augment:  # a seeded stream of per-batch seeds: same seed, same augmentation; new draws each epoch
            keys = tf.data.Dataset.random(seed=cfg.seed, rerandomize_each_iteration=True).batch(2)
            ds = tf.data.Dataset.zip(batches, keys).map(prepare)
        else:
            ds = batches.map(prepare)
        # No background threads in the input pipeline: no autotuning and no prefetch. On 2 cores the autotune
        # thread made the end of every other epoch wait 15-20 s (UnboundedThreadPool join in the iterator's
        # destructor), and a destructor that waits on a pipeline thread can run at any garbage collection, e.g.
        # mid-save. The map (a gather and a flip of 128 images) costs microseconds inline.
        options = tf.data.Options()
        options.autotune.enabled = False
        ds = ds.with_options(options)
        val = None
        if cfg.evaluate_each_epoch:
            val_labels = test.labels.astype(np.int32)
            if preset.label_smoothing:
                val_labels = np.eye(10, dtype=np.float32)[val_labels]
            val = (data.scale(test.images, dtype), val_labels)

        model = build_model(preset.architecture, seed=cfg.seed, compute_dtype=precision)
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
            steps_per_execution=preset.steps_per_execution,
        )
        self._set(fit_started=time.monotonic(), phase="training")
        model.fit(
            ds,
            shuffle=False,
            epochs=cfg.epochs,
            validation_data=val,
            validation_batch_size=1000,
            verbose=0,
            callbacks=[_live_callback(self, cfg.batch_size)],
        )
        stopped = self._stop.is_set()
        self._set(fit_seconds=time.monotonic() - (self._s.fit_started or 0), phase="evaluating on the test set")
        final = as_float32(model, preset.architecture)
        del model
        from fmnist_core.inference import evaluate

        result = evaluate(final, test.images, test.labels)
        self._set(test_loss=result.loss, test_accuracy=result.accuracy, phase="saving")
        self._model = final
        try:
            run_id = store.save_run(final, self._metadata(stopped), run_id=self.run_id, home=self.home)
            self._model = None
            self._set(run_id=run_id)
        except store.StoreError as exc:
            self._set(save_error=str(exc))
        self._set(state="stopped" if stopped else "done", ended=time.monotonic(), phase="ended")

    def _metadata(self, stopped: bool | None = None) -> dict[str, Any]:
        snap = self.snapshot()
        if stopped is None:
            stopped = snap["state"] == "stopped"
        import keras
        import tensorflow as tf

        from fmnist_core import __version__
        from fmnist_core.model import summary_rows, total_params

        try:
            fingerprint = data.fingerprint(self.data_dir)
        except data.DataError:
            fingerprint = None
        return {
            "preset": self.config.preset,
            "architecture": self.preset.architecture,
            "settings": asdict(self.config),
            "status": "stopped" if stopped else "finished",
            "history": snap["history"],
            "batch_trace": snap["batch_trace"],
            "test_loss": snap["test_loss"],
            "test_accuracy": snap["test_accuracy"],
            "seconds": snap["fit_seconds"],
            "train_seconds": snap["train_seconds"],
            "samples_per_second": snap["samples_per_second"],
            "seconds_to_target": snap["seconds_to_target"],
            "target_accuracy": TARGET_ACCURACY,
            "train_images": snap["train_images"],
            "precision": snap["precision"],
            "precision_note": snap["precision_note"],
            "versions": {
                "python": platform.python_version(),
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "numpy": np.__version__,
                "fmnist_core": __version__,
            },
            "data_fingerprint": fingerprint,
            "command": self.command,
            "params": total_params(self._model),
            "summary": [asdict(row) for row in summary_rows(self._model)],
        }


def _batch_preparer(preset: Preset, x_train: Any, y_train: Any) -> Any:
    """The tf.data map from a batch of indices (and, with augmentation, a seed pair) to (images, labels).

    Augmentation runs on whole batches with stateless random ops, so it costs little on 2 cores and depends
    only on the training seed.
    """
    import tensorflow as tf

    def labels_of(idx: Any) -> Any:
        y = tf.gather(y_train, idx)
        if preset.label_smoothing:
            y = tf.one_hot(y, 10)
        return y

    def augment(x: Any, key: Any) -> Any:
        b = tf.shape(x)[0]
        seeds = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 3)
        if "flip" in preset.augment:
            flip = tf.random.stateless_uniform([b, 1, 1, 1], seed=seeds[0]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        if "shift" in preset.augment:  # pad 2 px of background, then take a 28x28 window at a random offset
            pad = 2
            padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            dy = tf.random.stateless_uniform([b], seed=seeds[1], maxval=2 * pad + 1, dtype=tf.int32)
            dx = tf.random.stateless_uniform([b], seed=seeds[2], maxval=2 * pad + 1, dtype=tf.int32)
            rows = dy[:, None] + tf.range(28)[None, :]
            cols = dx[:, None] + tf.range(28)[None, :]
            x = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        return x

    if preset.augment:
        return lambda idx, key: (augment(tf.gather(x_train, idx), key), labels_of(idx))
    return lambda idx: (tf.gather(x_train, idx), labels_of(idx))


_callback_class: type | None = None


def _live_callback(job: TrainingJob, batch_size: int) -> Any:
    """Build the Keras callback; the class is defined on first use so importing this module stays TF-free."""
    global _callback_class
    if _callback_class is None:
        from fmnist_core._tf import quiet_import_tensorflow

        quiet_import_tensorflow()
        import keras

        class _LiveCallback(keras.callbacks.Callback):
            """Copies Keras' logs into the job's snapshot as floats, and turns job.stop() into stop_training."""

            def __init__(self, job: TrainingJob, batch_size: int) -> None:
                super().__init__()
                self.job = job
                self.batch_size = batch_size
                self._epoch_start = 0.0
                self._last_batch_end = 0.0

            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                self._epoch_start = self._last_batch_end = time.monotonic()
                self.job._set(epoch=epoch + 1, batch=0)

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                now = time.monotonic()
                logs = logs or {}
                loss, acc = float(logs.get("loss", np.nan)), float(logs.get("accuracy", np.nan))
                job = self.job
                with job._lock:
                    s = job._s
                    # With steps_per_execution > 1 Keras reports the end of a whole chunk, past the epoch's last batch.
                    done_in_epoch = min(batch + 1, s.batches_per_epoch) if s.batches_per_epoch else batch + 1
                    new = done_in_epoch - s.batch
                    seen = min(new * self.batch_size, max(0, s.train_images - s.batch * self.batch_size))
                    s.samples_seen += seen
                    s.train_seconds += now - self._last_batch_end
                    s.batch = done_in_epoch
                    step = (s.epoch - 1) * s.batches_per_epoch + done_in_epoch
                    if step % s.trace_stride == 0:
                        s.batch_trace.append({"step": step, "epoch": s.epoch, "loss": loss, "accuracy": acc})
                        if len(s.batch_trace) >= MAX_BATCH_POINTS:  # thin: keep every other point, sample half as often
                            s.batch_trace = s.batch_trace[1::2]
                            s.trace_stride *= 2
                self._last_batch_end = now
                if job._stop.is_set():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = logs or {}
                job = self.job
                with job._lock:
                    s = job._s
                    row = {
                        "epoch": epoch + 1,
                        "loss": float(logs.get("loss", np.nan)),
                        "accuracy": float(logs.get("accuracy", np.nan)),
                        "test_loss": float(logs["val_loss"]) if "val_loss" in logs else None,
                        "test_accuracy": float(logs["val_accuracy"]) if "val_accuracy" in logs else None,
                        "seconds": time.monotonic() - self._epoch_start,
                        "elapsed": time.monotonic() - (s.fit_started or self._epoch_start),
                        "batches": s.batch,
                        "complete": s.batch >= s.batches_per_epoch,
                    }
                    s.history.append(row)
                    if s.seconds_to_target is None and (row["test_accuracy"] or 0) >= TARGET_ACCURACY:
                        s.seconds_to_target = row["elapsed"]

        _callback_class = _LiveCallback
    return _callback_class(job, batch_size)
