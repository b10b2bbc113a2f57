"""The network diagram: a DOT graph of a spec or of a Keras model, input to output, one box per layer. Plain text
for st.graphviz_chart (which renders DOT in the browser), so nothing here imports Streamlit."""

from __future__ import annotations

from typing import Any

from fmnist_core.nets import architecture
from fmnist_core.nets.architecture import ArchSpec

TYPE_COLOURS = {
    "Conv2D": "#c7dcf5",
    "MaxPooling2D": "#d9f0d3",
    "AveragePooling2D": "#d9f0d3",
    "BatchNormalization": "#f3e3c3",
    "Activation": "#f3e3c3",
    "Dense": "#e6d5f2",
    "Dropout": "#eeeeee",
    "Flatten": "#eeeeee",
}


def _quote(text: str) -> str:
    """A DOT string literal; line breaks become DOT's \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _layer_detail(layer: Any) -> str:
    """One line about a Keras layer's settings for the diagram."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        k = layer.kernel_size
        act = layer.activation.__name__
        return f"{k[0]}x{k[1]} conv, {layer.filters} filters, {layer.padding}" + ("" if act == "linear" else f", {act}")
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return f"{layer.pool_size[0]}x{layer.pool_size[1]} {'max' if kind.startswith('Max') else 'average'} pool"
    if kind == "Dense":
        return f"{layer.units} units, {layer.activation.__name__}"
    if kind == "Dropout":
        return f"rate {layer.rate:g}"
    if kind == "Activation":
        return layer.activation.__name__
    return ""


def _spec_details(spec: ArchSpec) -> list[str]:
    """The same one-liners from the spec, without building anything."""
    details = []
    blocks = iter(spec.conv)
    rows = architecture.describe(spec).layers
    for row in rows:
        if row.type == "Conv2D":
            block = next(blocks)
            act = "" if block.batch_norm else f", {spec.activation}"
            details.append(f"{block.kernel}x{block.kernel} conv, {block.filters} filters, {block.padding}{act}")
        elif row.type.endswith("Pooling2D"):
            details.append(f"2x2 {'max' if row.type.startswith('Max') else 'average'} pool")
        elif row.type == "Dense":
            details.append(f"{row.output_shape[0]} units, {'softmax' if row is rows[-1] else spec.activation}")
        elif row.type == "Dropout":
            details.append(f"rate {spec.dropout:g}")
        elif row.type == "Activation":
            details.append(spec.activation)
        else:
            details.append("")
    return details


def architecture_diagram(source: ArchSpec | dict[str, Any] | Any) -> str:
    """A DOT graph of the network, input to output, one box per layer (name, settings, output shape); for
    st.graphviz_chart, which renders DOT in the browser without the graphviz package."""
    if isinstance(source, ArchSpec | dict | str):
        spec = architecture.parse_spec(source)
        rows = [(r.name, r.type, r.output_shape) for r in architecture.describe(spec).layers]
        details = _spec_details(spec)
    else:
        from fmnist_core.nets.keras_models import summary_rows

        rows = [(r.name, r.type, r.output_shape) for r in summary_rows(source)]
        details = [_layer_detail(layer) for layer in source.layers]
    lines = [
        "digraph network {",
        # Transparent background and filled pastel boxes with dark text: readable in the light and dark themes.
        '  rankdir=TB; nodesep=0.2; ranksep=0.25; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#ffffff",'
        ' color="#888888", fontcolor="#111111"];',
        '  edge [color="#888888", arrowsize=0.6];',
        f"  input [label={_quote('input' + chr(10) + '28 x 28 x 1')}];",
    ]
    previous = "input"
    for i, ((name, kind, shape), detail) in enumerate(zip(rows, details, strict=True)):
        node = f"n{i}"
        label = "\n".join(part for part in (f"{name} ({kind})", detail, " x ".join(str(d) for d in shape)) if part)
        lines.append(f"  {node} [label={_quote(label)}, fillcolor={_quote(TYPE_COLOURS.get(kind, '#ffffff'))}];")
        lines.append(f"  {previous} -> {node};")
        previous = node
    lines.append("}")
    return "\n".join(lines)
