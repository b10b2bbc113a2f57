"""The Keras callback of a training: plain progress events (fmnist_core.training.events) from inside model.fit.

Batch ends, epoch ends with their metrics, the evaluation phase, Stop between batches, and at each epoch's end the
first conv layer's frame for "watch it learn". Defined on first use, so importing this module needs no TensorFlow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fmnist_core.training import faults
from fmnist_core.training.events import PHASE_EVALUATING, BatchEnd, EpochBegin, EpochEnd, Event, Phase, Watched
from fmnist_core.training.frame_capture import capture_function

_callback_class: type | None = None


def live_callback(
    emit: Callable[[Event], None],
    stop: threading.Event,
    batches_per_epoch: int,
    watch_samples: tuple[int, ...] = (),
    watch_images: np.ndarray | None = None,
) -> Any:
    """The Keras callback that reports progress as events and turns `stop` into stop_training.

    With `watch_images` (test images `watch_samples`, scaled as trained on) each epoch end also sends the first
    conv layer's frame (Watched). The class is defined on first use so importing this module stays TensorFlow-free.
    """
    global _callback_class
    if _callback_class is None:
        from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

        quiet_import_tensorflow()
        import keras

        class _LiveCallback(keras.callbacks.Callback):
            def __init__(
                self,
                emit: Callable[[Event], None],
                stop: threading.Event,
                batches_per_epoch: int,
                watch_samples: tuple[int, ...],
                watch_images: np.ndarray | None,
            ) -> None:
                super().__init__()
                self.emit = emit
                self.stop = stop
                self.batches_per_epoch = batches_per_epoch
                self.watch_samples, self.watch_images = watch_samples, watch_images
                self._capture: Any = None  # (layer, epoch -> Frame), built at the first epoch end
                self._fit_start = self._epoch_start = self._last_batch_end = time.monotonic()
                self._first_batch = True

            def on_train_begin(self, logs: dict | None = None) -> None:
                self._fit_start = time.monotonic()

            def on_test_begin(self, logs: dict | None = None) -> None:  # fit's validation at an epoch's end
                self.emit(Phase(PHASE_EVALUATING))

            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                self._epoch_start = self._last_batch_end = time.monotonic()
                self.emit(EpochBegin(epoch + 1))

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                now = time.monotonic()
                logs = logs or {}
                # With steps_per_execution > 1 Keras reports the end of a whole chunk, past the epoch's last batch.
                done = min(batch + 1, self.batches_per_epoch) if self.batches_per_epoch else batch + 1
                loss, acc = float(logs.get("loss", np.nan)), float(logs.get("accuracy", np.nan))
                self.emit(BatchEnd(done, loss, acc, now - self._last_batch_end))
                self._last_batch_end = now
                if self._first_batch:
                    self._first_batch = False
                    faults.at("at-batch")
                if self.stop.is_set():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = logs or {}
                now = time.monotonic()
                self.emit(
                    EpochEnd(
                        epoch=epoch + 1,
                        loss=float(logs.get("loss", np.nan)),
                        accuracy=float(logs.get("accuracy", np.nan)),
                        test_loss=float(logs["val_loss"]) if "val_loss" in logs else None,
                        test_accuracy=float(logs["val_accuracy"]) if "val_accuracy" in logs else None,
                        seconds=now - self._epoch_start,
                        elapsed=now - self._fit_start,
                    )
                )
                self._watch(epoch + 1)

            def _watch(self, epoch: int) -> None:
                if self.watch_images is None:
                    return
                try:
                    if self._capture is None:
                        self._capture = capture_function(self.model, self.watch_images) or False
                    if self._capture:
                        layer, capture = self._capture
                        self.emit(Watched(layer, self.watch_samples, capture(epoch)))
                except Exception:  # a view of the training must never end it: stop watching instead
                    self.watch_images = None

        _callback_class = _LiveCallback
    return _callback_class(emit, stop, batches_per_epoch, watch_samples, watch_images)
