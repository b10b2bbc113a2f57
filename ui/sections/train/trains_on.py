"""What the network trains on (Train page): a training image and versions of it exactly as the chosen preset's
training pipeline makes them (fmnist_core.training.augmentation)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.data import fashion_mnist
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.figures.pictures import pixels

VIEW_PX = 84  # a 28x28 view drawn 3x, pixels kept square
TRAINS_ON_KEY = "tr_trains_on"


@st.cache_resource(show_spinner="Loading the training images...")
def _train_set() -> fashion_mnist.Split:
    return fashion_mnist.load_train_set()


@st.cache_data(max_entries=32, show_spinner="Running the training pipeline on this image...")
def _training_views(preset: str, index: int, seed: int) -> Any:
    from fmnist_core.training.augmentation import training_views

    train = _train_set()
    return training_views(preset, train.images[index], int(train.labels[index]), seed=seed)


def trains_on_section(preset: str, seed: int) -> None:
    """A training image and 8 versions of it exactly as the preset's training pipeline makes them (seeded)."""
    box = st.expander(
        "What the network trains on", icon=":material/auto_awesome_motion:", key=TRAINS_ON_KEY, on_change="rerun"
    )
    if not box.open:  # opened on demand: the pipeline needs TensorFlow, which this page otherwise never loads
        return
    with box:
        try:
            train = _train_set()
        except fashion_mnist.DataError as exc:
            st.error(f"**Fashion-MNIST is not available.** {exc}")
            return
        last = len(train) - 1
        index = int(
            st.number_input(
                "Training image",
                min_value=0,
                max_value=last,
                value=0,
                key="tr_view_image",
                width=220,
                help=f"0 to {last}",
            )
        )
        got = _training_views(preset, index, int(seed))
        st.caption(
            f"Training image #{index} ({CLASS_NAMES[int(train.labels[index])]}) and 8 versions of it as the "
            f"**{preset}** preset's training pipeline makes them with seed {seed}: the same function the training "
            "calls, so each is what one training batch could contain."
        )
        st.image(
            [pixels(got.image), *(pixels(v) for v in got.views)],
            caption=["the image", *got.changes],
            width=VIEW_PX,
            output_format="PNG",  # JPEG would smear the pixels the pipeline made
        )
        st.markdown("**Augmentation:** " + "; ".join(got.explanation))
