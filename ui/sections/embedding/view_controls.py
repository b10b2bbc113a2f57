"""The Embedding page's controls and address: Projection (PCA, or t-SNE when openTSNE is installed) and Colour by,
set from ?method= and ?colour= when the address is new, and written back to it."""

from __future__ import annotations

import streamlit as st

from fmnist_core.analysis.embedding import PCA, TSNE, tsne_available
from ui.components.embedding_map import COLOUR_CHOICES
from ui.session import kept, url_is_new, url_params, write_url

PAGE = "embedding"


def view_controls() -> tuple[str, str]:
    """Follow the address, draw the two controls, write the address; returns (method, "Colour by" choice)."""
    methods = [PCA, TSNE] if tsne_available() else [PCA]
    colours = {value: label for label, value in COLOUR_CHOICES.items()}  # "correct" -> "Correct or not"
    raw = url_params(("method", "colour"))
    if url_is_new(PAGE, raw):
        wanted_method, wanted_colour = raw["method"], raw["colour"]
        if wanted_method is not None:
            match = next((m for m in methods if m.lower() == wanted_method.lower()), None)
            if match is None:
                st.warning(
                    f"`method={wanted_method[:40]}` in the address is not one of {', '.join(methods)}; showing PCA."
                )
            st.session_state["emb_method"] = match or PCA
        if wanted_colour is not None:
            if wanted_colour.lower() not in colours:
                st.warning(
                    f"`colour={wanted_colour[:40]}` in the address is not one of {', '.join(colours)}; "
                    "colouring by actual class."
                )
            st.session_state["emb_colour"] = colours.get(wanted_colour.lower(), "Actual class")
    a, b = st.columns(2)
    with a:
        method = kept(
            st.radio,
            "Projection",
            "emb_method",
            PCA,
            options=methods,
            horizontal=True,
            help="Two ways to lay out on a flat map the many numbers the model computes for each image. "
            "PCA: keeps the two directions in which the images differ most (instant). t-SNE: places images the "
            "model sees as alike next to each other (seconds the first time for each model, then kept).",
        )
    with b:
        colour = kept(st.selectbox, "Colour by", "emb_colour", "Actual class", options=list(COLOUR_CHOICES))
    write_url(PAGE, {"method": method, "colour": COLOUR_CHOICES[colour]})
    if len(methods) == 1:
        st.caption("t-SNE needs the openTSNE package (`pip install -r requirements.txt`); showing PCA.")
    return method, colour
