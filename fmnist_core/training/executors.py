"""Where a training runs: a local process (default; a warm one from fmnist_core.training.warm when it has one ready, else one
spawned for it) or a Ray actor (FMNIST_RAY_ADDRESS set).

Both give the job a `WorkerHandle`: a blocking stream of progress events, `stop()`, `retry_save()`, and after the
stream ends a sentence saying how the worker died (or None when it ended normally). The job owns the thread that
reads the stream; nothing here touches TensorFlow.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from fmnist_core import settings
from fmnist_core.training.events import Event
from fmnist_core.training.worker import WorkerSpec, process_main

LOCAL = "local-process"
RAY = "ray"
WARM_READY = "warm-ready"  # what a warm worker sends once TensorFlow is imported and the data loaded


def executor_name() -> str:
    """ "ray" when FMNIST_RAY_ADDRESS names a cluster, else "local-process"."""
    return RAY if settings.ray_address() else LOCAL


class WarmSource(Protocol):
    def take(self, spec: WorkerSpec) -> LocalProcess | None:
        """A warm worker already sent `spec`, or None when none is there (then a cold one is spawned)."""
        ...


class WorkerHandle(Protocol):
    def events(self) -> Iterator[Event]:
        """Progress events as they come; ends when the worker is gone."""
        ...

    def stop(self) -> None:
        """Ask the fit to end after the current batch (the partial model is still evaluated and saved)."""
        ...

    def retry_save(self) -> bool:
        """Ask a worker whose save failed to save again; False when no worker is there to ask."""
        ...

    def death(self) -> str | None:
        """After events() ends: how the worker died, as a sentence, or None when it exited normally."""
        ...


def describe_exit(exitcode: int | None, what: str = "the training process") -> str | None:
    """A sentence for an abnormal exit code (negative: killed by that signal), None for a clean exit."""
    if exitcode == 0:
        return None
    if exitcode is None:
        return f"{what} did not exit"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        why = {
            "SIGKILL": " (the system's out-of-memory killer sends this signal too)",
            "SIGABRT": " (a native abort, e.g. a crash inside TensorFlow)",
            "SIGSEGV": " (a native crash)",
        }.get(name, "")
        return f"{what} died: it was killed by {name}{why}"
    return f"{what} died: it exited with code {exitcode}"


def spawn_process(
    target: Callable[..., None], *args: Any, name: str = "fmnist-training"
) -> tuple[BaseProcess, Connection]:
    """Spawn (not fork: the server may hold TensorFlow or Streamlit threads) `target(*args, conn)`; returns the
    process and this side of its duplex pipe. The calling thread must outlive the process: Linux delivers the
    parent-death signal when that thread ends."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe(duplex=True)
    # daemon: multiprocessing terminates it at the server's normal exit; PDEATHSIG covers the other exits.
    process = ctx.Process(target=target, args=(*args, child), name=name, daemon=True)
    with _main_script_hidden():
        process.start()
    child.close()
    return process, conn


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Spawn runs the parent's __main__ script again in the child (as __mp_main__) before the target. Under
    `streamlit run` that script is app.py (Streamlit installs each page run as __main__), so every worker would
    draw the app without Streamlit and fill the server's log. Workers' targets live in fmnist_core and need nothing
    from __main__: while start() takes the child's preparation data, __main__ is a module without a file."""
    with _MAIN_LOCK:
        main = sys.modules["__main__"]
        placeholder = types.ModuleType("__main__")
        sys.modules["__main__"] = placeholder
        try:
            yield
        finally:
            if sys.modules["__main__"] is placeholder:  # unless a new script run installed its own meanwhile
                sys.modules["__main__"] = main


class LocalProcess:
    """A worker process and its pipe: spawned cold for one spec (`LocalProcess.spawn`) or a warm one from
    fmnist_core.training.warm that was sent its spec."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self._conn = conn
        self._send_lock = threading.Lock()

    @classmethod
    def spawn(cls, spec: WorkerSpec) -> LocalProcess:
        """A cold worker: a new process that imports TensorFlow and loads the data after the click."""
        return cls(*spawn_process(process_main, spec))

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def events(self) -> Iterator[Event]:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            if message != WARM_READY:  # a worker taken while warming says so before its training's events
                yield message
        self.process.join(5)
        self._conn.close()

    def _command(self, message: str) -> bool:
        with self._send_lock:
            try:
                self._conn.send(message)
                return True
            except (OSError, ValueError):  # the worker is gone or the pipe was closed
                return False

    def stop(self) -> None:
        self._command("stop")

    def retry_save(self) -> bool:
        return self.process.is_alive() and self._command("retry")

    def death(self) -> str | None:
        return describe_exit(self.process.exitcode)


def launch(name: str, spec: WorkerSpec, warm: WarmSource | None = None) -> WorkerHandle:
    """Start a worker for `spec` on the named executor; locally a warm worker from `warm` when it has one."""
    if name == RAY:
        from fmnist_core.training.ray_executor import RayActor

        return RayActor(spec)
    handle = warm.take(spec) if warm is not None else None
    return handle if handle is not None else LocalProcess.spawn(spec)
