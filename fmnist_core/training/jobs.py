"""TrainingJob: the API the pages and the CLI use to train (start, snapshot, stop, wait, retry_save).

The fit itself runs in a worker (fmnist_core.training.worker: a spawned process, or a Ray actor when FMNIST_RAY_ADDRESS
is set); a thread of the job reads the worker's progress events into a lock-protected `LiveState`, and
`snapshot()` returns a frozen `Snapshot`. Locally a process-wide scheduler caps concurrent trainings
(FMNIST_MAX_TRAININGS, default 2) and queues the rest, people in turn (fmnist_core.training.fair_queue); on Ray the
cluster's resources do. Each job has an owner (a people.Actor); starting one checks that person's fair share.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path

from fmnist_core import people, settings
from fmnist_core.nets.presets import (
    PRESETS,
    ConfigError,
    TrainConfig,
)
from fmnist_core.runs import paths, store
from fmnist_core.training import estimate, executors, queue_times, warm
from fmnist_core.training.events import PHASE_STARTING, Cancelled, Event, Started
from fmnist_core.training.fair_queue import FairSlots
from fmnist_core.training.live_state import LiveState, Snapshot
from fmnist_core.training.worker import WorkerSpec

RETRY_TIMEOUT_SECONDS = 300  # how long retry_save waits for the worker's answer


SLOTS = FairSlots(settings.max_trainings)
# Warm workers for the free slots: the local trainings take one when it is there (fmnist_core.training.warm).
WARM = warm.WarmPool(wanted=lambda: SLOTS.capacity() - SLOTS.running())
# Every job started in this process and not yet ended, with its owner: the per-person limit spans all of a
# person's tabs and browsers (sessions of one server), and the Class page shows who is training now.
_ACTIVE: dict[TrainingJob, str] = {}
_ACTIVE_LOCK = threading.Lock()
_REGISTER_LOCK = threading.Lock()
_LAST_START: dict[str, float] = {}  # owner -> time.time() of their last training start


def last_starts() -> dict[str, float]:
    """When each person last started a training in this server (time.time())."""
    with _ACTIVE_LOCK:
        return dict(_LAST_START)


def active_trainings() -> dict[str, int]:
    """Trainings running or queued in this server, per owner."""
    with _ACTIVE_LOCK:
        counts: dict[str, int] = {}
        for owner in _ACTIVE.values():
            counts[owner] = counts.get(owner, 0) + 1
        return counts


def training_blocker(actor: people.Actor, home: Path | None = None) -> str | None:
    """The sentence that says why this person cannot start a training now (a limit), or None."""
    try:
        _check_limits(actor, Path(home or paths.home_dir()))
    except people.LimitReached as exc:
        return str(exc)
    return None


def _check_limits(actor: people.Actor, home: Path) -> None:
    if not actor.signed_in:
        return
    runs = people.owned_by((r.metadata.owner for r in store.list_runs(home, include_shipped=False)), actor)
    people.check_new_training(actor, active_trainings().get(actor.id, 0), runs)


def alone_seconds(config: TrainConfig, home: Path | None = None) -> float | None:
    """Seconds from click to result for `config` with the machine to itself (estimate.estimate from this
    machine's finished runs), or None when nothing measured a speed here yet."""
    try:
        guess = estimate.estimate(config, store.list_runs(home))
    except ConfigError:
        return None
    return None if guess is None else guess.seconds


def queue_wait(alone: float) -> queue_times.Wait | None:
    """When a training needing `alone` seconds by itself (estimate.estimate) would start and end if started now,
    behind this server's trainings (running ones share the cores, waiting ones go first); None when trainings go to
    a Ray cluster, whose queue this server does not see."""
    if executors.executor_name() != executors.LOCAL:
        return None
    return _wait_behind(alone, None)


def _wait_behind(alone: float, job: TrainingJob | None) -> queue_times.Wait:
    """When `job` (None: a new training needing `alone` seconds, queued last) starts and ends, with every training
    of this server played forward (queue_times.play_queue): those running share the cores, those waiting start in
    the queue's order."""
    with _ACTIVE_LOCK:
        active = list(_ACTIVE)
    running: list[tuple[object, float]] = []
    waiting: list[tuple[int, object, float]] = []
    for other in active:
        snap = other.snapshot()
        need = other.alone_seconds if other.alone_seconds is not None else alone
        if snap.state in ("running", "stopping"):
            running.append((other, need * (1.0 - snap.progress)))
        elif snap.state == "queued" and snap.queue_position is not None:
            waiting.append((snap.queue_position, other, need))
    waiting.sort(key=lambda entry: entry[0])
    order = [who for who, _ in running] + [who for _, who, _ in waiting]
    needs = [need for _, _, need in waiting]
    if job is None or job not in order:
        order.append(job)
        needs.append(alone)
    times = queue_times.play_queue([need for _, need in running], needs, SLOTS.capacity())
    mine = order.index(job)
    start, end = times[mine]
    ahead = len(running) - (1 if mine < len(running) else 0) + max(0, mine - len(running))
    return queue_times.Wait(start, end, ahead)


def warm_up() -> None:
    """The Train page was opened: have a warm worker waiting for each free training slot (local executor only)."""
    if executors.executor_name() == executors.LOCAL:
        WARM.warm_up()


class TrainingJob:
    """One training: `start()`, poll `snapshot()`, `stop()` any time; the worker saves the run when it ends."""

    def __init__(
        self,
        config: TrainConfig,
        home: Path | None = None,
        data_dir: str | None = None,
        run_id: str | None = None,
        command: str | None = None,
        executor: str | None = None,
        *,
        actor: people.Actor,
    ) -> None:
        self.config = config.resolved()
        self.actor = actor
        self.owner = actor.id  # recorded in the run's metadata
        self.started_at: float | None = None  # time.time() of start(): the Class page's "last activity"
        self.command = command
        self.run_id = paths.validate_run_id(run_id) if run_id else None
        self.preset = PRESETS[self.config.preset]
        # Absolute: the worker may run in another folder or on another node (then this must be shared storage).
        self.home = Path(home or paths.home_dir()).absolute()
        self.data_dir = data_dir
        self.executor = executor or executors.executor_name()
        if self.executor not in (executors.LOCAL, executors.RAY):
            raise ConfigError(f"unknown executor {self.executor!r}; choose {executors.LOCAL!r} or {executors.RAY!r}")
        self._cond = threading.Condition()  # guards _s; notified on every event
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._s = LiveState(epochs=int(self.config.epochs), executor=self.executor)
        if self.executor == executors.RAY:
            self._s.phase = "waiting for cluster resources"
        self._thread: threading.Thread | None = None
        self._handle: executors.WorkerHandle | None = None
        self.alone_seconds: float | None = None  # the estimate with the machine to itself, set at start()
        self._worker_gone = False

    # --- control -------------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        """Start the job's thread (once), which queues, launches the worker and follows it; returns self.

        people.LimitReached (nothing started) when the actor already has as many trainings running or queued, or
        runs stored, as a person may (FMNIST_TRAININGS_PER_USER, FMNIST_RUNS_PER_USER).
        """
        if self._thread is None:
            self._register()
            self.started_at = time.time()
            self.alone_seconds = alone_seconds(self.config, self.home)
            self._thread = threading.Thread(target=self._run, name=f"training-{id(self):x}", daemon=True)
            self._thread.start()
        return self

    def _register(self) -> None:
        # One lock around the check and the registration: two tabs clicking Train at once cannot both pass.
        with _REGISTER_LOCK:
            _check_limits(self.actor, self.home)
            with _ACTIVE_LOCK:
                _ACTIVE[self] = self.owner
                _LAST_START[self.owner] = time.time()

    def stop(self) -> None:
        """Ask to stop after the current batch; what was learned is kept and saved as a stopped run."""
        self._stop.set()
        with self._cond:
            if self._s.state == "running":
                self._s.state = "stopping"
        handle = self._handle
        if handle is not None:
            handle.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (True) or the timeout passes (False)."""
        if self._thread is None:
            return False
        return self._ended.wait(timeout)

    @property
    def finished(self) -> bool:
        with self._cond:
            return self._s.finished

    def expected_wait(self) -> queue_times.Wait | None:
        """While queued or running: when this training should start and end, with the server's other trainings
        sharing the cores and the queue before it (`ahead`: those running beside it or before it); None without
        an estimate, on Ray, or once it ended."""
        if self.alone_seconds is None or self.executor != executors.LOCAL or self.finished:
            return None
        return _wait_behind(self.alone_seconds, self)

    def snapshot(self) -> Snapshot:
        """A frozen copy of the live state, safe to read from any thread."""
        position = SLOTS.position(self)
        with self._cond:
            return self._s.snapshot(self.config, time.monotonic(), position)

    def retry_save(self) -> str:
        """Ask the worker to save again after a failed save (full disk, read-only store); returns the run id."""
        with self._cond:
            if self._s.save_error is None or self._worker_gone:
                raise store.StoreError("nothing to save: the model is gone or was saved already")
            attempts = self._s.save_attempts
        handle = self._handle
        if handle is None or not handle.retry_save():
            raise store.StoreError("nothing to save: the training process has ended and the model with it")
        with self._cond:
            answered = self._cond.wait_for(
                lambda: self._s.save_attempts > attempts or self._worker_gone, RETRY_TIMEOUT_SECONDS
            )
            if not answered or self._s.save_attempts == attempts:
                raise store.StoreError("the training process did not answer the retry; the model is gone")
            if self._s.save_error:
                raise store.StoreError(self._s.save_error)
            return str(self._s.run_id)

    def _unregister(self) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.pop(self, None)

    # --- the job's thread ------------------------------------------------------------------------
    def _apply(self, event: Event) -> None:
        with self._cond:
            self._s.apply(event, time.monotonic())
            if isinstance(event, Started) and self._stop.is_set() and self._s.state == "running":
                self._s.state = "stopping"
            self._cond.notify_all()

    def _end(self, error: str | None = None) -> None:
        with self._cond:
            if error is not None:
                self._s.fail(error, time.monotonic())
            self._cond.notify_all()
        self._ended.set()

    def _run(self) -> None:
        with self._cond:
            self._s.started = time.monotonic()
        local = self.executor == executors.LOCAL
        if local and not SLOTS.acquire(self, self.owner, self._stop):
            self._apply(Cancelled())
            self._end()
            self._unregister()
            return
        holding = local
        try:
            if local:
                with self._cond:
                    self._s.state = "stopping" if self._stop.is_set() else "running"
                    self._s.phase = PHASE_STARTING
            spec = WorkerSpec(
                config=self.config,
                home=str(self.home),
                data_dir=self.data_dir,
                run_id=self.run_id,
                command=self.command,
                executor=self.executor,
                owner=self.owner,
                parent_pid=os.getpid() if local else None,
                launched_at=time.time(),  # wall clock: the worker may be on another node (Ray)
                scheduling=settings.worker_scheduling(),
            )
            self._handle = handle = executors.launch(self.executor, spec, warm=WARM)
            if self._stop.is_set():
                handle.stop()
            for event in handle.events():
                self._apply(event)
                if self.finished:
                    if holding:  # a worker lingering for a save retry no longer needs a training slot
                        SLOTS.release()
                        holding = False
                    self._unregister()  # nor does it count as its owner's training any more
                    self._ended.set()
            death = handle.death()
            with self._cond:
                self._worker_gone = True
            if not self.finished:
                self._end(death or "the training process ended without reporting a result")
        except Exception as exc:  # the thread must never die silently: the message reaches the UI
            self._end("".join(traceback.format_exception_only(type(exc), exc)).strip())
        finally:
            if holding:
                SLOTS.release()
            with self._cond:
                self._worker_gone = True
                self._cond.notify_all()
            self._ended.set()
            self._unregister()
