"""Embedding: the map of all 10,000 test images, from the model's last hidden layer projected to 2-D.

PCA is instant; t-SNE (when openTSNE is installed) takes 10-40 s once per model and is cached. Box or lasso
selection lists the chosen images; each opens on Test images. The address carries the view:
/embedding?method=t-SNE&colour=correct opens the t-SNE map coloured by right and wrong.
"""

import numpy as np
import streamlit as st

from fmnist_core.analysis.embedding import PCA, TSNE, tsne_available
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from ui.components.embedding_map import COLOUR_CHOICES, embedding_map
from ui.frame import page_frame
from ui.loaders import model_or_message, test_probabilities, test_set_or_message
from ui.sections.embedding.projection import embedding
from ui.session import active_run, kept, link_params, url_is_new, url_params, write_url

page_frame()

SHOWN = 40  # thumbnails listed for a selection
COLUMNS = 8
PAGE = "embedding"

st.title("Embedding")
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

methods = [PCA, TSNE] if tsne_available() else [PCA]
colours = {value: label for label, value in COLOUR_CHOICES.items()}  # "correct" -> "Correct or not"
raw = url_params(("method", "colour"))
if url_is_new(PAGE, raw):
    wanted_method, wanted_colour = raw["method"], raw["colour"]
    if wanted_method is not None:
        match = next((m for m in methods if m.lower() == wanted_method.lower()), None)
        if match is None:
            st.warning(f"`method={wanted_method[:40]}` in the address is not one of {', '.join(methods)}; showing PCA.")
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
        help="PCA: the two directions of largest variance (instant). t-SNE: keeps neighbours together "
        "(seconds the first time for each model, then kept beside it).",
    )
with b:
    colour = kept(st.selectbox, "Colour by", "emb_colour", "Actual class", options=list(COLOUR_CHOICES))
write_url(PAGE, {"method": method, "colour": COLOUR_CHOICES[colour]})
if len(methods) == 1:
    st.caption("t-SNE needs the openTSNE package (`pip install -r requirements.txt`); showing PCA.")

if method == TSNE:
    bar = st.empty()

    def show(fraction: float, text: str) -> None:
        bar.progress(fraction, text=f"t-SNE of 10,000 images, once per model: {text}")

    result = embedding(info.id, info.created, method, progress=show)
    bar.empty()
else:
    with st.spinner("Projecting..."):
        result = embedding(info.id, info.created, method)
probs = test_probabilities(info.id, info.created)
actual = test.labels.astype(int)
wrong = int((probs.argmax(axis=1) != actual).sum())
st.caption(
    f"Each point is one test image: the {result.layer} layer's output of model {info.label()}, projected by {method}. "
    f"Crosses are the {wrong:,} misclassified images. Drag a box or lasso to list images, or click one; hover for details."
)
chosen = embedding_map(
    result.points,
    colour,
    actual,
    probs,
    f"{method} of {result.layer} · {info.label()}",
    key=f"emb_map:{info.id}:{info.created}:{method}:{COLOUR_CHOICES[colour]}",  # a new view starts unselected
)

if chosen:
    predicted = probs.argmax(axis=1)
    picked = np.asarray(chosen)
    share = float((predicted[picked] == actual[picked]).mean())
    st.subheader(f"{len(chosen):,} selected images")
    counts = np.bincount(actual[picked], minlength=len(CLASS_NAMES))
    top = ", ".join(f"{CLASS_NAMES[c]} {counts[c]}" for c in np.argsort(-counts)[:3] if counts[c])
    st.caption(f"{share:.0%} classified correctly · most common actual classes: {top}")
    if len(chosen) > SHOWN:
        st.caption(f"Showing the first {SHOWN}.")
    cols = st.columns(COLUMNS)
    for n, index in enumerate(chosen[:SHOWN]):
        with cols[n % COLUMNS]:
            st.image(test.images[index], width=64)
            ok = predicted[index] == actual[index]
            st.caption(f"{'✓' if ok else '✗'} {CLASS_NAMES[predicted[index]]}")
            st.page_link("pages/test_images.py", label=f"#{index}", query_params=link_params(image=index))
else:
    st.info("Select points with the box or lasso tool to list those images here.")
