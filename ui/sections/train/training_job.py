"""This session's training job (Train page): the Train button, then a live view of the job's progress, curves and
result, redrawn from its snapshot once a second while it runs.

The job lives in the session's state and trains in a worker process (or on a Ray cluster), so the page stays
responsive and the training survives visits to other pages; the page never touches the model.
"""

from __future__ import annotations

import streamlit as st

from fmnist_core import people
from fmnist_core.nets.presets import ConfigError
from fmnist_core.people import LimitReached
from fmnist_core.runs.records import why_train_below_test
from fmnist_core.training import queue_times
from fmnist_core.training.jobs import TrainingJob, training_blocker
from fmnist_core.training.live_state import Snapshot, clock, progress_text
from ui.figures.curves import batch_curve, epoch_curves_pair
from ui.messages import say_next_run
from ui.sections.train.settings_form import CUSTOM_SPEC_KEY, form_config
from ui.sections.train.watch_it_learn import new_frame
from ui.session import choose_run, run_missing
from ui.signin import acting

JOB_KEY = "training_job"  # this session's TrainingJob: it keeps running while the person visits other pages
POLL_FLAG = "_train_polling"
TOAST_KEY = "_train_toast"
ERROR_KEY = "_train_error"


def current_job() -> TrainingJob | None:
    """This session's training job, running or finished, or None before the first Train click."""
    return st.session_state.get(JOB_KEY)


def start_training() -> None:
    """Button callback: read the widgets' current values from session state (not from the previous run's
    variables, which are stale when a field was changed just before the click) and start the job."""
    state = st.session_state
    try:
        state[JOB_KEY] = TrainingJob(form_config(state), actor=acting()).start()
        state.pop(ERROR_KEY, None)
    except LimitReached as exc:
        state[ERROR_KEY] = ("limit", str(exc))
    except ConfigError as exc:
        state[ERROR_KEY] = ("settings", str(exc))


def use_run(run_id: str) -> None:
    """'Use this model' callback: make the run active if it is still there, and say so on the next run."""
    if problem := choose_run(run_id):
        say_next_run(TOAST_KEY, "warning", problem)
    else:
        say_next_run(TOAST_KEY, "toast", f"Now using run {run_id} on every page.")


def train_button(actor: people.Actor, busy: bool) -> None:
    """The Train button, disabled while a training runs, the custom network is invalid or the person's fair share
    (FMNIST_TRAININGS_PER_USER, FMNIST_RUNS_PER_USER) is used up: the job refuses it too. A limit is said once:
    a refused click (another tab took the place) and the limit now in force are the same sentence."""
    invalid_custom = (
        not busy and st.session_state.get("tr_preset") == "custom" and not st.session_state.get(CUSTOM_SPEC_KEY)
    )
    blocker = None if busy else training_blocker(actor)
    st.button(
        "Train",
        type="primary",
        on_click=start_training,
        disabled=busy or invalid_custom or blocker is not None,
        help="Fix the network above first" if invalid_custom else None,
    )
    if blocker:
        st.warning(blocker)
    kind, error = st.session_state.get(ERROR_KEY) or (None, None)
    if error and not (kind == "limit" and blocker):
        st.error(error)


def live_view_section() -> None:
    """The live view, polling once a second while the job runs (and not at all otherwise)."""
    job = current_job()
    busy = job is not None and not job.finished
    st.session_state[POLL_FLAG] = busy
    st.fragment(run_every=1.0 if busy else None)(_live_view)()


def _live_view() -> None:
    """Redraw status, charts and results from the job's snapshot (plain values; the model is never touched).

    The top slot holds the progress while the job runs and the result once it ends, so the outcome appears
    where the eyes are and nothing below it moves.
    """
    job = current_job()
    if job is None:
        st.info(
            "Choose settings and press **Train**. Tip: 6,000 training images and 1 epoch make a quick first run; "
            "most of its time is start-up, and it teaches the estimate above how fast this machine is."
        )
        return
    snap = job.snapshot()
    state = snap.state
    with st.container(border=True):
        if state == "queued" and snap.executor == "ray":
            st.info("Waiting for cluster resources: the Ray cluster starts this training when it has room.")
            st.button("Cancel", on_click=job.stop)
        elif state == "queued":
            wait = job.expected_wait()
            st.info(
                f"Waiting for a training slot: place {snap.queue_position or 1} in the queue "
                "(other people are training)." + (f" {queue_times.wait_text(wait)}" if wait is not None else "")
            )
            st.button("Cancel", on_click=job.stop)
        elif state in ("running", "stopping"):
            st.progress(snap.progress, text=progress_text(snap))
            if (wait := job.expected_wait()) is not None and wait.ahead:
                st.caption(queue_times.wait_text(wait, running=True))
            if state == "stopping":
                st.warning("Stopping after the current batch; the partial model will be saved.")
            else:
                st.button("Stop", on_click=job.stop)
        else:
            _draw_result(job, snap)
    _draw_metrics(snap)
    if new_frame(snap):
        st.rerun()  # an epoch ended: the page redraws "Watch it learn" below with its frame
    if state in ("done", "stopped", "failed") and st.session_state.get(POLL_FLAG):
        st.session_state[POLL_FLAG] = False
        st.rerun()  # once, so the sidebar lists the new run and polling turns off


def _draw_metrics(snap: Snapshot) -> None:
    history = snap.history
    if snap.batch_trace:
        st.plotly_chart(batch_curve(snap.batch_trace, snap.batches_per_epoch), width="stretch")
    if history:
        st.plotly_chart(epoch_curves_pair(history), width="stretch")
        st.dataframe(
            [
                {
                    "epoch": row.epoch,
                    "train loss": None if row.loss is None else round(row.loss, 4),
                    "train accuracy": None if row.accuracy is None else f"{row.accuracy:.2%}",
                    "test loss": None if row.test_loss is None else round(row.test_loss, 4),
                    "test accuracy": None if row.test_accuracy is None else f"{row.test_accuracy:.2%}",
                    "seconds": round(row.seconds, 1),
                    "complete": row.complete,
                }
                for row in history
            ],
            hide_index=True,
        )
        if why := why_train_below_test(history[-1]):
            st.caption(why)


def _draw_result(job: TrainingJob, snap: Snapshot) -> None:
    state = snap.state
    if state == "failed":
        st.error(f"Training failed: {snap.error}")
        return
    if snap.test_accuracy is None:
        st.info("Training was cancelled before it started; nothing was saved.")
        return
    word = "finished" if state == "done" else "stopped early (partial model kept)"
    st.success(f"Training {word}.")
    row = st.container(horizontal=True)
    row.metric("Test accuracy", f"{snap.test_accuracy:.2%}")
    if snap.mirror_accuracy is not None:
        row.metric(
            "With mirror images",
            f"{snap.mirror_accuracy:.2%}",
            help="Each test image also shown flipped left-right, the two answers averaged (test-time augmentation).",
        )
    row.metric("Images/s", f"{snap.samples_per_second:,.0f}" if snap.samples_per_second else "n/a")
    row.metric("Training time", clock(snap.fit_seconds) if snap.fit_seconds is not None else "…")
    note = snap.precision_note or snap.precision
    st.caption(f"Precision: {note[:1].upper()}{note[1:]}.", help="How exact the numbers were while it trained.")
    if snap.save_error:
        st.error(f"The run was not saved: {snap.save_error}. The model is still in memory; fix it and retry.")
        if st.button("Retry saving"):
            try:
                job.retry_save()
                st.rerun()
            except Exception as exc:  # noqa: BLE001 - any failure is shown and the model stays for another try
                st.error(str(exc))
    elif snap.run_id and (gone := run_missing(snap.run_id)):
        st.warning(gone)
    elif snap.run_id:
        st.write(f"Saved as run **{snap.run_id}**.")
        # The button lives in a fragment: rerun the whole app so the sidebar's Model box shows the choice.
        if st.button("Use this model", type="primary", on_click=use_run, args=(snap.run_id,)):
            st.rerun()
