"""The top of the Model page: the run's name (with Rename), where it came from, and its scores on the test set beside
the human labellers'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from fmnist_core import people
from fmnist_core.analysis.suspect_labels import HUMAN_ACCURACY, HUMAN_NOTE, HUMAN_SOURCE
from fmnist_core.nets.inference import cross_entropy
from fmnist_core.nets.keras_models import total_params
from fmnist_core.runs import metadata, store
from ui.loaders import test_probabilities, test_set_or_message
from ui.messages import say_next_run
from ui.readable import run_label

RENAME_MSG_KEY = "_model_rename_msg"
# How a run's numbers were computed, in a learner's words (the field holds Keras' policy name).
PRECISION_WORDS = {"float32": "trained with 32-bit numbers", "mixed_bfloat16": "trained mostly with 16-bit numbers"}


@dataclass(frozen=True)
class Predictions:
    """The test set's given labels and the model's predicted classes, in test-set order."""

    labels: np.ndarray
    predicted: np.ndarray


def header_section(info: metadata.RunInfo, actor: people.Actor) -> None:
    """The run's label, what it is (id, preset, precision, training images, status, owner) and Rename for a run
    this person may change."""
    meta = info.metadata
    st.subheader(run_label(info))
    owner = f" · by {meta.owner or 'nobody (saved before owners)'}" if actor.signed_in and not info.shipped else ""
    precision = meta.precision or "float32"
    st.caption(
        f"Run id {info.id} · preset {meta.preset or 'n/a'} · {PRECISION_WORDS.get(precision, precision)} · "
        f"{meta.train_images or 'n/a'} training images · status {info.status}{owner}"
    )
    if not info.shipped and people.may_delete(actor, meta.owner):
        rename_box(info, actor)


def rename_box(info: metadata.RunInfo, actor: people.Actor) -> None:
    """Give the run a readable name (the id stays its key); the name is checked as it is typed."""
    with st.popover("Rename", icon=":material/edit:"):
        typed = st.text_input(
            "Name", value=info.metadata.name or "", key=f"rename_{info.id}", max_chars=metadata.MAX_NAME
        )
        problem = None
        if typed.strip():
            try:
                metadata.check_run_name(typed)
            except store.StoreError as exc:
                problem = str(exc)
                st.error(f"That name can't be used: {problem}.")
        st.button(
            "Save name",
            key=f"rename_go_{info.id}",
            on_click=_rename,
            args=(info.id, typed, actor),
            disabled=bool(problem),
        )


def _rename(run_id: str, name: str, actor: people.Actor) -> None:
    try:
        renamed = store.rename_run(run_id, name.strip() or None, actor=actor)
        say_next_run(RENAME_MSG_KEY, "success", f"Run {run_id} is now called “{renamed.label()}”.")
    except store.StoreError as exc:
        say_next_run(RENAME_MSG_KEY, "error", str(exc))


def scores_section(info: metadata.RunInfo, model: Any) -> Predictions | None:
    """Test accuracy beside the human labellers', test loss and parameters in one row that wraps; returns the
    predictions for the confusion matrix, or None when the test set is not available."""
    test = test_set_or_message()
    probs = test_probabilities(info.id, info.created) if test is not None else None
    # One row that wraps in a narrow window; the human figure sits beside the model's accuracy.
    m1 = m_human = m2 = m3 = st.container(horizontal=True, gap="large")
    scored = None
    if probs is not None:
        scored = Predictions(labels=test.labels.astype(int), predicted=probs.argmax(axis=1))
        m1.metric(
            "Test accuracy",
            f"{(scored.predicted == scored.labels).mean():.2%}",
            width="content",
            help="Each test image shown once, as it is: the figure every page uses.",
        )
        if info.metadata.mirror_accuracy is not None:
            m1.metric(
                "With mirror images",
                f"{info.metadata.mirror_accuracy:.2%}",
                width="content",
                help="Test accuracy when the network also sees each test image flipped left-right and its two "
                "answers are averaged (test-time augmentation): a steadier guess for twice the work. Measured "
                "when the run was trained; the other pages show each image once.",
            )
        m_human.metric(
            "Human labellers",
            f"{HUMAN_ACCURACY:.1%}",
            width="content",
            help=f"Crowd labels agreed with the given labels this often ({HUMAN_NOTE}): {HUMAN_SOURCE}",
        )
        m2.metric(
            "Test loss",
            f"{cross_entropy(probs, scored.labels):.4f}",
            width="content",
            help="How unsure the model is of the right answers, on average over the test images (cross-entropy): "
            "0 would mean 100% sure of the right class every time; lower is better.",
        )
    m3.metric(
        "Parameters",
        f"{total_params(model):,}",
        width="content",
        help="How many numbers the network learned in training: the weights and biases of all its layers.",
    )
    if probs is not None:
        st.caption(
            f"Human labellers: {HUMAN_ACCURACY:.1%} agreement with the given labels ({HUMAN_NOTE}, "
            f"[source]({HUMAN_SOURCE})); the labels themselves are noisy. "
            "Test images → **Only suspect labels** lists the ones whose label looks wrong next to this model's answers."
        )
    return scored


def provenance_notes(meta: metadata.RunMetadata) -> None:
    """The command that trained the run, and the fields of its file this version does not know (kept, not used)."""
    if meta.command:
        st.code(meta.command, language="bash")
    if unknown := meta.unknown_fields():
        st.caption(
            f"This run's file has fields this version does not know (kept, not used): unknown fields: "
            f"{', '.join(unknown)}"
        )
