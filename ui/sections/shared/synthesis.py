"""Synthesised inputs (Feature maps, Model): the input a channel or a class responds to most, made by gradient
ascent (fmnist_core.analysis.synthesis), beside the test image that scores highest on the same objective.

Opened on demand and cached per what they depend on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.pictures import pixels
from ui.loaders import cached_model, test_set_or_message
from ui.session import link_params

SYNTH_PX = 168  # a 28x28 picture drawn 6x


@st.cache_data(max_entries=12, show_spinner="Scoring the 10,000 test images on this objective...")
def _test_scores(run_id: str, created: str | None, layer: str | None) -> np.ndarray:
    """Every test image's objective for every channel (or class) of a layer, once per (run, layer)."""
    from fmnist_core.analysis.synthesis import objective_scores

    return objective_scores(cached_model(run_id, created), test_set_or_message().images, layer)


@st.cache_data(max_entries=64, show_spinner=False)
def synthesised(run_id: str, created: str | None, layer: str | None, index: int, seed: int) -> Any:
    """The synthesised input for (run, layer, channel or class, seed): computed once, then instant."""
    from fmnist_core.analysis.synthesis import Target, synthesise

    scores = _test_scores(run_id, created, layer)
    return synthesise(cached_model(run_id, created), Target(layer, index), seed=seed, test_scores_of_layer=scores)


def _synthesis_pair(info: Any, layer: str | None, index: int, seed: int, what: str) -> None:
    """The synthesised picture beside the test image that scores highest on the same objective."""
    test = test_set_or_message()
    if test is None:
        return
    with st.spinner("Synthesising by gradient ascent (about a second)..."):
        found = synthesised(info.id, info.created, layer, index, seed)
    row = st.container(horizontal=True, gap="medium")
    with row.container(width=SYNTH_PX + 40):
        st.image(pixels(found.image, 6), width=SYNTH_PX, output_format="PNG")
        st.caption(f"Synthesised · {what} **{found.objective:.3f}**")
    with row.container(width=SYNTH_PX + 40):
        best = found.best_test_index
        st.image(pixels(test.images[best] / 255.0, 6), width=SYNTH_PX, output_format="PNG")
        st.caption(f"Best test image · {what} **{found.best_test_objective:.3f}**")
        st.page_link("pages/test_images.py", label=f"#{best}", query_params=link_params(image=best))
    verdict = "beats" if found.objective > found.best_test_objective else "does not beat"
    st.caption(
        f"Gradient ascent from gray plus noise (seed {seed}), pixels kept in 0..1, with jitter, blur and total "
        f"variation to keep it readable; it {verdict} every one of the 10,000 test images on this objective "
        f"({found.seconds:.1f} s to make)."
    )


CHANNEL_SYNTH_KEY = "fm_synth_open"
CLASS_SYNTH_KEY = "model_synth_open"


def channel_synthesis_section(info: Any, layer: str, channel: int) -> None:
    """Feature maps: the input that maximises this channel's mean activation.

    Opened on demand: a new channel costs about a second of gradient ascent, and scrubbing the channels must not.
    """
    box = st.expander(
        "What this channel would like to see", icon=":material/auto_fix_high:", key=CHANNEL_SYNTH_KEY, on_change="rerun"
    )
    if not box.open:
        return
    with box:
        seed = int(st.number_input("Seed", min_value=0, max_value=999, value=0, key="fm_synth_seed", width=160))
        _synthesis_pair(info, layer, channel, seed, f"mean of {layer} channel {channel}")


def class_synthesis_section(info: Any) -> None:
    """Model page: what the network thinks a class looks like (the input that maximises its pre-softmax score).

    Opened on demand, so the Model page (and a confusion-cell click from it) never waits for gradient ascent.
    """
    box = st.expander(
        "What the network thinks a class looks like",
        icon=":material/auto_fix_high:",
        key=CLASS_SYNTH_KEY,
        on_change="rerun",
    )
    if not box.open:
        return
    with box:
        _class_synthesis(info)


def _class_synthesis(info: Any) -> None:
    st.caption("The input that maximises the class's score before the softmax.")
    row = st.container(horizontal=True, vertical_alignment="bottom")
    cls = int(
        row.selectbox(
            "Class",
            list(range(len(CLASS_NAMES))),
            index=7,
            format_func=lambda c: CLASS_NAMES[c],
            key="model_synth_class",
            width=220,
        )
    )
    seed = int(row.number_input("Seed", min_value=0, max_value=999, value=0, key="model_synth_seed", width=160))
    _synthesis_pair(info, None, cls, seed, f"{CLASS_NAMES[cls]} score (pre-softmax)")
