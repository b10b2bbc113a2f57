"""Warm workers: local worker processes started before the Train click, so a training starts at once.

A warm worker is spawned, prepared like any worker (dies with the server, nice 19), imports TensorFlow and Keras,
loads the training and test sets, rehearses one tiny throwaway training (Keras' and TensorFlow's first-use costs:
building, tracing machinery, evaluation, saving), tells the server it is ready, and then waits on its pipe. The
first `WorkerSpec` it receives it trains exactly as a cold worker would (`worker.serve`), and then it exits: a
worker is never reused, so nothing of one training or person reaches the next.

`WarmPool` (server side) keeps up to `wanted()` of them (the free training slots) while someone is about: the Train
page calls `warm_up()` when it is opened, and a training taking a worker counts too. Warm workers left unused for
FMNIST_WARM_IDLE_SECONDS (default 300; 0 turns warm workers off) end. The pool spawns them from its own long-lived
thread, never from a Streamlit script thread: Linux's parent-death signal (process_setup._die_with_parent) fires when the
thread that spawned the process ends, not the process.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from fmnist_core import settings
from fmnist_core.data import fashion_mnist
from fmnist_core.nets.presets import DEFAULT_PRESET, TrainConfig
from fmnist_core.training.events import Event
from fmnist_core.training.executors import LOCAL, WARM_READY, LocalProcess, spawn_process
from fmnist_core.training.process_setup import prepare_process
from fmnist_core.training.worker import Trainer, WorkerSpec, serve

DEFAULT_IDLE_SECONDS = 300.0
POLL_SECONDS = 0.5  # how often the pool thread looks at its workers (readiness, deaths, idleness)
REHEARSAL_IMAGES = 256  # two batches of the default preset: enough to run fit, its validation, evaluate and save


def idle_seconds() -> float:
    """FMNIST_WARM_IDLE_SECONDS: how long warm workers wait unused before they end (0: no warm workers)."""
    return settings.warm_idle_seconds()


def worker_environment() -> dict[str, str]:
    """The settings a worker reads from its environment (FMNIST_*, e.g. FMNIST_TEST_FAULT, FMNIST_DATA_DIR).

    A warm worker got them when it was spawned; it is handed out only while they are still the server's, so it
    behaves as a cold worker spawned at the click would. (TensorFlow's own variables, which importing it in the
    server sets, are left out: they would retire every warm worker the first time a model page loads.)
    """
    return settings.worker_environment()


# --- the warm process ---------------------------------------------------------------------------------------
class _Interrupted(Exception):
    """A spec (or the pool's goodbye) arrived during the rehearsal: the real training goes first."""


def rehearse(conn: Connection) -> None:
    """Train the default preset on a few hundred images into a temporary folder, then forget it.

    The first training in a process pays for Keras' and TensorFlow's first use (docs/performance.md: start-up);
    the rehearsal pays it before the click. Its events go nowhere, and any message on `conn` cuts it short at the
    next event. Keras' session is cleared afterwards, so automatic names count from zero for the real training as
    in a cold worker.
    """

    def send(event: Event) -> None:
        del event
        if conn.poll():  # a spec is waiting, or the pipe was closed
            raise _Interrupted

    config = TrainConfig(preset=DEFAULT_PRESET, epochs=1, limit=REHEARSAL_IMAGES).resolved()
    interrupted = False
    try:  # a test's injected fault is for the real training, not this one
        with settings.without_test_fault(), tempfile.TemporaryDirectory(prefix="fmnist-warm-") as home:
            spec = WorkerSpec(config=config, home=home, data_dir=None, run_id=None, command=None, executor=LOCAL)
            Trainer(spec, send, threading.Event()).run()
    except _Interrupted:
        interrupted = True
    import keras

    keras.backend.clear_session(free_memory=not interrupted)  # with a spec waiting, no full collection first
    if not interrupted:
        # What is left (TensorFlow, Keras, the data) lives as long as the process: a full collection no longer
        # walks it, so none falls inside the training with that cost.
        gc.freeze()


def _import_tensorflow() -> None:
    from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

    quiet_import_tensorflow(without_sklearn=True)


def _load_data() -> None:
    try:
        fashion_mnist.load_train_set()
        fashion_mnist.load_test_set()
    except fashion_mnist.DataError:  # the training itself reports it, with the fix
        pass


def warm_main(parent_pid: int, conn: Connection) -> None:
    """Entry point of a warm worker: prepare, warm up, say ready, then serve the one spec it is sent and exit.

    A spec that arrives while it is still warming up skips the remaining steps (the training does them itself).
    A closed pipe (the pool retiring it, or the server gone) ends it.
    """
    prepare_process(parent_pid)
    for step in (_import_tensorflow, _load_data, lambda: rehearse(conn)):
        if conn.poll():
            break
        step()
    try:
        conn.send(WARM_READY)
        message = conn.recv()
    except (EOFError, OSError):
        return
    if isinstance(message, WorkerSpec):
        serve(message, conn)


# --- the server's side ----------------------------------------------------------------------------------------
class WarmWorker(LocalProcess):
    """A warm worker that was sent its spec. Should it die before its training reports anything (killed while it
    waited, by the out-of-memory killer or a person, and its pipe still took the spec), a cold worker trains
    instead of the training failing: nothing of it had started."""

    def __init__(self, process: BaseProcess, conn: Connection, spec: WorkerSpec) -> None:
        super().__init__(process, conn)
        self._spec = spec
        self._stop_asked = False

    def events(self) -> Iterator[Event]:
        heard = False
        for event in super().events():
            heard = True
            yield event
        if heard or self.process.exitcode == 0:
            return
        if self.process.is_alive():
            self.process.kill()
        cold = LocalProcess.spawn(self._spec)  # from the job's thread, which follows it to its end (PDEATHSIG)
        with self._send_lock:
            self.process, self._conn = cold.process, cold._conn
        if self._stop_asked:
            self.stop()
        yield from super().events()

    def stop(self) -> None:
        self._stop_asked = True
        super().stop()


# --- the pool, in the server ---------------------------------------------------------------------------------
@dataclass
class _Warm:
    process: BaseProcess
    conn: Connection
    environment: dict[str, str]
    born: float
    ready_at: float | None = None


class WarmPool:
    """Up to `wanted()` warm workers while someone is about; `take(spec)` hands one its training."""

    def __init__(self, wanted: Callable[[], int]) -> None:
        self._wanted = wanted
        self._cond = threading.Condition()
        self._workers: list[_Warm] = []
        self._retired: list[BaseProcess] = []
        self._demand_at: float | None = None  # the last warm_up() or take(): someone is about
        self._thread: threading.Thread | None = None

    # --- the API --------------------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Someone opened the Train page: start warm workers for the free slots (unless turned off)."""
        if idle_seconds() <= 0:
            return
        with self._cond:
            self._demand_at = time.monotonic()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="fmnist-warm-pool", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def take(self, spec: WorkerSpec) -> LocalProcess | None:
        """A warm worker sent `spec` (a ready one first, else the one furthest into its warm-up), or None."""
        with self._cond:
            self._collect_ready()
            environment = worker_environment()
            usable = [w for w in self._workers if w.process.is_alive() and w.environment == environment]
            if not usable:
                return None
            chosen = min(usable, key=lambda w: (w.ready_at is None, w.ready_at or w.born))
            self._workers.remove(chosen)
            self._demand_at = time.monotonic()
            self._cond.notify_all()  # the pool thread replaces it when a slot is free
        try:
            chosen.conn.send(spec)
        except (OSError, ValueError):  # it died just now: the caller spawns a cold worker
            self._retire([chosen])
            return None
        return WarmWorker(chosen.process, chosen.conn, spec)

    def ready_pids(self) -> list[int]:
        """The pids of the warm workers ready to take a training now."""
        with self._cond:
            self._collect_ready()
            return [w.process.pid for w in self._workers if w.ready_at is not None and w.process.pid is not None]

    def pids(self) -> list[int]:
        """The pids of every warm worker, ready or still warming up."""
        with self._cond:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def shut_down(self) -> None:
        """End every warm worker now and forget the demand (tests; a server's exit ends them anyway)."""
        with self._cond:
            workers, self._workers = self._workers, []
            self._demand_at = None
        self._retire(workers)
        with self._cond:
            retired, self._retired = self._retired, []
        for process in retired:
            process.join(5)

    # --- the pool thread -----------------------------------------------------------------------------
    def _loop(self) -> None:
        """Tend the workers every POLL_SECONDS or when asked; it lives as long as the server (PDEATHSIG)."""
        while True:
            try:
                self._tend()
            except Exception:  # noqa: BLE001 - this thread must never end: its children would die with it
                traceback.print_exc(file=sys.stderr)
            with self._cond:
                # Nothing to watch and nobody about: sleep until warm_up() (a server that idles when idle).
                about = self._demand_at is not None and time.monotonic() - self._demand_at < idle_seconds()
                self._cond.wait(POLL_SECONDS if self._workers or self._retired or about else None)

    def _tend(self) -> None:
        """Reap dead workers, retire idle, surplus or outdated ones, and spawn the missing ones."""
        now = time.monotonic()
        idle = idle_seconds()
        environment = worker_environment()
        with self._cond:
            self._collect_ready()
            wanted = max(0, self._wanted())
            keep: list[_Warm] = []
            retire: list[_Warm] = []
            for w in sorted(self._workers, key=lambda w: (w.ready_at is None, w.born)):
                if w.environment != environment:
                    self._demand_at = None  # the settings changed: start again when someone asks under the new ones
                    retire.append(w)
                elif not w.process.is_alive() or len(keep) >= wanted:
                    retire.append(w)
                elif w.ready_at is not None and now - max(w.ready_at, self._demand_at or 0.0) >= idle:
                    retire.append(w)  # ready and unused for the idle time since someone was last about
                else:
                    keep.append(w)
            self._workers = keep
            about = self._demand_at is not None and now - self._demand_at < idle
            missing = wanted - len(keep) if about else 0
        self._retire(retire)
        with self._cond:
            self._retired = [p for p in self._retired if p.is_alive()]  # is_alive() reaps the ones that ended
        for _ in range(missing):
            process, conn = spawn_process(warm_main, os.getpid(), name="fmnist-warm")
            spawned = _Warm(process, conn, environment, born=time.monotonic())
            with self._cond:
                still_wanted = self._demand_at is not None  # shut_down() may have come meanwhile
                if still_wanted:
                    self._workers.append(spawned)
            if not still_wanted:
                self._retire([spawned])

    def _collect_ready(self) -> None:
        """Read the ready messages that arrived (under the lock: only one reader per pipe)."""
        for w in self._workers:
            if w.ready_at is None:
                try:
                    if w.conn.poll() and w.conn.recv() == WARM_READY:
                        w.ready_at = time.monotonic()
                except (EOFError, OSError):  # it died while warming up: the next tend reaps it
                    pass

    def _retire(self, workers: list[_Warm]) -> None:
        """End warm workers that hold no training: nothing in them is worth a goodbye."""
        for w in workers:
            w.conn.close()
            if w.process.is_alive():
                w.process.terminate()
        with self._cond:
            self._retired.extend(w.process for w in workers)
