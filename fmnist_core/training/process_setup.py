"""How a training's process runs beside the web server: below it in priority (nice 19, SCHED_IDLE on request),
killed with it, deaf to the terminal's Ctrl-C. Used by local workers, cold or warm, and by Ray actors."""

from __future__ import annotations

import os
import signal
import sys

from fmnist_core import settings

WORKER_NICE = 19  # the lowest: pages stay responsive while a training runs, and idle cores still go to training
# SCHED_IDLE keeps pages quicker still while trainings run, but trains slower on an otherwise idle machine, so it is
# opt-in (the measurements: docs/deploying.md).
# settings.WORKER_SCHEDULING: "nice" (default): nice 19; "idle": SCHED_IDLE as well


def lower_priority(scheduling: str | None = None) -> str:
    """Put this process's threads (and those it starts from now on) below the web server; returns what was applied.

    Called before TensorFlow starts its thread pools, which inherit the policy and the nice value. On Linux both
    are per thread, so threads already running are moved one by one. `scheduling` ("nice" or "idle") is the
    server's FMNIST_WORKER_SCHEDULING, carried in the WorkerSpec to a Ray node; a local process reads it itself.
    """
    applied = []
    try:
        os.nice(WORKER_NICE)
        applied.append(f"nice {WORKER_NICE}")
    except OSError:
        pass
    wanted = scheduling or settings.worker_scheduling()
    idle = wanted == "idle" and hasattr(os, "SCHED_IDLE")
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:  # no /proc: only the calling thread (0) can be moved
        threads = [0]
    for tid in threads:
        try:
            if tid and os.getpriority(os.PRIO_PROCESS, tid) < WORKER_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, WORKER_NICE)
            if idle:
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            if tid == os.getpid() or tid == 0:  # the main thread refused: the policy was not applied
                idle = False
            # otherwise a thread that ended meanwhile: nothing to move
    if idle:
        applied.append("SCHED_IDLE")
    return ", ".join(applied) or "unchanged"


def _die_with_parent(parent_pid: int | None) -> None:
    """Ask Linux to SIGKILL this process when the server dies (even by SIGKILL), so no worker is orphaned."""
    if parent_pid is None:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the server died before prctl took effect
        os._exit(1)


def prepare_process(parent_pid: int | None) -> None:
    """What a local worker process does first (cold or warm): die with the server, leave Ctrl-C to it, run below it."""
    _die_with_parent(parent_pid)
    # Ctrl-C in a terminal reaches the whole process group: the server decides (Stop, or ending this process).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority()
