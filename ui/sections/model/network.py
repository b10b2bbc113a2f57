"""The Model page's view of the network itself: its diagram and spec, the layer table, and the first conv layer's
kernels."""

from __future__ import annotations

from typing import Any

import streamlit as st

from fmnist_core.analysis.activations import channel_mosaic
from fmnist_core.explain.common import conv_layers
from fmnist_core.explain.gradcam import first_layer_kernels
from fmnist_core.nets import architecture
from fmnist_core.nets.keras_models import summary_rows, total_params
from fmnist_core.runs import metadata
from ui.figures.maps import mosaic_figure
from ui.figures.network_diagram import architecture_diagram


def architecture_section(info: metadata.RunInfo, model: Any) -> None:
    """The diagram and the spec (or where an import came from) in two tabs, then the layer table and the total."""
    meta = info.metadata
    rows = summary_rows(model)
    with st.expander("Architecture", expanded=True):
        # Tabs, not columns: the diagram is tall and narrow, the JSON wide; side by side the JSON was cut.
        spec = meta.spec()
        diagram_tab, spec_tab = st.tabs(["Diagram", "Spec (JSON)" if spec is not None else "Where it came from"])
        diagram_tab.graphviz_chart(architecture_diagram(model))
        if spec is not None:
            spec_tab.code(architecture.to_json(spec), language="json", wrap_lines=True)
        else:
            spec_tab.caption(f"Imported from {meta.imported_from}; inputs: {meta.input_scaling}")
    st.dataframe(
        [{"layer": r.name, "type": r.type, "output shape": str(r.output_shape), "parameters": r.params} for r in rows],
        hide_index=True,
    )
    st.markdown(f"**Total parameters: {total_params(model):,}**")


def kernels_section(model: Any) -> None:
    """What the first conv layer learned: its kernels as one mosaic (or why a model without conv layers has none)."""
    convs = conv_layers(model)
    if not convs:
        st.info("This model has no conv layer, so there are no kernels to show: it sees each image as 784 numbers.")
        return
    kernels = first_layer_kernels(model)
    kh, kw, count = kernels.shape
    st.markdown(
        f"**What the first layer learned**: the {count} {kh}×{kw} kernels of {convs[0]} (bright = positive weight)"
    )
    mosaic, index_map = channel_mosaic(kernels)
    st.plotly_chart(
        mosaic_figure(mosaic, index_map, None, f"{convs[0]} kernels", height=420), width="stretch", key="kernels"
    )
