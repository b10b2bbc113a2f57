"""Synthesised inputs (Feature maps, Model): the input a channel or a class responds to most, made by gradient
ascent (fmnist_core.analysis.synthesis), beside the test image that scores highest on the same objective.

Opened on demand and cached per what they depend on.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.pictures import pixels
from ui.loaders import cached_model, test_set_or_message
from ui.session import link_params

SYNTH_PX = 168  # a 28x28 picture drawn 6x
SHELF_SIZE = 64  # synthesised inputs kept per server


@st.cache_data(max_entries=12, show_spinner="Scoring the 10,000 test images on the same measure...")
def _test_scores(run_id: str, created: str | None, layer: str | None) -> np.ndarray:
    """Every test image's objective for every channel (or class) of a layer, once per (run, layer)."""
    from fmnist_core.analysis.synthesis import objective_scores

    return objective_scores(cached_model(run_id, created), test_set_or_message().images, layer)


@dataclass(frozen=True)
class Made:
    """A synthesised input and how long the wait for it was, from the click to the picture."""

    found: Any
    seconds: float


class _Shelf:
    """The synthesised inputs made on this server, newest kept (not st.cache_data: that refuses a function that
    draws a progress bar made outside it)."""

    def __init__(self) -> None:
        self.made: OrderedDict[tuple, Made] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> Made | None:
        with self.lock:
            return self.made.get(key)

    def put(self, key: tuple, made: Made) -> None:
        with self.lock:
            self.made[key] = made
            while len(self.made) > SHELF_SIZE:
                self.made.popitem(last=False)


@st.cache_resource
def _shelf() -> _Shelf:
    return _Shelf()


@st.cache_resource
def _waits() -> Any:
    """This server's record of how long syntheses really took: what the next promise is based on."""
    from fmnist_core.analysis.synthesis import WaitRecord

    return WaitRecord()


def synthesised(info: Any, layer: str | None, index: int, seed: int) -> tuple[Made, bool]:
    """The synthesised input for (run, layer, channel or class, seed), and whether it was made just now: made once
    per server with an honest promise and a progress bar, then instant."""
    from fmnist_core.analysis.synthesis import Target, load_per_core, synthesise, wait_sentence

    key = (info.id, info.created, layer, index, seed)
    made = _shelf().get(key)
    if made is not None:
        return made, False
    record, load = _waits(), load_per_core()
    promise = wait_sentence(record.expected(load))
    bar = st.progress(0.0, text=promise)
    started = time.perf_counter()
    scores = _test_scores(info.id, info.created, layer)

    def show(done: int, steps: int) -> None:
        bar.progress(done / steps, text=f"{promise} Step {done} of {steps}.")

    found = synthesise(
        cached_model(info.id, info.created), Target(layer, index), seed=seed, test_scores_of_layer=scores, progress=show
    )
    made = Made(found, time.perf_counter() - started)
    record.add(made.seconds, load)
    _shelf().put(key, made)
    bar.empty()
    return made, True


def _synthesis_pair(info: Any, layer: str | None, index: int, seed: int, what: str) -> None:
    """The synthesised picture beside the test image that scores highest on the same measure, and how it was made."""
    test = test_set_or_message()
    if test is None:
        return
    made, just_now = synthesised(info, layer, index, seed)
    found = made.found
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
    took = f"It took {made.seconds:.1f} s to make" + (
        "." if just_now else " on this server; kept, so shown at once now."
    )
    st.caption(
        f"Made from gray with a little random noise (seed {seed}): step by step, every pixel was changed a little "
        "in the direction that raises the number above most, keeping pixels between black and white. Small random "
        "shifts, a slight blur and a penalty for speckles keep the picture readable. It "
        f"{verdict} every one of the 10,000 test images on this number. {took}"
    )
    with st.popover("What is this?", icon=":material/help:"):
        st.markdown(
            "The method is called *gradient ascent*: the gradient says, for every pixel, which way (lighter or "
            "darker) raises the number, and each step follows it. The shifts (*jitter*), the blur and the speckle "
            "penalty (*total variation*) are called *regularisation*: without them the picture turns into noise "
            "that scores high but shows nothing a person could recognise."
        )


CHANNEL_SYNTH_KEY = "fm_synth_open"
CLASS_SYNTH_KEY = "model_synth_open"


def channel_synthesis_section(info: Any, layer: str, channel: int) -> None:
    """Feature maps: the input that maximises this channel's mean activation.

    Opened on demand: a new channel costs seconds of gradient ascent, and scrubbing the channels must not.
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
    st.caption(
        "The picture that makes the network's score for this class as high as it can go. The score is the number "
        "the network computes for each class before turning all ten into probabilities (the softmax step)."
    )
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
    _synthesis_pair(info, None, cls, seed, f"{CLASS_NAMES[cls]} score")
