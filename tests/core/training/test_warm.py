"""fmnist_core.training.warm: warm worker processes take the next training and are never reused; unused ones end after the
idle time; a killed one is replaced and trainings still work; Stop and injected faults behave as with a cold worker;
a warm worker trains exactly as a cold one. Real processes, real data, tiny trainings (one worker slot)."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

import helpers
from fmnist_core import people, settings
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import store
from fmnist_core.training import jobs, process_setup, warm
from fmnist_core.training.jobs import TrainingJob
from helpers import PYTHON, REAL_DATA_DIR, requires_real_data, subprocess_env

TIMEOUT = 300  # a warm-up imports TensorFlow and rehearses: slow on a busy 2-core machine

pytestmark = [requires_real_data, pytest.mark.slow]  # every test starts warm workers (each imports TensorFlow)


def poll(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    helpers.poll(condition, what, timeout, interval=0.05)


def gone(pid: int) -> bool:
    """True once the process no longer runs (reaped, or a zombie waiting for its reaper)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def tiny_job(home: Path, **changes) -> TrainingJob:
    config = TrainConfig(**{"preset": "fast", "epochs": 1, "limit": 300, "evaluate_each_epoch": False, **changes})
    return TrainingJob(config, home=home, data_dir=str(REAL_DATA_DIR), actor=people.LOCAL)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[warm.WarmPool]:
    """The server's pool with one training slot (one warm worker at a time); every warm worker ends afterwards."""
    monkeypatch.setenv("FMNIST_MAX_TRAININGS", "1")
    monkeypatch.delenv(settings.WARM_IDLE_SECONDS, raising=False)
    monkeypatch.delenv(settings.TEST_FAULT, raising=False)
    jobs.WARM.shut_down()
    yield jobs.WARM
    jobs.WARM.shut_down()


def ready_worker(pool: warm.WarmPool, besides: tuple[int, ...] = ()) -> int:
    """Ask for warm workers and wait until one (not in `besides`) is ready; returns its pid.

    Asked from a thread that ends once the worker is ready, as a Streamlit script run ends: Linux would kill a
    worker spawned by that thread then (the parent-death signal follows the spawning thread), so the trainings
    below would fail if the pool did not spawn from its own thread.
    """
    done = threading.Event()

    def script_run() -> None:
        jobs.warm_up()
        done.wait(TIMEOUT)

    asking = threading.Thread(target=script_run)
    asking.start()
    found: list[int] = []

    def ready() -> bool:
        found[:] = [pid for pid in pool.ready_pids() if pid not in besides]
        return bool(found)

    try:
        poll(ready, "a ready warm worker")
    finally:
        done.set()
        asking.join()
    return found[0]


def test_idle_seconds_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, seconds in (("2", 2.0), ("0", 0.0), ("-5", 0.0), ("soon", 300.0)):
        monkeypatch.setenv(settings.WARM_IDLE_SECONDS, value)
        assert warm.idle_seconds() == seconds
    monkeypatch.delenv(settings.WARM_IDLE_SECONDS)
    assert warm.idle_seconds() == warm.DEFAULT_IDLE_SECONDS == 300


def test_zero_idle_seconds_turns_warm_workers_off(pool: warm.WarmPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.WARM_IDLE_SECONDS, "0")
    jobs.warm_up()
    time.sleep(3 * warm.POLL_SECONDS)
    assert pool.pids() == []


def test_each_training_takes_a_fresh_warm_worker_and_it_ends_after(pool: warm.WarmPool, tmp_path: Path) -> None:
    first_pid = ready_worker(pool)
    assert psutil.Process(first_pid).nice() == process_setup.WORKER_NICE  # prepared like any worker
    first = tiny_job(tmp_path).start()
    assert first.wait(TIMEOUT)
    snap = first.snapshot()
    assert (snap.state, snap.error, snap.worker_pid) == ("done", None, first_pid)
    poll(lambda: gone(first_pid), "the used worker to exit", timeout=30)  # never kept for another training

    second_pid = ready_worker(pool, besides=(first_pid,))  # the pool started a fresh one after the training
    second = tiny_job(tmp_path, seed=7).start()
    assert second.wait(TIMEOUT)
    again = second.snapshot()
    assert (again.state, again.error, again.worker_pid) == ("done", None, second_pid)
    assert second_pid != first_pid
    assert sorted(r.id for r in store.list_runs(tmp_path, include_shipped=False)) == sorted([snap.run_id, again.run_id])


def test_an_unused_warm_worker_ends_after_the_idle_time(pool: warm.WarmPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.WARM_IDLE_SECONDS, "2")
    pid = ready_worker(pool)
    assert not gone(pid)
    poll(lambda: gone(pid), "the idle warm worker to end", timeout=60)
    time.sleep(3 * warm.POLL_SECONDS)
    assert pool.pids() == []  # nobody asked again: no new one


def test_a_killed_warm_worker_is_replaced_and_training_still_works(pool: warm.WarmPool, tmp_path: Path) -> None:
    killed = ready_worker(pool)
    os.kill(killed, signal.SIGKILL)
    replacement = ready_worker(pool, besides=(killed,))
    job = tiny_job(tmp_path).start()
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert (snap.state, snap.error, snap.worker_pid) == ("done", None, replacement)


def test_a_warm_worker_killed_after_it_was_taken_leaves_the_training_to_a_cold_one(
    pool: warm.WarmPool, tmp_path: Path
) -> None:
    taken = ready_worker(pool)
    os.kill(taken, signal.SIGSTOP)  # it cannot answer the spec: dies before its training reports anything
    try:
        job = tiny_job(tmp_path).start()
        poll(lambda: taken not in pool.pids(), "the job to take the warm worker", timeout=30)
    finally:
        os.kill(taken, signal.SIGKILL)
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert (snap.state, snap.error) == ("done", None)
    assert snap.worker_pid not in (None, taken)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("abort-at-batch", "the training process died: it was killed by SIGABRT (a native abort"),
        ("exit-at-batch", "the training process died: it exited with code 3"),
    ],
)
def test_a_warm_worker_that_aborts_or_exits_fails_its_job(
    pool: warm.WarmPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, message: str
) -> None:
    monkeypatch.setenv(settings.TEST_FAULT, fault)  # the rehearsal must not trip it; the real training does
    pid = ready_worker(pool)
    job = tiny_job(tmp_path).start()
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert snap.worker_pid == pid
    assert snap.state == "failed" and snap.error.startswith(message), snap.error
    assert snap.batch >= 1 and snap.run_id is None
    assert store.list_runs(tmp_path, include_shipped=False) == [] and not list(tmp_path.iterdir())
    assert jobs.SLOTS.running() == 0


def test_a_warm_worker_is_not_handed_out_under_other_settings(
    pool: warm.WarmPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = ready_worker(pool)
    monkeypatch.setenv(settings.TEST_FAULT, "exit-at-batch")  # set after it was spawned: it never saw it
    job = tiny_job(tmp_path).start()
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert snap.worker_pid != pid  # a cold worker, which reads the fault
    assert snap.error == "the training process died: it exited with code 3"
    poll(lambda: gone(pid), "the outdated warm worker to end", timeout=30)


def test_stop_with_a_warm_worker_keeps_a_stopped_run(pool: warm.WarmPool, tmp_path: Path) -> None:
    pid = ready_worker(pool)
    job = TrainingJob(
        TrainConfig(preset="fast", epochs=3, limit=20_000, evaluate_each_epoch=False),
        home=tmp_path,
        data_dir=str(REAL_DATA_DIR),
        actor=people.LOCAL,
    ).start()
    poll(lambda: job.snapshot().batch > 0 or job.finished, "the first batch")
    job.stop()
    assert job.wait(TIMEOUT)
    snap = job.snapshot()
    assert (snap.state, snap.error, snap.worker_pid) == ("stopped", None, pid)
    assert snap.epoch == 1 and snap.batch < snap.batches_per_epoch
    (run,) = store.list_runs(tmp_path, include_shipped=False)
    assert (run.id, run.status) == (snap.run_id, "stopped")


def test_a_warm_worker_trains_exactly_as_a_cold_one(pool: warm.WarmPool, tmp_path: Path) -> None:
    cold = tiny_job(tmp_path / "cold", seed=3).start()  # no warm worker yet: spawned at the click
    assert cold.wait(TIMEOUT)
    pid = ready_worker(pool)
    warm_job = tiny_job(tmp_path / "warm", seed=3).start()
    assert warm_job.wait(TIMEOUT)
    a, b = cold.snapshot(), warm_job.snapshot()
    assert (a.state, b.state, b.worker_pid) == ("done", "done", pid) and a.worker_pid != pid
    assert (a.test_loss, a.test_accuracy) == (b.test_loss, b.test_accuracy)
    cold_model = store.load_model(a.run_id, home=tmp_path / "cold")
    warm_model = store.load_model(b.run_id, home=tmp_path / "warm")
    assert [layer.name for layer in cold_model.layers] == [layer.name for layer in warm_model.layers]
    for x, y in zip(cold_model.get_weights(), warm_model.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


SERVER = """
import sys, time
from fmnist_core.training import jobs

if __name__ == "__main__":  # the spawned workers import this file as __mp_main__
    jobs.warm_up()
    while not jobs.WARM.ready_pids():
        time.sleep(0.05)
    print(jobs.WARM.ready_pids()[0], flush=True)
    time.sleep(600)
"""


def test_no_warm_worker_outlives_its_server(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(SERVER))
    server = subprocess.Popen(
        [PYTHON, str(script)], stdout=subprocess.PIPE, text=True, env=subprocess_env(tmp_path / "home")
    )
    try:
        pid = int(server.stdout.readline())
        assert psutil.Process(pid).ppid() == server.pid and not gone(pid)
        server.kill()
        server.wait(30)
        poll(lambda: gone(pid), f"warm worker {pid} to end after the server was killed", timeout=10)
    finally:
        server.kill()
        server.wait()
