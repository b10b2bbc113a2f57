"""The Embedding page's map of all test images and the list of the ones selected on it, each a link to Test images."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from fmnist_core.data import fashion_mnist
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.runs import metadata
from ui.components.embedding_map import COLOUR_CHOICES, embedding_map
from ui.readable import run_label
from ui.session import link_params

SHOWN = 40  # thumbnails listed for a selection
CARD_WIDTH = 104  # px: a thumbnail, "✗ T-shirt/top" on one line or two, and "#9999"


def map_section(
    info: metadata.RunInfo, test: fashion_mnist.Split, probs: np.ndarray, result: Any, method: str, colour: str
) -> list[int]:
    """What the map shows, then the map; returns the indices of the selected test images."""
    actual = test.labels.astype(int)
    wrong = int((probs.argmax(axis=1) != actual).sum())
    st.caption(
        f"Each point is one test image, placed by the numbers the {result.layer} layer of model {run_label(info)} "
        f"computes for it, laid out flat by {method}. "
        f"Crosses are the {wrong:,} misclassified images. Drag a box or lasso to list images, or click one; hover for details."
    )
    return embedding_map(
        result.points,
        colour,
        actual,
        probs,
        f"{method} of {result.layer} · {run_label(info)}",
        key=f"emb_map:{info.id}:{info.created}:{method}:{COLOUR_CHOICES[colour]}",  # a new view starts unselected
    )


def selection_section(test: fashion_mnist.Split, probs: np.ndarray, chosen: list[int]) -> None:
    """How many are selected, how many right and of which classes, then the first SHOWN as thumbnails with links."""
    if not chosen:
        st.info("Select points with the box or lasso tool to list those images here.")
        return
    actual = test.labels.astype(int)
    predicted = probs.argmax(axis=1)
    picked = np.asarray(chosen)
    share = float((predicted[picked] == actual[picked]).mean())
    st.subheader(f"{len(chosen):,} selected images")
    counts = np.bincount(actual[picked], minlength=len(CLASS_NAMES))
    top = ", ".join(f"{CLASS_NAMES[c]} {counts[c]}" for c in np.argsort(-counts)[:3] if counts[c])
    st.caption(f"{share:.0%} classified correctly · most common actual classes: {top}")
    if len(chosen) > SHOWN:
        st.caption(f"Showing the first {SHOWN}.")
    # Cards of a fixed width that wrap onto as many rows as the window needs: eight fixed columns were narrower than
    # "Pullover" or "#1096" at 800 px, and split or cut them.
    cards = st.container(horizontal=True, gap="small")
    for index in chosen[:SHOWN]:
        card = cards.container(width=CARD_WIDTH, gap="xxsmall")
        card.image(test.images[index], width=64)
        ok = predicted[index] == actual[index]
        card.caption(f"{'✓' if ok else '✗'} {CLASS_NAMES[predicted[index]]}")
        card.page_link("pages/test_images.py", label=f"#{index}", query_params=link_params(image=index))
