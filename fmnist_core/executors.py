"""Where a training runs: a spawned local process (default) or a Ray actor (FMNIST_RAY_ADDRESS set).

Both give the job a `WorkerHandle`: a blocking stream of progress events, `stop()`, `retry_save()`, and after the
stream ends a sentence saying how the worker died (or None when it ended normally). The job owns the thread that
reads the stream; nothing here touches TensorFlow.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from typing import Protocol

from fmnist_core.progress import Event
from fmnist_core.worker import WorkerSpec, process_main

LOCAL = "local-process"
RAY = "ray"
RAY_ADDRESS_ENV = "FMNIST_RAY_ADDRESS"


def executor_name() -> str:
    """ "ray" when FMNIST_RAY_ADDRESS names a cluster, else "local-process"."""
    return RAY if os.environ.get(RAY_ADDRESS_ENV, "").strip() else LOCAL


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


class LocalProcess:
    """A worker process spawned (not forked: the server may hold TensorFlow or Streamlit threads) from the
    calling thread, which must outlive it: Linux delivers the parent-death signal when that thread ends."""

    def __init__(self, spec: WorkerSpec) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._send_lock = threading.Lock()
        # daemon: multiprocessing terminates it at the server's normal exit; PDEATHSIG covers the other exits.
        self.process = ctx.Process(target=process_main, args=(spec, child), name="fmnist-training", daemon=True)
        self.process.start()
        child.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def events(self) -> Iterator[Event]:
        while True:
            try:
                yield self._conn.recv()
            except (EOFError, OSError):
                break
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


def launch(name: str, spec: WorkerSpec) -> WorkerHandle:
    """Start a worker for `spec` on the named executor."""
    if name == RAY:
        from fmnist_core.ray_executor import RayActor

        return RayActor(spec)
    return LocalProcess(spec)
