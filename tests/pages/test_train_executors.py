"""The Train page and the CLI on both executors: a local worker process (killed: the page says how it died) and a
Ray cluster (a local head on the loopback address, one per module): a tiny training, Stop, a killed actor, and a
training waiting for cluster resources.

AppTest runs pages/train.py alone and fires no run_every timers, so the tests re-run until the job has ended.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import helpers
from bench.browser import free_port
from fmnist_core import people
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import store
from fmnist_core.training.jobs import TrainingJob
from helpers import PYTHON, REAL_DATA_DIR, REPO_ROOT, requires_real_data, subprocess_env
from page_helpers import button, exceptions, number_input, run_until, texts

pytestmark = requires_real_data
TRAIN_PAGE = REPO_ROOT / "pages" / "train.py"
TIMEOUT = 180
RAY = shutil.which("ray", path=str(Path(PYTHON).parent))


# --- helpers -----------------------------------------------------------------------------------------
def poll(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    helpers.poll(condition, what, timeout)


@pytest.fixture
def train_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """Open the Train page with a preset, epochs and images set; running jobs are stopped at teardown."""
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FMNIST_DATA_DIR", str(REAL_DATA_DIR))
    made: list[AppTest] = []

    def open_page(preset: str = "notebook", epochs: int = 1, images: int = 600) -> AppTest:
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(str(TRAIN_PAGE), default_timeout=60)
        made.append(at)
        at.run()
        at.selectbox[0].set_value(preset).run()
        number_input(at, "Epochs").set_value(epochs)
        number_input(at, "Training images").set_value(images)
        at.run()
        assert not at.exception, exceptions(at)
        return at

    yield open_page
    for at in made:
        job = at.session_state["training_job"] if "training_job" in at.session_state else None
        if job is not None and not job.finished:
            job.stop()
            job.wait(TIMEOUT)


def start_training(at: AppTest) -> TrainingJob:
    button(at, "Train").click().run()
    assert not at.exception, exceptions(at)
    return at.session_state["training_job"]


def kill_after_first_batch(at: AppTest, job: TrainingJob) -> float:
    """SIGKILL the job's worker once it trains; returns the seconds until the job said it failed."""
    run_until(at, lambda: job.snapshot().batch > 0, "the first batch")
    os.kill(job.snapshot().worker_pid, signal.SIGKILL)
    killed = time.monotonic()
    poll(lambda: job.finished, "the job to notice its worker died", timeout=10)
    return time.monotonic() - killed


# --- local worker process ----------------------------------------------------------------------------
def test_a_killed_local_worker_shows_how_it_died_and_the_page_trains_again(train_page, tmp_path: Path) -> None:
    at = train_page(preset="fast", epochs=3, images=20_000)
    job = start_training(at)
    assert job.executor == "local-process"
    assert kill_after_first_batch(at, job) < 2
    at.run()
    assert not at.exception, exceptions(at)
    assert any(
        e.startswith("Training failed: the training process died: it was killed by SIGKILL") for e in texts(at.error)
    ), texts(at.error)
    assert not (tmp_path / "home").exists() or store.list_runs(tmp_path / "home", include_shipped=False) == []

    # The same session trains again: the dead worker took nothing else with it.
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(600)
    at.run()
    again = start_training(at)
    run_until(at, lambda: again.finished, "the second training", redraw=True)
    snap = again.snapshot()
    assert snap.state == "done" and snap.run_id, snap.error
    assert any(snap.run_id in m for m in texts(at.markdown))


# --- Ray ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A Ray head on 127.0.0.1 with 2 CPUs for this module; `ray start --block` tears it down on SIGTERM.

    Token authentication on, with this module's own token for the head and every client (this process, the CLI's):
    Ray 2.59+ turns it on for a head by itself when ~/.ray/auth_token exists, and a client then needs the token too.
    """
    if RAY is None:
        pytest.skip("ray is not installed (pip install -r requirements-ray.txt)")
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    ray_env = {
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keep every Ray port on the loopback address
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    env = dict(os.environ, **ray_env)
    head = subprocess.Popen(
        [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
        + ["--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in (*ray_env, "FMNIST_RAY_ADDRESS")}
    os.environ.update(ray_env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert head.poll() is None, "ray start --head exited"
            assert time.monotonic() < deadline, "the Ray head did not come up within 60 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield address
    finally:
        import ray

        ray.shutdown()
        processes = psutil.Process(head.pid).children(recursive=True) if head.poll() is None else []
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            head.kill()
        for proc in processes:  # whatever the head left behind, by pid
            if proc.is_running():
                proc.kill()
        shutil.rmtree(temp, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def on_ray(ray_address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FMNIST_RAY_ADDRESS", ray_address)
    monkeypatch.setenv("FMNIST_RAY_CPUS", "2")  # the whole 2-CPU cluster: a second training must wait
    return ray_address


def test_a_ray_call_without_a_connection_fails_instead_of_starting_a_local_cluster(tmp_path: Path) -> None:
    """A job's last call can come after the connection closed; Ray would otherwise start a cluster in the server."""
    if RAY is None:
        pytest.skip("ray is not installed (pip install -r requirements-ray.txt)")
    code = textwrap.dedent(
        """
        import fmnist_core.training.ray_executor
        import ray
        try:
            ray.wait([], timeout=0)
            print("returned")
        except Exception as exc:
            print(type(exc).__name__)
        print(ray.is_initialized())
        """
    )
    env = subprocess_env(tmp_path, RAY_ADDRESS="")
    env.pop("RAY_ENABLE_AUTO_CONNECT", None)
    out = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["RaySystemError", "False"], out.stdout + out.stderr[-2000:]


def test_cli_trains_on_ray(on_ray: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = subprocess_env(home, FMNIST_RAY_ADDRESS=on_ray)  # the Ray settings come from the fixture
    proc = subprocess.run(
        [PYTHON, "-m", "fmnist_core", "train", "--preset", "notebook", "--epochs", "1", "--limit", "600", "--json"]
        + ["--data-dir", str(REAL_DATA_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(proc.stdout)
    assert (payload["executor"], payload["node"], payload["status"]) == ("ray", socket.gethostname(), "finished")
    assert 0.2 < payload["test_accuracy"] <= 1
    meta = json.loads((home / f"{payload['run_id']}.json").read_text())
    assert (meta["executor"], meta["node"], meta["train_images"]) == ("ray", socket.gethostname(), 600)


def test_train_page_on_ray(on_ray: str, train_page, tmp_path: Path) -> None:
    at = train_page()
    job = start_training(at)
    assert job.executor == "ray"
    run_until(at, lambda: job.finished, "the training on Ray", redraw=True)
    at.run()  # the page as it is now that the job has ended (the loop's last run may predate the end)
    snap = job.snapshot()
    assert (snap.state, snap.error, snap.executor, snap.node) == ("done", None, "ray", socket.gethostname())
    assert snap.worker_pid != os.getpid() and len(snap.history) == 1
    assert any("finished" in s for s in texts(at.success)), texts(at.success)
    assert any(snap.run_id in m for m in texts(at.markdown))
    info = store.get_run(snap.run_id, home=tmp_path / "home")
    assert info.status == "finished" and info.metadata.executor == "ray"


def test_stop_on_ray_keeps_a_stopped_run(
    on_ray: str, train_page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FMNIST_WORKER_SCHEDULING", "idle")  # the server's setting; the actor honours it too
    at = train_page(preset="fast", epochs=3, images=20_000)
    job = start_training(at)
    run_until(at, lambda: job.snapshot().batch > 0 and any(b.label == "Stop" for b in at.button), "the first batch")
    actor = job.snapshot().worker_pid
    assert actor and actor != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, actor) == 19 and os.sched_getscheduler(actor) == os.SCHED_IDLE
    button(at, "Stop").click().run()
    assert not at.exception, exceptions(at)
    run_until(at, lambda: job.finished, "the stopped job to end", redraw=True)
    at.run()
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.run_id, snap.error
    assert snap.epoch == 1 and 0 < snap.batch < snap.batches_per_epoch
    assert any("stopped early" in s for s in texts(at.success)), texts(at.success)
    assert store.get_run(snap.run_id, home=tmp_path / "home").status == "stopped"


def test_a_killed_actor_fails_its_job(on_ray: str, train_page, tmp_path: Path) -> None:
    at = train_page(preset="fast", epochs=3, images=20_000)
    job = start_training(at)
    seconds = kill_after_first_batch(at, job)
    at.run()
    snap = job.snapshot()
    assert snap.state == "failed"
    # Ray 2.60 says "Worker unexpectedly exits with a connection error code 2. End of file." and then guesses.
    assert snap.error.startswith("the training process on the Ray cluster died: Worker unexpectedly exits")
    assert "Some common causes" not in snap.error and len(snap.error) < 260
    assert seconds < 2, f"the death was noticed after {seconds:.1f} s"
    assert any(e.startswith("Training failed: the training process on the Ray cluster") for e in texts(at.error))
    assert not (tmp_path / "home").exists() or store.list_runs(tmp_path / "home", include_shipped=False) == []


def test_a_second_training_waits_for_cluster_resources(on_ray: str, train_page, tmp_path: Path) -> None:
    first = TrainingJob(
        TrainConfig(preset="fast", epochs=3, limit=20_000, evaluate_each_epoch=False), actor=people.LOCAL
    ).start()
    poll(lambda: first.snapshot().batch > 0, "the first training")
    at = train_page()
    second = start_training(at)
    time.sleep(1.5)
    at.run()
    snap = second.snapshot()
    assert (snap.state, snap.phase, snap.node) == ("queued", "waiting for cluster resources", None)
    assert any(i.startswith("Waiting for cluster resources") for i in texts(at.info)), texts(at.info)
    button(at, "Cancel").click().run()
    run_until(at, lambda: second.finished, "the cancelled training", timeout=10, redraw=True)
    snap = second.snapshot()
    assert (snap.state, snap.phase, snap.run_id) == ("stopped", "cancelled before it started", None)
    first.stop()
    assert first.wait(TIMEOUT) and first.snapshot().state == "stopped"


def test_a_failed_save_on_ray_can_be_retried_from_the_page(
    on_ray: str, train_page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = train_page()
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's parent folder should be")
    monkeypatch.setenv("FMNIST_HOME", str(blocker / "home"))  # read when the job is created
    job = start_training(at)
    run_until(at, lambda: job.finished, "the training on Ray", redraw=True)
    at.run()  # the page as it is now that the job has ended (the loop's last run may predate the end)
    snap = job.snapshot()
    assert snap.state == "done" and snap.run_id is None and "could not save run" in snap.save_error
    assert any(e.startswith("The run was not saved") for e in texts(at.error)), texts(at.error)

    blocker.unlink()
    button(at, "Retry saving").click().run()
    assert not at.exception, exceptions(at)
    snap = job.snapshot()
    assert snap.save_error is None and snap.run_id
    info = store.get_run(snap.run_id, home=blocker / "home")
    assert info.status == "finished" and info.metadata.executor == "ray"
