"""The job's live state, folded from the worker's events (fmnist_core.training.events): `LiveState.apply` runs on
the server for the live view and in the worker for the run's metadata, so both agree; `Snapshot` is the frozen copy
the pages and the CLI read, and `progress_text` its one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fmnist_core.nets.presets import TARGET_ACCURACY, TrainConfig
from fmnist_core.runs.frames import Frames
from fmnist_core.runs.records import EpochRow
from fmnist_core.training.events import (
    FINAL_STATES,
    MAX_BATCH_POINTS,
    PHASE_EVALUATING,
    PHASE_FIRST_BATCH,
    PHASE_SAVING,
    PHASE_TRAINING,
    TEST_IMAGES,
    BatchEnd,
    Cancelled,
    Ended,
    EpochBegin,
    EpochEnd,
    Evaluated,
    Event,
    Failed,
    FitEnd,
    Phase,
    SaveResult,
    Setup,
    Started,
    Watched,
)


# --- the snapshot ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """The job's live state at one moment, plain values (and the frames' read-only arrays, shared by every
    snapshot); safe to keep and read from any thread."""

    state: str
    phase: str
    epoch: int
    epochs: int
    batch: int
    batches_per_epoch: int
    progress: float  # 0..1
    eta: float | None  # seconds left, while training
    elapsed: float  # seconds since the job started (queue included)
    queue_position: int | None  # 1-based place in the local queue, None when not waiting
    history: list[EpochRow]  # one row per epoch (also the saved metadata's "history")
    batch_trace: list[dict[str, float]]  # running loss/accuracy, thinned to at most MAX_BATCH_POINTS
    test_loss: float | None
    test_accuracy: float | None
    samples_seen: int
    samples_per_second: float | None
    fit_seconds: float | None
    train_seconds: float
    seconds_to_target: float | None
    precision: str
    precision_note: str
    train_images: int
    run_id: str | None
    error: str | None
    save_error: str | None
    config: TrainConfig
    preset: str
    executor: str  # "local-process" or "ray"
    node: str | None  # the host that trains it, once known
    worker_pid: int | None  # on its node
    started: float | None  # time.monotonic() on the server
    fit_started: float | None
    ended: float | None
    frames: Frames | None = None  # watch it learn: shared with the live state, never copied (arrays are read-only)
    phase_seconds: float | None = None  # how long the current phase has lasted (None when not known)
    mirror_accuracy: float | None = None  # test accuracy with each image averaged with its mirror (some presets)


# --- the state both sides build ----------------------------------------------------------------------
@dataclass
class LiveState:
    """Mutable state folded from events; the owner guards it with a lock."""

    epochs: int
    executor: str
    state: str = "queued"
    phase: str = "waiting for a training slot"
    epoch: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    batch_size: int = 0
    history: list[EpochRow] = field(default_factory=list)
    batch_trace: list[dict[str, float]] = field(default_factory=list)
    trace_stride: int = 1
    started: float | None = None
    fit_started: float | None = None
    ended: float | None = None
    train_seconds: float = 0.0
    samples_seen: int = 0
    # The measured rate: batches after the fit's first report (which includes tracing the step), and their time.
    first_batch_seconds: float | None = None
    steady_seconds: float = 0.0
    steady_batches: int = 0
    steady_images: int = 0
    epoch_train_seconds: float = 0.0  # batch time of the current epoch, so an epoch's other time is known
    progress_at: float | None = None  # when the last batch or epoch end arrived (the ETA counts down from it)
    phase_at: float | None = None  # when the phase last changed
    error: str | None = None
    run_id: str | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    mirror_accuracy: float | None = None
    seconds_to_target: float | None = None
    save_error: str | None = None
    save_attempts: int = 0
    precision: str = "float32"
    precision_note: str = ""
    train_images: int = 0
    fit_seconds: float | None = None
    node: str | None = None
    worker_pid: int | None = None
    frames: Frames | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def apply(self, event: Event, now: float) -> None:
        """Fold one event in; `now` is this side's time.monotonic() (clocks differ between nodes)."""
        before = self.phase
        self._fold(event, now)
        if self.phase != before:
            self.phase_at = now

    def _fold(self, event: Event, now: float) -> None:
        if isinstance(event, Started):
            self.executor, self.node, self.worker_pid = event.executor, event.node, event.pid
            if self.state == "queued":
                self.state = "running"
        elif isinstance(event, Phase):
            self.phase = event.phase
        elif isinstance(event, Setup):
            self.batches_per_epoch, self.train_images = event.batches_per_epoch, event.train_images
            self.batch_size = event.batch_size
            self.precision, self.precision_note = event.precision, event.precision_note
            self.fit_started, self.phase = now, PHASE_FIRST_BATCH
        elif isinstance(event, EpochBegin):
            self.epoch, self.batch, self.epoch_train_seconds = event.epoch, 0, 0.0
            if self.first_batch_seconds is not None:
                self.phase = PHASE_TRAINING
        elif isinstance(event, BatchEnd):
            if event.done_in_epoch > self.batch:  # a repeated report is no progress: the countdown goes on
                self.progress_at = now
            self._batch_end(event)
        elif isinstance(event, EpochEnd):
            # The phase stays (evaluating, after fit's validation) until the next epoch begins or the fit ends:
            # going back to "training" here showed training at the epoch's last batch between two evaluations.
            self.progress_at = now
            row = EpochRow(
                epoch=event.epoch,
                loss=event.loss,
                accuracy=event.accuracy,
                test_loss=event.test_loss,
                test_accuracy=event.test_accuracy,
                seconds=event.seconds,
                train_seconds=self.epoch_train_seconds,  # the rest of `seconds` is the test evaluation
                elapsed=event.elapsed,
                batches=self.batch,
                complete=self.batch >= self.batches_per_epoch,
            )
            self.history.append(row)
            if self.seconds_to_target is None and (event.test_accuracy or 0) >= TARGET_ACCURACY:
                self.seconds_to_target = event.elapsed
        elif isinstance(event, Watched):
            frames = self.frames if self.frames is not None else Frames(event.layer, event.samples)
            self.frames = frames.with_frame(event.frame)
        elif isinstance(event, FitEnd):
            self.fit_seconds, self.phase = event.fit_seconds, PHASE_EVALUATING
        elif isinstance(event, Evaluated):
            self.test_loss, self.test_accuracy, self.phase = event.test_loss, event.test_accuracy, PHASE_SAVING
            self.mirror_accuracy = event.mirror_accuracy
            if self.history and self.history[-1].test_accuracy is not None:
                # The last epoch's row describes the saved weights: its figures are the final float32 evaluation's,
                # not Keras' in-fit validation (bfloat16 compute), so the result card and the table agree.
                self.history[-1] = replace(
                    self.history[-1], test_loss=event.test_loss, test_accuracy=event.test_accuracy
                )
        elif isinstance(event, SaveResult):
            self.save_attempts += 1
            if event.error is None:
                self.run_id, self.save_error = event.run_id, None
            else:
                self.save_error = event.error
        elif isinstance(event, Ended):
            self.state, self.phase, self.ended = ("stopped" if event.stopped else "done"), "ended", now
        elif isinstance(event, Failed):
            self.fail(event.error, now)
        elif isinstance(event, Cancelled):
            self.state, self.phase, self.ended = "stopped", "cancelled before it started", now

    def fail(self, error: str, now: float) -> None:
        if not self.finished:
            self.state, self.error, self.phase, self.ended = "failed", error, "failed", now

    def _batch_end(self, event: BatchEnd) -> None:
        new = event.done_in_epoch - self.batch
        images = min(new * self.batch_size, max(0, self.train_images - self.batch * self.batch_size))
        self.samples_seen += images
        self.train_seconds += event.seconds
        self.epoch_train_seconds += event.seconds
        if self.first_batch_seconds is None:  # the fit's first report carries the tracing: not a rate
            self.first_batch_seconds = event.seconds
            if self.phase == PHASE_FIRST_BATCH:  # a report arriving late never undoes "evaluating"
                self.phase = PHASE_TRAINING
        else:
            self.steady_seconds += event.seconds
            self.steady_batches += new
            self.steady_images += images
        self.batch = event.done_in_epoch
        step = (self.epoch - 1) * self.batches_per_epoch + self.batch
        if step % self.trace_stride == 0:
            point = {"step": step, "epoch": self.epoch, "loss": event.loss, "accuracy": event.accuracy}
            self.batch_trace.append(point)
            if len(self.batch_trace) >= MAX_BATCH_POINTS:  # thin: keep every other point, sample half as often
                self.batch_trace = self.batch_trace[1::2]
                self.trace_stride *= 2

    def eta(self, now: float, evaluate_each_epoch: bool = True) -> float | None:
        """Seconds until the result, or None until a rate is measured (a batch after the first report) and once
        the final evaluation has given it.

        Remaining batches at the measured seconds per batch, plus the test evaluations still to come: one after
        each epoch (when evaluated each epoch) and the final one of the saved network after the fit, each as long
        as the last measured one (before any, a third of a training step per test image, the forward pass).
        Counted down since the last report so it never rises while a batch or an evaluation runs.
        """
        if self.state not in ("running", "stopping") or not self.steady_batches or self.test_accuracy is not None:
            return None
        per_batch = self.steady_seconds / self.steady_batches
        extras = [
            row.seconds - (row.seconds if row.train_seconds is None else row.train_seconds) for row in self.history
        ]
        later = (extras[1:] or extras) if evaluate_each_epoch else []  # the first evaluation also traces the step
        each = max(0.0, later[-1]) if later else per_batch / max(1, self.batch_size) * TEST_IMAGES / 3
        left = each  # the final evaluation
        if self.fit_seconds is None:
            done = (self.epoch - 1) * self.batches_per_epoch + self.batch
            left += max(0, self.epochs * self.batches_per_epoch - done) * per_batch
            if evaluate_each_epoch:
                left += max(0, self.epochs - len(self.history)) * each
        since = now - self.progress_at if self.progress_at is not None else 0.0
        return max(0.0, left - since)

    def snapshot(self, config: TrainConfig, now: float, queue_position: int | None) -> Snapshot:
        """A frozen copy with the derived values (progress, ETA, rate)."""
        total = self.epochs * self.batches_per_epoch
        done = (self.epoch - 1) * self.batches_per_epoch + self.batch if self.epoch else 0
        progress = 1.0 if self.state == "done" else (min(1.0, done / total) if total else 0.0)
        eta = self.eta(now, config.evaluate_each_epoch)
        end = self.ended or now
        return Snapshot(
            state=self.state,
            phase=self.phase,
            epoch=self.epoch,
            epochs=self.epochs,
            batch=self.batch,
            batches_per_epoch=self.batches_per_epoch,
            progress=progress,
            eta=eta,
            elapsed=(end - self.started) if self.started is not None else 0.0,
            queue_position=queue_position,
            history=list(self.history),  # rows are frozen
            batch_trace=[dict(point) for point in self.batch_trace],
            test_loss=self.test_loss,
            test_accuracy=self.test_accuracy,
            mirror_accuracy=self.mirror_accuracy,
            samples_seen=self.samples_seen,
            samples_per_second=self.samples_seen / self.train_seconds if self.train_seconds else None,
            fit_seconds=self.fit_seconds,
            train_seconds=self.train_seconds,
            seconds_to_target=self.seconds_to_target,
            precision=self.precision,
            precision_note=self.precision_note,
            train_images=self.train_images,
            run_id=self.run_id,
            error=self.error,
            save_error=self.save_error,
            config=config,
            preset=config.preset,
            executor=self.executor,
            node=self.node,
            worker_pid=self.worker_pid,
            started=self.started,
            fit_started=self.fit_started,
            ended=self.ended,
            frames=self.frames,
            phase_seconds=(end - self.phase_at) if self.phase_at is not None else None,
        )


def clock(seconds: float) -> str:
    """Seconds as m:ss, the way the progress line counts."""
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def progress_text(snap: Snapshot) -> str:
    """The live view's one line: what the worker is doing, and an ETA only once a rate has been measured.

    Until the first batch has run there is nothing to count, so the line names the phase alone ("Loading
    TensorFlow · elapsed 0:12", "Preparing the first batch · elapsed 0:14"), never "batch 0/0" or a frozen
    "batch 0/47". While the test images are evaluated it says for how long so far, and an ETA that has run out
    is left off rather than shown as 0:00.
    """
    elapsed = f"elapsed {clock(snap.elapsed)}"
    if not snap.batches_per_epoch or (snap.phase == PHASE_FIRST_BATCH and not snap.batch):
        return f"{snap.phase[:1].upper()}{snap.phase[1:]} · {elapsed}"
    phase = snap.phase
    if phase == PHASE_EVALUATING and snap.phase_seconds is not None:
        phase = f"{phase}, {clock(snap.phase_seconds)} so far"
    parts = [
        f"Epoch {max(snap.epoch, 1)}/{snap.epochs}",
        f"batch {snap.batch}/{snap.batches_per_epoch}",
        phase,
        elapsed,
    ]
    if snap.eta is not None and round(snap.eta) >= 1:  # past the estimate, a frozen "ETA 0:00" would say nothing
        parts.append(f"ETA {clock(snap.eta)}")
    return " · ".join(parts)
