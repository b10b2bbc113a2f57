"""Train page: a training saved as a run, Use this model, Stop keeps a stopped run, a full disk at save time, the
phase named until the first batch, a warm worker started by opening the page."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import people, settings
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import store
from fmnist_core.training import estimate, jobs, queue_times
from fmnist_core.training.events import BatchEnd, EpochBegin, Phase, Setup, Started
from fmnist_core.training.jobs import TrainingJob
from helpers import WIDE_NETWORK
from page_helpers import (
    PAGE_FILES,
    TRAIN_TIMEOUT,
    button,
    exceptions,
    model_box,
    number_input,
    open_page,
    run_until,
    show_home,
    texts,
)


@pytest.mark.slow
@pytest.mark.slow
def test_train_saves_a_run_and_use_this_model(make_app, fmnist_home: Path) -> None:
    at = open_page(make_app, "train")
    assert button(at, "Train")
    at.selectbox[0].set_value("notebook").run()
    assert at.selectbox[0].value == "notebook"
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(300)
    at.run()
    button(at, "Train").click().run()
    assert not at.exception, exceptions(at)
    assert not at.error, texts(at.error)
    job = at.session_state["training_job"]
    assert job.config.preset == "notebook" and job.config.epochs == 1 and job.config.limit == 300

    run_until(at, lambda: job.finished, what="the training to finish", redraw=True)
    at.run()
    assert not at.exception, exceptions(at)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    run_id = snap.run_id
    assert run_id
    assert "Test accuracy" in [m.label for m in at.metric]
    assert any("finished" in s for s in texts(at.success)), texts(at.success)
    assert any(run_id in m for m in texts(at.markdown)), "the page does not name the saved run"
    assert (fmnist_home / f"{run_id}.keras").is_file()
    meta = json.loads((fmnist_home / f"{run_id}.json").read_text())
    assert meta["status"] == "finished" and meta["train_images"] == 300 and len(meta["history"]) == 1

    # The sidebar lives on app.py's runs: back to Home, the new run is listed (the shipped one stays active).
    show_home(at)
    box = model_box(at)
    assert store.get_run(run_id).label() in box.options, box.options
    assert box.value == "default"

    at.switch_page(PAGE_FILES["train"])
    at.run()
    button(at, "Use this model").click().run()
    assert not at.exception, exceptions(at)
    assert at.session_state["model_id"] == run_id

    show_home(at)
    assert model_box(at).value == run_id
    label = store.get_run(run_id).label()
    assert any(label in m for m in texts(at.markdown)), "Home's card does not show the new active model"

    # A control drawn before its run was deleted re-checks the store at the click and says what happened.
    at.session_state["model_id"] = "default"
    at.switch_page(PAGE_FILES["train"])
    at.run()
    assert button(at, "Use this model")
    store.delete_run(run_id, actor=people.administrator())
    button(at, "Use this model").click().run()
    assert not at.exception, exceptions(at)
    assert at.session_state["model_id"] == "default"
    warned = texts(at.warning)
    assert any(f"Run {run_id} was deleted by the server's administrator" in w for w in warned), warned
    assert not [b for b in at.button if b.label == "Use this model"]


@pytest.mark.slow
@pytest.mark.slow
def test_progress_names_the_phases_then_a_measured_eta_and_stop_keeps_a_stopped_run(
    make_app, fmnist_home: Path
) -> None:
    at = open_page(make_app, "train")
    number_input(at, "Epochs").set_value(3)
    number_input(at, "Training images").set_value(20_000)
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    assert job.config.limit == 20_000 and job.config.epochs == 3
    lines: list[str] = []  # the progress bar's text at every rerun

    def eta_shown() -> bool:
        snap = job.snapshot()
        assert snap.state not in ("done", "failed"), snap
        lines.extend(bar.proto.text for bar in at.get("progress"))
        return bool(lines) and "ETA" in lines[-1] and any(b.label == "Stop" for b in at.button)

    run_until(at, eta_shown, what="a measured ETA")
    # The issue: "batch 0/0" for 36 s while TensorFlow loaded, then a frozen "batch 0/47" whose ETA rose.
    assert not [line for line in lines if "batch 0/0" in line], lines
    phases = [line for line in lines if " · batch " not in line]
    assert any(line.startswith("Loading TensorFlow · elapsed ") for line in phases), lines
    phase_line = re.compile(
        r"(Starting Python|Loading TensorFlow|Loading data|Building the network|Preparing the first batch) · elapsed \d+:\d\d"
    )
    assert all(phase_line.fullmatch(line) for line in phases), phases
    assert not [line for line in lines if ("batch 0/" in line or "first batch" in line) and "ETA" in line], lines
    button(at, "Stop").click().run()
    assert not at.exception, exceptions(at)
    run_until(at, lambda: job.finished, what="the stopped job to end", redraw=True)
    at.run()
    assert not at.exception, exceptions(at)

    snap = job.snapshot()
    assert snap.state == "stopped", snap.error
    assert snap.run_id
    epochs_done = len(snap.history)
    assert epochs_done < 3 or not snap.history[-1].complete, "the job did not stop early"
    assert any("stopped early" in s for s in texts(at.success)), texts(at.success)
    info = store.get_run(snap.run_id)
    assert info.status == "stopped" and not info.shipped
    assert json.loads((fmnist_home / f"{snap.run_id}.json").read_text())["status"] == "stopped"
    assert snap.run_id in [r.id for r in store.list_runs()]


@pytest.mark.slow
@pytest.mark.slow
def test_unwritable_store_at_save_keeps_the_model_and_retry_saves(
    make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The save happens in the worker process, so the fault is real: the store's folder sits under a plain file.
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's parent folder should be")
    home = blocker / "home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    at = open_page(make_app, "train")
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(300)
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    run_until(at, lambda: job.finished, what="the training to finish", redraw=True)
    at.run()
    assert not at.exception, exceptions(at)
    assert any("not saved" in e and "could not save run" in e for e in texts(at.error)), texts(at.error)

    blocker.unlink()  # the user fixes the store: retry
    button(at, "Retry saving").click().run()
    at.run()
    assert not at.exception, exceptions(at)
    run_id = job.snapshot().run_id
    assert run_id and (home / f"{run_id}.json").is_file()
    assert store.load_model(run_id, home) is not None


def test_fields_keep_what_the_user_typed_across_pages(make_app) -> None:
    at = open_page(make_app, "train")
    number_input(at, "Epochs").set_value(6)
    number_input(at, "Training images").set_value(20_000)
    at.run()
    at.switch_page(PAGE_FILES["home"]).run()
    at.switch_page(PAGE_FILES["train"]).run()
    assert not at.exception, exceptions(at)
    assert number_input(at, "Epochs").value == 6
    assert number_input(at, "Training images").value == 20_000


@pytest.mark.slow
@pytest.mark.slow
def test_running_job_shows_its_own_settings(make_app) -> None:
    at = open_page(make_app, "train")
    number_input(at, "Epochs").set_value(2)
    number_input(at, "Training images").set_value(30_000)  # far longer than the checks below
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    at.switch_page(PAGE_FILES["home"]).run()
    at.switch_page(PAGE_FILES["train"]).run()
    assert not job.finished, "the job ended before the page was checked"
    assert number_input(at, "Epochs").disabled and number_input(at, "Epochs").value == 2
    assert number_input(at, "Training images").value == 30_000
    job.stop()
    run_until(at, lambda: job.finished, what="the job to end", redraw=True)
    at.run()
    assert number_input(at, "Epochs").value == 2 and not number_input(at, "Epochs").disabled


class StandInJob:
    """Another person's running training as the queue sees it: just started, `alone` seconds by itself."""

    def __init__(self, alone: float) -> None:
        self.alone_seconds = alone

    def snapshot(self):
        return type("Snap", (), {"state": "running", "progress": 0.0, "queue_position": None})()


def test_time_estimate_covers_click_to_result_from_runs_of_this_machine(
    make_app, timed_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(make_app, "train")
    # Nothing trained here yet: the shipped default (trained elsewhere) once gave "Expected: about 4 seconds".
    assert any(c.startswith("No time estimate yet") for c in texts(at.caption)), texts(at.caption)
    assert not at.warning, texts(at.warning)

    # The training, finished here: fast, 6,000 images x 2 epochs, 105 s from click to result.
    timed_run("measured-here")
    number_input(at, "Epochs").set_value(2)
    number_input(at, "Training images").set_value(6_000)
    at.run()
    shown = texts(at.warning)
    assert any(
        w.startswith("Expected here: about 1 min 45 s from click to result")
        and "start-up, data and the final test 71 s, then 2 epochs of 17 s" in w
        and "Based on 1 finished run of this network with this batch size on this machine (measured-here)" in w
        for w in shown
    ), shown
    # The fields as set: 1 epoch of 1,000 images still pays the start-up (71 s) and one test evaluation (5 s).
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(1_000)
    at.run()
    assert any(w.startswith("Expected here: about 78 s") for w in texts(at.warning)), texts(at.warning)

    # Two trainings of others run now and share the cores: the estimate says when this one would start and end.
    monkeypatch.setenv(settings.MAX_TRAININGS, "2")
    alone = estimate.estimate(TrainConfig(preset="fast", epochs=1, limit=1_000), store.list_runs()).seconds
    for owner in ("ada", "bob"):
        monkeypatch.setitem(jobs._ACTIVE, StandInJob(alone), owner)
    at.run()
    said = queue_times.wait_text(queue_times.with_queue(alone, [alone, alone], [], 2))
    assert said.startswith("Starts in about 2 min 35 s (2 trainings ahead or running), done in about 3 min 55 s")
    assert any(f"Right now: {said}" in w for w in texts(at.warning)), texts(at.warning)


def test_custom_network_estimate_uses_its_runs_and_the_training_images(make_app, timed_run) -> None:
    # The issue: the editor said "~19 s per epoch" for a network that ran at 268 images/s, whatever the images.
    timed_run("wide-run", preset="custom", arch=WIDE_NETWORK, images=3_000, epochs=1, per_image=1 / 268)
    at = open_page(make_app, "train")
    at.selectbox(key="tr_preset").set_value("custom").run()
    at.text_area(key="custom_arch.json").set_value(json.dumps(WIDE_NETWORK)).run()
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(60_000)
    at.run()
    assert not at.exception, exceptions(at)
    assert not [m for m in at.metric if "time" in m.label.lower()], "the editor still guesses a time from FLOPs"
    shown = texts(at.warning)
    # 60,000 images at 268 images/s is 224 s, plus the test evaluation (its forward pass, by FLOPs: 16 s).
    assert any("then 1 epoch of 4 min (60,000 images" in w and "(wide-run)" in w for w in shown), shown
    number_input(at, "Training images").set_value(6_000)
    at.run()
    shown = texts(at.warning)
    assert any("then 1 epoch of 38 s (6,000 images" in w for w in shown), shown


@pytest.mark.slow
@pytest.mark.slow
def test_custom_network_is_designed_checked_and_trained(make_app, fmnist_home: Path) -> None:
    at = open_page(make_app, "train")
    at.selectbox(key="tr_preset").set_value("custom").run()
    assert not at.exception, exceptions(at)
    assert button(at, "Add block") and not button(at, "Train").disabled
    spec_box = at.text_area(key="custom_arch.json")
    spec_box.set_value(json.dumps({"conv": [{"filters": 8, "kernel": 4}]})).run()
    assert any("can't be built" in e and "kernel" in e for e in texts(at.error)), texts(at.error)
    assert button(at, "Train").disabled

    network = {"conv": [{"filters": 8, "kernel": 3, "padding": "same"}, {"filters": 8, "kernel": 3}], "dense": [16]}
    at.text_area(key="custom_arch.json").set_value(json.dumps(network)).run()
    assert not at.error, texts(at.error)
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(400)
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    assert job.config.preset == "custom" and job.config.arch["conv"][0]["padding"] == "same"
    run_until(at, lambda: job.finished, what="the custom training", redraw=True)
    snap = job.snapshot()
    assert snap.state == "done" and snap.run_id, snap.error
    assert store.get_run(snap.run_id).metadata.arch == job.config.arch


def progress_text(at: AppTest) -> str:
    (bar,) = at.get("progress")
    return bar.proto.text


def test_until_the_first_batch_the_progress_names_the_phase(make_app) -> None:
    at = open_page(make_app, "train")
    job = TrainingJob(TrainConfig(preset="fast", epochs=2, limit=600), actor=people.LOCAL)  # fed by hand: no worker
    at.session_state["training_job"] = job
    job._apply(Started(executor="local-process", node="here", pid=1))
    job._apply(Phase("loading data"))
    at.run()
    assert progress_text(at).startswith("Loading data · elapsed 0:0"), progress_text(at)
    job._apply(Setup(batches_per_epoch=5, train_images=600, batch_size=128, precision="float32", precision_note=""))
    job._apply(EpochBegin(1))
    at.run()
    assert progress_text(at).startswith("Preparing the first batch · elapsed"), progress_text(at)
    job._apply(BatchEnd(done_in_epoch=1, loss=2.0, accuracy=0.2, seconds=0.1))
    at.run()
    assert progress_text(at).startswith("Epoch 1/2 · batch 1/5 · training · elapsed"), progress_text(at)
    assert not at.exception, exceptions(at)


@pytest.mark.slow
@pytest.mark.slow
def test_opening_the_page_warms_a_worker_that_takes_the_training(make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.WARM_IDLE_SECONDS, "300")
    monkeypatch.setenv("FMNIST_MAX_TRAININGS", "1")
    jobs.WARM.shut_down()
    try:
        at = open_page(make_app, "train")
        end = time.monotonic() + TRAIN_TIMEOUT
        while not jobs.WARM.ready_pids():
            assert time.monotonic() < end, "no warm worker after opening the Train page"
            time.sleep(0.1)
        (pid,) = jobs.WARM.ready_pids()
        at.selectbox[0].set_value("notebook").run()
        number_input(at, "Epochs").set_value(1)
        number_input(at, "Training images").set_value(300)
        at.run()
        button(at, "Train").click().run()
        job = at.session_state["training_job"]
        run_until(at, lambda: job.finished, what="the training to finish", redraw=True)
        snap = job.snapshot()
        assert (snap.state, snap.error, snap.worker_pid) == ("done", None, pid)
    finally:
        jobs.WARM.shut_down()


def test_what_each_trick_buys_reads_the_measured_rows(make_app) -> None:
    """Every trick with its sentence, and the shipped measurement as a table: one row per recipe trained."""
    from fmnist_core.nets import tricks

    at = open_page(make_app, "train")
    assert not at.exception, exceptions(at)
    shown = "\n".join(texts(at.markdown))
    for trick in tricks.TRICKS:
        assert f"**{trick.title}.** {trick.sentence}" in shown
    data = tricks.measured()
    (table,) = [d.value for d in at.dataframe if "with mirror images" in d.value.columns]
    assert len(table) == len(data["rows"])
    assert table["recipe"].iloc[0] == "The notebook's recipe"
    assert table["test accuracy"].iloc[0] == f"{data['rows'][0]['test_accuracy']:.2%}"
    assert any(recipe.startswith("All but: ") for recipe in table["recipe"])
