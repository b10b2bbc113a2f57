"""The Feature maps page's layer view: Layer, Channel and Mosaic scale with the input, the channel and all channels
side by side, then Explain a cell, What excites this channel and the channel's synthesised input. A fragment, so
moving the Channel slider redraws only this."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.analysis.activations import channel_mosaic, mosaic_cell, normalise_channels
from fmnist_core.runs import metadata
from ui.figures.maps import channel_heatmap, image_figure, mosaic_figure
from ui.loaders import image_activations, upload_activations
from ui.sections.feature_maps.exemplars import exemplars_section
from ui.sections.feature_maps.explain_cell import CELL_PARAM, explain_cell_section
from ui.sections.feature_maps.image_choice import PAGE, ChosenImage
from ui.sections.shared.synthesis import channel_synthesis_section
from ui.session import kept, kept_value, write_url
from ui.timings import timed


@st.fragment
@timed("feature_maps.layer_view")
def layer_view(info: metadata.RunInfo, model: Any, layers: list[str], chosen: ChosenImage) -> None:
    """Layer and channel controls with their figures; reruns alone when they change."""
    image, image_index = chosen.image, chosen.index
    if image_index is None:
        acts = upload_activations(info.id, info.created, chosen.upload["digest"], image)
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
    # The figures the slider moves come first, the mosaic leading, so that when the row wraps in a narrow window the
    # outlined tile still sits right under the slider (with the input first it was ~800 px below at 800 px wide).
    row = st.container(horizontal=True)
    mosaic_box, channel_box, input_box = row.container(width=360), row.container(width=260), row.container(width=260)
    channel_box.plotly_chart(
        channel_heatmap(
            maps[:, :, channel], f"{layer} · channel {channel} · {maps.shape[0]}×{maps.shape[1]}", height=330
        ),
        width="stretch",
        key="fm_channel_fig",
    )
    raw_mosaic, index_map = channel_mosaic(maps)
    mosaic = channel_mosaic(normalise_channels(maps))[0] if scale == "Per channel" else raw_mosaic
    mosaic_box.plotly_chart(
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
    input_box.plotly_chart(image_figure(image, chosen.caption, height=330), width="stretch", key="fm_input")
    cell = explain_cell_section(info, model, image, image_index, layer, channel, maps)
    exemplars_section(info, layer, channel)
    channel_synthesis_section(info, layer, channel)
    where = {"image": image_index} if image_index is not None else {"source": "upload"}
    write_url(PAGE, {**where, "layer": layer, "channel": channel, CELL_PARAM: cell})
