"""Training worker processes: faults stay contained (SIGKILL mid-epoch and mid-save, a native abort, an exit code),
the failed state says how the worker died, other jobs and the store are unaffected, and no worker outlives its
server (SIGTERM, SIGKILL, Ctrl-C of the parent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

import helpers
from fmnist_core import people, settings
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import store
from fmnist_core.training import executors, jobs, process_setup
from fmnist_core.training.jobs import TrainingJob
from helpers import PYTHON, REAL_DATA_DIR, requires_real_data, subprocess_env

TIMEOUT = 180


def poll(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    helpers.poll(condition, what, timeout)


def long_job(home: Path) -> TrainingJob:
    """Long enough (3 epochs of 20,000 images) never to end by itself during a test."""
    config = TrainConfig(preset="fast", epochs=3, limit=20_000, evaluate_each_epoch=False)
    return TrainingJob(config, home=home, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL)


def tiny_job(home: Path, **changes) -> TrainingJob:
    config = TrainConfig(**{"preset": "notebook", "epochs": 1, "limit": 600, "evaluate_each_epoch": False, **changes})
    return TrainingJob(config, home=home, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL)


def gone(pid: int) -> bool:
    """True once the process no longer runs (reaped, or a zombie waiting for its reaper)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


PRIORITY_PROBE = textwrap.dedent(
    """
    import os, threading, json
    from fmnist_core.training import process_setup
    early = threading.Event()
    threading.Thread(target=early.wait, daemon=True).start()  # a thread that exists before the call
    applied = process_setup.lower_priority()
    later = threading.Thread(target=early.wait, daemon=True)  # and one started after it
    later.start()
    tids = [int(t) for t in os.listdir("/proc/self/task")]
    print(json.dumps({"applied": applied,
                      "nice": sorted({os.getpriority(os.PRIO_PROCESS, t) for t in tids}),
                      "idle": sorted({os.sched_getscheduler(t) == os.SCHED_IDLE for t in tids}),
                      "threads": len(tids)}))
    """
)


@pytest.mark.parametrize(("mode", "idle"), [(None, False), ("nice", False), ("idle", True)])
def test_lower_priority_moves_every_thread(mode: str | None, idle: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != settings.WORKER_SCHEDULING}
    if mode is not None:
        env[settings.WORKER_SCHEDULING] = mode
    out = subprocess.run(
        [sys.executable, "-c", PRIORITY_PROBE], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["threads"] >= 3
    assert got["nice"] == [process_setup.WORKER_NICE]
    assert got["idle"] == [idle]
    assert got["applied"] == (
        f"nice {process_setup.WORKER_NICE}, SCHED_IDLE" if idle else f"nice {process_setup.WORKER_NICE}"
    )


def test_describe_exit_names_the_signal_or_code() -> None:
    assert executors.describe_exit(0) is None
    assert executors.describe_exit(3) == "the training process died: it exited with code 3"
    assert executors.describe_exit(-9) == (
        "the training process died: it was killed by SIGKILL (the system's out-of-memory killer sends this signal too)"
    )
    assert executors.describe_exit(-6).startswith("the training process died: it was killed by SIGABRT (a native abort")
    assert executors.describe_exit(-15) == "the training process died: it was killed by SIGTERM"


@pytest.mark.slow
@requires_real_data
def test_sigkill_mid_epoch_fails_that_job_within_2_s_and_another_job_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FMNIST_MAX_TRAININGS", "2")
    victim, other = long_job(tmp_path).start(), tiny_job(tmp_path).start()
    poll(lambda: victim.snapshot().batch > 0, "the victim's first batch")
    pid = victim.snapshot().worker_pid
    assert pid not in (None, os.getpid()) and psutil.Process(pid).nice() >= process_setup.WORKER_NICE
    # Every thread (TensorFlow's pools included) runs below the server: nice is per thread on Linux.
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) > 3, "TensorFlow's thread pools start before the first batch"
    assert {tid: os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == dict.fromkeys(
        threads, process_setup.WORKER_NICE
    )
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    poll(lambda: victim.finished, "the killed job to end", timeout=2)
    assert time.monotonic() - killed < 2
    snap = victim.snapshot()
    assert (snap.state, snap.phase, snap.run_id) == ("failed", "failed", None)
    assert snap.error.startswith("the training process died: it was killed by SIGKILL")
    assert snap.epoch == 1 and snap.batch > 0  # the progress seen before the kill stays visible

    assert other.wait(TIMEOUT)
    done = other.snapshot()
    assert (done.state, done.error) == ("done", None), done.error
    assert [r.id for r in store.list_runs(tmp_path, include_shipped=False)] == [done.run_id]
    assert jobs.SLOTS.running() == 0  # both slots were given back


@requires_real_data
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("abort-at-batch", "the training process died: it was killed by SIGABRT (a native abort"),
        ("exit-at-batch", "the training process died: it exited with code 3"),
    ],
)
def test_a_worker_that_aborts_or_exits_fails_its_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, message: str
) -> None:
    monkeypatch.setenv(settings.TEST_FAULT, fault)  # read by the worker after its first batch
    job = tiny_job(tmp_path).start()
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert snap.state == "failed" and snap.error.startswith(message), snap.error
    assert snap.batch >= 1 and snap.run_id is None
    assert store.list_runs(tmp_path, include_shipped=False) == [] and not list(tmp_path.iterdir())


@requires_real_data
def test_sigkill_mid_save_lists_nothing_half_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.TEST_FAULT, "hang-in-save")  # the worker pauses before renaming the model into place
    job = tiny_job(tmp_path, preset="fast").start()
    poll(lambda: any(tmp_path.glob(".*.tmp.keras")) or job.finished, "the model's temporary file")
    snap = job.snapshot()
    assert (snap.state, snap.phase) == ("running", "saving")
    os.kill(snap.worker_pid, signal.SIGKILL)
    assert job.wait(2)
    snap = job.snapshot()
    assert snap.state == "failed" and "SIGKILL" in snap.error and snap.run_id is None
    assert snap.test_accuracy is not None  # it had evaluated; only the save was cut short
    assert store.list_runs(tmp_path, include_shipped=False) == []
    # Only the store's hidden temporary file is left behind, and nothing lists it.
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert any(tmp_path.glob(".*.tmp.keras"))
    with pytest.raises(store.StoreError, match="nothing to save"):
        job.retry_save()


PARENT = """
import signal, sys, time
from fmnist_core import people
from fmnist_core.training.jobs import TrainConfig, TrainingJob

if __name__ == "__main__":  # the spawned worker imports this file as __mp_main__
    # Ctrl-C as in a terminal: a child inherits an ignored SIGINT, and Python then installs no handler of its own
    # (a suite started as a script's background job has SIGINT ignored in every process).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    config = TrainConfig(preset="fast", epochs=3, limit=20_000, evaluate_each_epoch=False)
    job = TrainingJob(config, home=sys.argv[1], data_dir=sys.argv[2], actor=people.LOCAL).start()
    while job.snapshot().worker_pid is None:
        time.sleep(0.02)
    print(job.snapshot().worker_pid, flush=True)
    time.sleep(600)
"""


def signal_state(pid: int) -> str:
    """Each thread's name, state, kernel wait channel and signal masks, for a process that did not react."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        try:
            status = dict(line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line)
            wchan = (task / "wchan").read_text()
        except OSError:
            continue
        names = ("Name", "State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
        fields = " ".join(f"{k}={status.get(k, '?').strip()}" for k in names)
        lines.append(f"{task.name}: {fields} wchan={wchan}")
    return "\n".join(lines)


@requires_real_data
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_no_worker_outlives_its_server(tmp_path: Path, sig: signal.Signals) -> None:
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(PARENT))
    parent = subprocess.Popen(
        [PYTHON, str(script), str(tmp_path / "home"), str(REAL_DATA_DIR)],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(tmp_path / "home"),
    )
    try:
        pid = int(parent.stdout.readline())
        assert psutil.Process(pid).ppid() == parent.pid and not gone(pid)
        parent.send_signal(sig)
        try:
            parent.wait(60)  # its exit ends the worker first; slow while the suite's other process trains
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within 60 s of {sig.name}:\n{signal_state(parent.pid)}")
        poll(lambda: gone(pid), f"worker {pid} to end after the server got {sig.name}", timeout=5)
    finally:
        parent.kill()
        parent.wait()


def test_a_worker_imports_tensorflow_without_scikit_learn_and_can_still_import_it_later(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from fmnist_core.nets.quiet_tf import quiet_import_tensorflow
        quiet_import_tensorflow(without_sklearn=True)
        import keras
        print("sklearn" in sys.modules, "keras" in sys.modules)
        import sklearn  # a later import still works
        print(sklearn.__name__)
        """
    )
    out = subprocess.run(
        [PYTHON, "-c", code], env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out == ["False", "True", "sklearn"]
