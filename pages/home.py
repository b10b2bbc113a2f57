"""Home: what the app does, sample test images per class, the active model's card, links onward."""

import streamlit as st

from fmnist_core.data.fashion_mnist import CLASS_NAMES, samples_per_class
from ui.frame import page_frame
from ui.loaders import test_set_or_message
from ui.readable import run_label
from ui.session import active_run

page_frame()

SAMPLE_PX = 52  # each sample image; two per class side by side
SAMPLE_GAP = 12
SAMPLES_WIDTH = 5 * (2 * SAMPLE_PX + 8) + 4 * SAMPLE_GAP  # five classes a row
CARD_WIDTH = 300

st.title("Fashion-MNIST CNN dashboard")
st.markdown(
    "Train the original Keras tutorial network (2 convs), or one you design, on **Fashion-MNIST** (70,000 28×28 "
    "grayscale images of clothing in 10 classes) and *see* what it learned: live training curves, predictions on "
    "the 10,000 test images, the feature maps inside every conv and pool layer, and a map of all test images."
)
st.markdown(
    "**Start here:** a trained model is already chosen (the sidebar's **Model** box), so *Browse test images* "
    "shows what it gets right and wrong; then *Train a model* of your own (6,000 images and 1 epoch make a quick "
    "first run)."
)

links = st.container(horizontal=True)  # one row that wraps in a narrow window, each label whole
links.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
links.page_link("pages/test_images.py", label="Browse test images", icon=":material/grid_view:")
links.page_link("pages/feature_maps.py", label="Scrub feature maps", icon=":material/layers:")
links.page_link("pages/model.py", label="Inspect the model", icon=":material/analytics:")
links.page_link("pages/embedding.py", label="Map all test images", icon=":material/scatter_plot:")
links.page_link("pages/quiz.py", label="Predict the model", icon=":material/psychology:")

# Fixed widths in rows that wrap: side by side from about 1280 px wide, stacked below; nothing is squeezed.
row = st.container(horizontal=True, gap="small")
left, right = row.container(width=SAMPLES_WIDTH), row.container(width=CARD_WIDTH)
with left:
    st.subheader("Sample test images")
    test = test_set_or_message()
    if test is not None:
        samples = samples_per_class(test, per_class=2)
        grid = st.container(horizontal=True, gap=SAMPLE_GAP)
        for cls, indices in samples.items():
            with grid.container(width=2 * SAMPLE_PX + 8, gap="xxsmall"):
                st.image([test.images[i] for i in indices], width=SAMPLE_PX)
                st.caption(f"{cls} · {CLASS_NAMES[cls]}")

with right:
    st.subheader("Active model")
    info = active_run()
    if info is not None:
        meta = info.metadata
        with st.container(border=True):
            st.markdown(f"**{run_label(info)}**" + (" — shipped with the app" if info.shipped else ""))
            metrics = st.container(horizontal=True)  # the two numbers wrap rather than shrink
            acc = f"{info.test_accuracy:.2%}" if info.test_accuracy is not None else "n/a"
            metrics.metric("Test accuracy", acc, width="content")
            metrics.metric("Parameters", f"{meta.params:,}" if meta.params else "n/a", width="content")
            arch = " → ".join(f"{row.name} {row.output_shape}" for row in meta.summary)
            st.caption(f"Architecture: {arch}" if arch else f"Architecture: {meta.architecture or 'n/a'}")
            st.caption(f"Preset {meta.preset or 'n/a'}, {len(meta.history)} epochs, status {info.status}")
