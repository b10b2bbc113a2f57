"""Feature maps: one test image through every conv and pool layer, channel by channel and all at once.

Activations are cached per (model, image); the layer and channel controls live in a fragment, so moving
the "Channel" slider redraws only the heatmaps. The address follows the view:
/feature_maps?image=0&layer=conv2d&channel=1 opens the notebook's first plot.
"""

import streamlit as st

from fmnist_core.nets.keras_models import spatial_layers
from ui.frame import page_frame
from ui.loaders import model_or_message, test_set_or_message
from ui.readable import run_label
from ui.sections.feature_maps.image_choice import choose_image, follow_address
from ui.sections.feature_maps.layer_view import layer_view
from ui.session import active_run

page_frame()

st.title("Feature maps")
test = test_set_or_message()
info = active_run()
model = model_or_message(info) if info is not None else None
if test is None or model is None:
    st.stop()

layers = spatial_layers(model)
if not layers:
    st.info(
        f"Model **{run_label(info)}** has no conv or pool layer, so it has no feature maps: its first layer sees the "
        "image as a flat list of 784 pixels. Pick a model with conv layers in the sidebar."
    )
    st.stop()
raw = follow_address(layers, last=len(test) - 1)
chosen = choose_image(test, raw)
layer_view(info, model, layers, chosen)
