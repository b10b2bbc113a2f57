"""Train: pick a preset and settings, press Train, watch it learn live, stop any time.

The job lives in this browser session's state and trains in a worker process (or on a Ray cluster); a fragment
polls its snapshot once a second, so the page stays responsive and training survives visits to other pages.
"""

import streamlit as st

from fmnist_core.data import EXPECTED_COUNT
from fmnist_core.training import DEFAULT_PRESET, PRESETS, ConfigError, Snapshot, TrainConfig, TrainingJob
from ui.figures import batch_curve, epoch_curves
from ui.state import JOB_KEY, set_active_run

POLL_FLAG = "_train_polling"

st.title("Train")
job: TrainingJob | None = st.session_state.get(JOB_KEY)
busy = job is not None and not job.finished

names = list(PRESETS)
preset_name = st.selectbox(
    "Preset",
    names,
    index=names.index(DEFAULT_PRESET),
    format_func=lambda name: f"{name}: {PRESETS[name].description}",
    disabled=busy,
    key="tr_preset",
)
preset = PRESETS[preset_name]
total = EXPECTED_COUNT["train"]
c = st.columns(5)
# Keys carry the preset so switching presets resets the fields to that preset's defaults.
c[0].number_input("Epochs", 1, 200, preset.epochs, 1, key=f"epochs_{preset_name}", disabled=busy)
c[1].number_input("Batch size", 1, 4096, preset.batch_size, 1, key=f"batch_{preset_name}", disabled=busy)
c[2].number_input(
    "Learning rate",
    min_value=1e-6,
    max_value=1.0,
    value=preset.learning_rate,
    step=1e-4,
    format="%.5f",
    key=f"lr_{preset_name}",
    disabled=busy,
)
c[3].number_input("Seed", 0, 2**31 - 1, 42, 1, disabled=busy, key="tr_seed")
c[4].number_input(
    "Training images", 1, total, total, 1000, help=f"How many of the {total:,} to use", disabled=busy, key="tr_images"
)


def start_training() -> None:
    """Button callback: read the widgets' current values from session state (not from the previous run's
    variables, which are stale when a field was changed just before the click) and start the job."""
    state = st.session_state
    name = state["tr_preset"]
    defaults = PRESETS[name]
    images = int(state.get("tr_images", total))
    try:
        config = TrainConfig(
            preset=name,
            epochs=int(state.get(f"epochs_{name}", defaults.epochs)),
            batch_size=int(state.get(f"batch_{name}", defaults.batch_size)),
            learning_rate=float(state.get(f"lr_{name}", defaults.learning_rate)),
            seed=int(state.get("tr_seed", 42)),
            limit=None if images >= total else images,
        )
        state[JOB_KEY] = TrainingJob(config).start()
        state.pop("_train_error", None)
    except ConfigError as exc:
        state["_train_error"] = str(exc)


st.button("Train", type="primary", on_click=start_training, disabled=busy)
if st.session_state.get("_train_error"):
    st.error(st.session_state["_train_error"])

busy = (st.session_state.get(JOB_KEY) is not None) and not st.session_state[JOB_KEY].finished
st.session_state[POLL_FLAG] = busy


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


@st.fragment(run_every=1.0 if busy else None)
def live_view() -> None:
    """Redraw progress, charts and results from the job's snapshot (plain values; the model is never touched)."""
    job: TrainingJob | None = st.session_state.get(JOB_KEY)
    if job is None:
        st.info("Choose settings and press **Train**. Tip: 3,000 training images and 1 epoch take a few seconds.")
        return
    snap = job.snapshot()
    state = snap.state
    if state == "queued" and snap.executor == "ray":
        st.info("Waiting for cluster resources: the Ray cluster starts this training when it has room.")
        st.button("Cancel", on_click=job.stop)
    elif state == "queued":
        st.info(
            f"Waiting for a training slot: place {snap.queue_position or 1} in the queue (other sessions are training)."
        )
        st.button("Cancel", on_click=job.stop)
    elif state in ("running", "stopping"):
        label = (
            f"Epoch {max(snap.epoch, 1)}/{snap.epochs} · batch {snap.batch}/{snap.batches_per_epoch}"
            f" · {snap.phase} · elapsed {_fmt_seconds(snap.elapsed)} · ETA {_fmt_seconds(snap.eta)}"
        )
        st.progress(snap.progress, text=label)
        if state == "stopping":
            st.warning("Stopping after the current batch; the partial model will be saved.")
        else:
            st.button("Stop", on_click=job.stop)
    _draw_metrics(snap)
    if state in ("done", "stopped", "failed"):
        _draw_result(job, snap)
        if st.session_state.get(POLL_FLAG):
            st.session_state[POLL_FLAG] = False
            st.rerun()  # once, so the sidebar lists the new run and polling turns off


def _draw_metrics(snap: Snapshot) -> None:
    history = snap.history
    if snap.batch_trace:
        st.plotly_chart(batch_curve(snap.batch_trace, snap.batches_per_epoch), width="stretch")
    if history:
        left, right = st.columns(2)
        left.plotly_chart(epoch_curves(history, "loss", "Loss per epoch"), width="stretch")
        right.plotly_chart(epoch_curves(history, "accuracy", "Accuracy per epoch"), width="stretch")
        st.dataframe(
            [
                {
                    "epoch": row["epoch"],
                    "train loss": row["loss"],
                    "train accuracy": row["accuracy"],
                    "test loss": row["test_loss"],
                    "test accuracy": row["test_accuracy"],
                    "seconds": row["seconds"],
                    "complete": row["complete"],
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
    c = st.columns(3)
    c[0].metric("Test accuracy", f"{snap.test_accuracy:.2%}")
    c[1].metric("Images/s", f"{snap.samples_per_second:,.0f}" if snap.samples_per_second else "n/a")
    c[2].metric("Training time", _fmt_seconds(snap.fit_seconds))
    st.caption(f"Precision: {snap.precision} ({snap.precision_note})")
    if snap.save_error:
        st.error(f"The run was not saved: {snap.save_error}. The training process keeps the model; fix it and retry.")
        if st.button("Retry saving"):
            try:
                job.retry_save()
                st.rerun()
            except Exception as exc:  # noqa: BLE001 - any failure is shown and the model stays for another try
                st.error(str(exc))
    elif snap.run_id:
        st.write(f"Saved as run **{snap.run_id}**.")
        # The button lives in a fragment: rerun the whole app so the sidebar's Model box shows the choice.
        if st.button("Use this model", type="primary", on_click=set_active_run, args=(snap.run_id,)):
            st.rerun()


live_view()
