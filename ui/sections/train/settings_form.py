"""The Train page's settings: the preset and its fields (the network editor for Custom), read-only while a training
runs; the time estimate under them; and the form read as a TrainConfig for the estimate and the Train button."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from fmnist_core.data.fashion_mnist import EXPECTED_COUNT
from fmnist_core.nets import architecture
from fmnist_core.nets.presets import PRESETS, ConfigError, TrainConfig, default_preset
from fmnist_core.training import estimate, queue_times
from fmnist_core.training.jobs import queue_wait
from ui.sections.train.network_editor import spec_editor
from ui.session import kept, runs
from ui.signin import acting

TOTAL = EXPECTED_COUNT["train"]
CUSTOM_SPEC_KEY = "_custom_arch"  # the network editor's last valid spec (None while it is invalid)
DEFAULT_SEED = 42
LONG_RUN_SECONDS = 60


def form_config(state: Mapping[str, Any]) -> TrainConfig:
    """What the form says now, read from the widgets' session-state keys (a button callback runs before the
    page, so the values of the previous run would be stale). Per-preset keys keep what was typed for each preset;
    all the training images means no limit. Not validated: TrainConfig.resolved and the job say what is wrong."""
    name = state.get("tr_preset", default_preset(acting().signed_in))
    defaults = PRESETS[name]
    images = int(state.get("tr_images", TOTAL))
    return TrainConfig(
        preset=name,
        arch=state.get(CUSTOM_SPEC_KEY) if name == "custom" else None,
        epochs=int(state.get(f"epochs_{name}", defaults.epochs)),
        batch_size=int(state.get(f"batch_{name}", defaults.batch_size)),
        learning_rate=float(state.get(f"lr_{name}", defaults.learning_rate)),
        seed=int(state.get("tr_seed", DEFAULT_SEED)),
        limit=None if images >= TOTAL else images,
    )


def running_settings(cfg: TrainConfig) -> None:
    """While a training runs, the fields show that training's own settings (read-only)."""
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


def settings_form() -> tuple[str, int]:
    """The preset, its fields (the network editor for Custom) and the time estimate; returns (preset, seed)."""
    # The box holds the name and the description sits below it, whole: it is longer than the box is wide.
    first = default_preset(acting().signed_in)
    preset_name = kept(st.selectbox, "Preset", "tr_preset", first, options=list(PRESETS), width=320)
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
    return preset_name, int(seed)


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
    wait = queue_wait(guess.seconds)
    if wait is not None and wait.ahead:
        text = f"{text} Right now: {queue_times.wait_text(wait)}"  # the queue ahead already says why it is longer
    elif note := estimate.busy_note(guess):
        text = f"{text} {note}"
    if (wait.done_seconds if wait is not None else guess.seconds) >= LONG_RUN_SECONDS:
        st.warning(f"{text} Fewer images or epochs make it quicker.")
    else:
        st.caption(text)
