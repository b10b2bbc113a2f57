"""Train: pick a preset and settings, press Train, watch it learn live, stop any time.

The job lives in this browser session's state and trains in a worker process (or on a Ray cluster); a fragment
polls its snapshot once a second, so the page stays responsive and training survives visits to other pages.
"""

import streamlit as st

from fmnist_core.nets import architecture
from fmnist_core.nets.presets import DEFAULT_PRESET, PRESETS, ConfigError, TrainConfig
from fmnist_core.people import LimitReached
from fmnist_core.training import estimate
from fmnist_core.training.events import Snapshot, clock, progress_text
from fmnist_core.training.jobs import TrainingJob, training_blocker, warm_up
from ui.figures.curves import batch_curve, epoch_curves_pair
from ui.frame import page_frame
from ui.messages import say_next_run, show_pending
from ui.sections.train.network_editor import spec_editor
from ui.sections.train.settings_form import CUSTOM_SPEC_KEY, DEFAULT_SEED, TOTAL, form_config
from ui.sections.train.trains_on import trains_on_section
from ui.sections.train.watch_it_learn import new_frame, watch_section
from ui.session import choose_run, kept, run_missing, runs
from ui.signin import acting

page_frame()
actor = acting()
warm_up()  # workers with TensorFlow and the data loaded wait for this page's Train click (ended when unused)

JOB_KEY = "training_job"  # this session's TrainingJob: it keeps running while the person visits other pages
POLL_FLAG = "_train_polling"
TOAST_KEY = "_train_toast"
LONG_RUN_SECONDS = 60

st.title("Train")
show_pending(TOAST_KEY)
job: TrainingJob | None = st.session_state.get(JOB_KEY)
busy = job is not None and not job.finished
names = list(PRESETS)


def time_estimate(config: TrainConfig) -> None:
    """Say how long this training takes from click to result, learned from this machine's finished runs."""
    try:
        plan = estimate.plan_of(config)
    except ConfigError:
        return  # the Train button says what is wrong
    guess = estimate.estimate(plan, runs())
    if guess is None:
        st.caption(
            "No time estimate yet: no training long enough to measure a speed has finished on this machine. "
            "A first one (say 6,000 images, 1 epoch) measures it."
        )
        return
    text = estimate.summary(guess, plan)
    if note := estimate.busy_note(guess):
        text = f"{text} {note}"
    if guess.seconds >= LONG_RUN_SECONDS:
        st.warning(f"{text} Fewer images or epochs make it quicker.")
    else:
        st.caption(text)


if busy:
    # While a training runs, the fields show that training's own settings (read-only).
    cfg = job.config
    st.selectbox("Preset", [cfg.preset], disabled=True, key="tr_running_preset", width=320)
    st.caption(PRESETS[cfg.preset].description)
    if cfg.arch is not None:
        st.caption(f"Network: {architecture.summary_line(architecture.parse_spec(cfg.arch))}")
    row = st.container(horizontal=True)
    row.number_input("Epochs", value=int(cfg.epochs), width=170, disabled=True, key="tr_running_epochs")
    row.number_input("Batch size", value=int(cfg.batch_size), width=170, disabled=True, key="tr_running_batch")
    row.number_input(
        "Learning rate", value=float(cfg.learning_rate), format="%.5f", width=170, disabled=True, key="tr_running_lr"
    )
    row.number_input("Seed", value=int(cfg.seed), width=170, disabled=True, key="tr_running_seed")
    row.number_input(
        "Training images", value=int(cfg.limit or TOTAL), width=170, disabled=True, key="tr_running_images"
    )
else:
    # The box holds the name and the description sits below it, whole: it is longer than the box is wide.
    preset_name = kept(st.selectbox, "Preset", "tr_preset", DEFAULT_PRESET, options=names, width=320)
    preset = PRESETS[preset_name]
    st.caption(preset.description)
    row = st.container(horizontal=True)  # one row that wraps in a narrow window
    # Keys carry the preset so switching presets shows that preset's defaults; each keeps what the user typed.
    with row:
        kept(st.number_input, "Epochs", f"epochs_{preset_name}", preset.epochs, min_value=1, max_value=200, width=170)
    with row:
        kept(
            st.number_input,
            "Batch size",
            f"batch_{preset_name}",
            preset.batch_size,
            min_value=1,
            max_value=4096,
            width=170,
        )
    with row:
        kept(
            st.number_input,
            "Learning rate",
            f"lr_{preset_name}",
            preset.learning_rate,
            min_value=1e-6,
            max_value=1.0,
            step=1e-4,
            format="%.5f",
            width=170,
        )
    with row:
        seed = kept(st.number_input, "Seed", "tr_seed", DEFAULT_SEED, min_value=0, max_value=2**31 - 1, width=170)
    with row:
        kept(
            st.number_input,
            "Training images",
            "tr_images",
            TOTAL,
            min_value=1,
            max_value=TOTAL,
            step=1000,
            help=f"How many of the {TOTAL:,} to use",
            width=170,
        )
    custom_arch = None
    if preset_name == "custom":
        st.markdown("**Your network**")
        custom_spec = spec_editor("custom_arch")
        custom_arch = None if custom_spec is None else architecture.to_dict(custom_spec)
        st.session_state[CUSTOM_SPEC_KEY] = custom_arch
    if preset_name != "custom" or custom_arch is not None:
        time_estimate(form_config(st.session_state))


def start_training() -> None:
    """Button callback: read the widgets' current values from session state (not from the previous run's
    variables, which are stale when a field was changed just before the click) and start the job."""
    state = st.session_state
    try:
        state[JOB_KEY] = TrainingJob(form_config(state), actor=acting()).start()
        state.pop("_train_error", None)
    except (ConfigError, LimitReached) as exc:
        state["_train_error"] = str(exc)


def use_run(run_id: str) -> None:
    """'Use this model' callback: make the run active if it is still there, and say so on the next run."""
    if problem := choose_run(run_id):
        say_next_run(TOAST_KEY, "warning", problem)
    else:
        say_next_run(TOAST_KEY, "toast", f"Now using run {run_id} on every page.")


trains_on_section(job.config.preset if busy else preset_name, int(job.config.seed if busy else seed))

invalid_custom = (
    not busy and st.session_state.get("tr_preset") == "custom" and not st.session_state.get(CUSTOM_SPEC_KEY)
)
# A person's fair share (FMNIST_TRAININGS_PER_USER, FMNIST_RUNS_PER_USER): the job refuses it too.
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
if st.session_state.get("_train_error"):
    st.error(st.session_state["_train_error"])

busy = (st.session_state.get(JOB_KEY) is not None) and not st.session_state[JOB_KEY].finished
st.session_state[POLL_FLAG] = busy


@st.fragment(run_every=1.0 if busy else None)
def live_view() -> None:
    """Redraw status, charts and results from the job's snapshot (plain values; the model is never touched).

    The top slot holds the progress while the job runs and the result once it ends, so the outcome appears
    where the eyes are and nothing below it moves.
    """
    job: TrainingJob | None = st.session_state.get(JOB_KEY)
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
            st.info(
                f"Waiting for a training slot: place {snap.queue_position or 1} in the queue "
                "(other sessions are training)."
            )
            st.button("Cancel", on_click=job.stop)
        elif state in ("running", "stopping"):
            st.progress(snap.progress, text=progress_text(snap))
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
    row.metric("Images/s", f"{snap.samples_per_second:,.0f}" if snap.samples_per_second else "n/a")
    row.metric("Training time", clock(snap.fit_seconds) if snap.fit_seconds is not None else "…")
    st.caption(f"Precision: {snap.precision} ({snap.precision_note})")
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


live_view()
watch_section(st.session_state[JOB_KEY].snapshot() if st.session_state.get(JOB_KEY) else None)
