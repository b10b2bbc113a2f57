"""Watch it learn (Train page): the first conv layer's kernels and one sample image's maps, epoch by epoch.

The arrays come from the training job's snapshot (sent by the worker at each epoch end) or, for a saved run,
from its frames sidecar; the page never touches a model. While a training runs the newest epoch is shown; after
it an "Epoch" slider replays them.
"""

from __future__ import annotations

import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.runs import frames, store
from fmnist_core.runs.frames import Frames
from fmnist_core.training.live_state import Snapshot
from ui.figures.maps import image_figure, kernels_figure, maps_figure
from ui.loaders import test_set_or_message
from ui.readable import run_label
from ui.session import active_run

HEADING = "Watch it learn"
DRAWN_KEY = "_watch_drawn"  # (job, epochs) the section last drew: the live view asks for a redraw after a new one


@st.cache_data(max_entries=4, show_spinner=False)
def _saved_frames(run_id: str, created: str | None) -> Frames:
    return frames.load_frames(run_id)


def _drawn_key(snap: Snapshot) -> tuple[float | None, int]:
    return snap.started, len(snap.frames.epochs) if snap.frames else 0


def new_frame(snap: Snapshot) -> bool:
    """True once per new epoch's frame of a running job: the live view then reruns the page to draw it.

    The section sits outside the once-a-second fragment, so its figures (the largest the page sends) go to the
    browser once per epoch, not every second.
    """
    if snap.state not in ("running", "stopping") or snap.frames is None:
        return False
    key = _drawn_key(snap)
    if st.session_state.get(DRAWN_KEY) == key:
        return False
    st.session_state[DRAWN_KEY] = key  # asked for once: the rerun draws it (or a newer one)
    return True


def watch_section(snap: Snapshot | None) -> None:
    """The section for the job's snapshot, or for the sidebar's active run when no job is shown."""
    st.subheader(HEADING)
    if snap is not None:
        st.session_state[DRAWN_KEY] = _drawn_key(snap)
    if snap is None:
        info = active_run()
        if info is None:
            return
        try:
            frames = _saved_frames(info.id, info.created)
        except store.StoreError as exc:
            st.caption(str(exc).rstrip(".") + ".")  # one full stop, whether the reason ends with one or not
            return
        st.caption(f"Replay of run **{run_label(info)}** (the model chosen in the sidebar).")
        _draw(frames, live=False, source=info.id)
        return
    running = snap.state not in ("done", "stopped", "failed")
    if snap.frames is None or not snap.frames.epochs:
        if running:
            st.caption("The first conv layer's kernels and maps appear here at the end of the first epoch.")
        else:
            st.caption("No epoch finished, so there is nothing to replay.")
        return
    _draw(snap.frames, live=running, source=f"job-{snap.started}")


def _draw(frames: Frames, live: bool, source: str) -> None:
    test = test_set_or_message()
    samples = frames.samples

    def name(i: int) -> str:
        index = samples[i]
        if test is None or index >= len(test):
            return f"test image #{index}"
        return f"#{index} · {CLASS_NAMES[int(test.labels[index])]}"

    if st.session_state.get("watch_sample", 0) not in range(len(samples)):  # another run's choice
        st.session_state["watch_sample"] = 0
    sample = st.selectbox("Sample image", range(len(samples)), format_func=name, key="watch_sample", width=320)
    epochs = [f.epoch for f in frames.epochs]
    if live:
        epoch = epochs[-1]
        st.caption(f"Epoch {epoch}: refreshed at every epoch end while the training runs.")
    elif len(epochs) > 1:
        # Keyed by the source: another run's slider position may lie outside this one's epochs.
        epoch = st.slider("Epoch", epochs[0], epochs[-1], epochs[-1], key=f"watch_epoch_{source}")
    else:
        epoch = epochs[0]
        st.caption(f"Epoch {epoch}, the only one this training finished.")
    frame = frames.frame(epoch) if epoch in epochs else frames.epochs[-1]
    index = samples[sample]
    row = st.container(horizontal=True)  # wraps onto more rows in a narrow window
    if test is not None and index < len(test):
        row.container(width=240).plotly_chart(
            image_figure(test.images[index], f"Input {name(sample)}", height=300), width="stretch"
        )
    kh, kw, filters = frame.kernels.shape
    row.container(width=320).plotly_chart(
        kernels_figure(frame.kernels, f"{frames.layer} kernels ({filters} × {kh}×{kw}) · epoch {epoch}"),
        width="stretch",
    )
    maps = frame.feature_maps(sample)
    row.container(width=440).plotly_chart(
        maps_figure(maps, f"{frames.layer} maps of #{index} ({maps.shape[0]}×{maps.shape[1]}) · epoch {epoch}"),
        width="stretch",
    )
