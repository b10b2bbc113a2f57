"""Feature maps: one test image through every conv and pool layer, channel by channel and all at once.

Activations are cached per (model, image); the layer and channel controls live in a fragment, so moving
the "Channel" slider redraws only the heatmaps. The address follows the view:
/feature_maps?image=0&layer=conv2d&channel=1 opens the notebook's first plot.
"""

import streamlit as st

from fmnist_core.analysis.activations import channel_mosaic, mosaic_cell, normalise_channels
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.nets.keras_models import spatial_layers
from ui.components.upload import show_upload_pair, upload_widget
from ui.figures.maps import channel_heatmap, image_figure, mosaic_figure
from ui.frame import page_frame
from ui.loaders import image_activations, model_or_message, test_set_or_message, upload_activations
from ui.sections.feature_maps.exemplars import exemplars_section
from ui.sections.feature_maps.explain_cell import CELL_PARAM, explain_cell_section
from ui.sections.shared.synthesis import channel_synthesis_section
from ui.session import active_run, int_param, kept, kept_value, url_is_new, url_params, write_url
from ui.timings import timed

page_frame()

PAGE = "feature_maps"

st.title("Feature maps")
test = test_set_or_message()
info = active_run()
model = model_or_message(info) if info is not None else None
if test is None or model is None:
    st.stop()

layers = spatial_layers(model)
if not layers:
    st.info(
        f"Model **{info.label()}** has no conv or pool layer, so it has no feature maps: its first layer sees the "
        "image as a flat list of 784 pixels. Pick a model with conv layers in the sidebar."
    )
    st.stop()
last = len(test) - 1
raw = url_params(("image", "layer", "channel", "source", CELL_PARAM))
if url_is_new(PAGE, raw):
    image, problem = int_param("image", 0, last)
    if problem:
        st.warning(f"{problem}; showing image 0 instead.")
    st.session_state["fm_image"] = image if image is not None else kept_value("fm_image", 0)
    layer = raw["layer"]
    if layer is not None and layer not in layers:
        st.warning(f"`layer={layer[:40]}` in the address is not one of {', '.join(layers)}; showing {layers[0]}.")
        layer = None
    st.session_state["fm_layer"] = layer or kept_value("fm_layer", layers[0])
    channel_text = raw["channel"]
    if channel_text is not None:
        try:
            st.session_state["fm_channel"] = int(channel_text)
        except ValueError:
            st.warning(f"`channel={channel_text[:40]}` in the address is not a whole number; showing channel 0.")
            st.session_state["fm_channel"] = 0
if kept_value("fm_layer", layers[0]) not in layers:  # another model's layer name
    st.session_state["fm_layer"] = layers[0]

with st.expander("Use your own image", expanded=raw.get("source") == "upload"):
    upload = upload_widget("fm_upload")
sources = ["Test image", "Uploaded image"] if upload is not None else ["Test image"]
if raw.get("source") == "upload" and upload is not None and url_is_new(PAGE, raw):
    st.session_state["fm_source"] = "Uploaded image"
if st.session_state.get("fm_source") not in sources:
    st.session_state["fm_source"] = "Test image"
source = st.radio("Source", sources, horizontal=True, key="fm_source") if len(sources) > 1 else "Test image"

if source == "Test image":
    image_index = int(
        kept(st.number_input, "Test image", "fm_image", 0, min_value=0, max_value=last, help=f"0 to {last}", width=220)
    )
    image = test.images[image_index]
    caption = f"Input #{image_index} · {CLASS_NAMES[int(test.labels[image_index])]}"
else:
    image_index = None
    image = upload["image"]
    caption = f"Uploaded · {upload['name'][:30]}"
    show_upload_pair(upload)


@st.fragment
@timed("feature_maps.layer_view")
def layer_view() -> None:
    """Layer and channel controls with their figures; reruns alone when they change."""
    if image_index is None:
        acts = upload_activations(info.id, info.created, upload["digest"], image)
    else:
        acts = image_activations(info.id, info.created, image_index)
    shapes = {name: acts[name].shape for name in layers}
    layer = kept(
        st.selectbox,
        "Layer",
        "fm_layer",
        layers[0],
        options=layers,
        format_func=lambda n: f"{n} {shapes[n]}",
        width=320,
    )
    maps = acts[layer]
    channels = maps.shape[-1]
    wanted = kept_value("fm_channel", 0)
    if not isinstance(wanted, int) or not 0 <= wanted < channels:
        st.warning(f"Channel {wanted} does not exist in {layer} (0..{channels - 1}); showing channel 0.")
        st.session_state["fm_channel"] = 0
    control, scale_control = st.columns([4, 1])
    with control:
        channel = kept(st.slider, "Channel", "fm_channel", 0, min_value=0, max_value=channels - 1)
    with scale_control:
        scale = kept(st.radio, "Mosaic scale", "fm_scale", "Per channel", options=["Per channel", "Shared"])
    # The three figures share one row, so the outlined tile stays in view while the slider moves.
    row = st.container(horizontal=True)  # wraps onto more rows in a narrow window
    left, middle, right = row.container(width=260), row.container(width=260), row.container(width=360)
    left.plotly_chart(image_figure(image, caption, height=330), width="stretch", key="fm_input")
    middle.plotly_chart(
        channel_heatmap(
            maps[:, :, channel], f"{layer} · channel {channel} · {maps.shape[0]}×{maps.shape[1]}", height=330
        ),
        width="stretch",
        key="fm_channel_fig",
    )
    raw_mosaic, index_map = channel_mosaic(maps)
    mosaic = channel_mosaic(normalise_channels(maps))[0] if scale == "Per channel" else raw_mosaic
    right.plotly_chart(
        mosaic_figure(
            mosaic,
            index_map,
            mosaic_cell(channel, maps.shape),
            f"All {channels} channels of {layer} ({scale.lower()} scale)",
            height=420,
            raw=raw_mosaic,
            tile_shape=maps.shape[:2],
        ),
        width="stretch",
        key="fm_mosaic",
    )
    cell = explain_cell_section(info, model, image, image_index, layer, channel, maps)
    exemplars_section(info, layer, channel)
    channel_synthesis_section(info, layer, channel)
    where = {"image": image_index} if image_index is not None else {"source": "upload"}
    write_url(PAGE, {**where, "layer": layer, "channel": channel, CELL_PARAM: cell})


layer_view()
