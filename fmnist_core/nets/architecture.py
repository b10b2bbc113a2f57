"""The network spec: a small JSON description of a CNN, validated, described (layers, parameters, FLOPs), built.

    {"conv": [{"filters": 32, "kernel": 3, "padding": "same", "batch_norm": true, "pool": "max"}, ...],
     "dense": [128], "dropout": 0.25, "activation": "relu"}

A block is Conv2D (with the activation; with batch_norm: no bias, then BatchNormalization and an Activation
layer), then the 2x2 stride-2 pool. After the blocks: Flatten, then for each dense layer a Dropout (when
dropout > 0) and the Dense layer, then a Dropout and the 10-way softmax output. Layers are named as Keras would
name them in a fresh process (conv2d, conv2d_1, ..., dense, dense_1), so every model built from a spec has the
same names whatever the process built before.

Parsing and describing need no TensorFlow (the CLI's `arch` command and the editor stay fast); building the Keras
model from the plan is fmnist_core.nets.keras_models.build.

FLOP counting convention: a multiply-add is 2 FLOP; only Conv2D and Dense multiply-adds are counted (bias,
activation, pooling, batch norm and dropout are elementwise and add about 1% for these shapes). A training step
per image is the forward pass, plus the weight gradients (as many FLOP as the layer's forward pass), plus the
input gradients (as many again) for every layer but the first, whose input (the image) needs no gradient.
For the notebook's model: 10.1 MFLOP forward, 29.5 per training image.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
MAX_PARAMS = 5_000_000
MAX_BLOCKS = 4
MAX_DENSE = 3
FILTERS_RANGE = (4, 256)
KERNEL_RANGE = (1, 7)
UNITS_RANGE = (8, 2048)
MAX_DROPOUT = 0.8
PADDINGS = ("valid", "same")
POOLS = ("max", "avg", "none")
ACTIVATIONS = ("relu", "gelu", "elu", "tanh")
TOP_KEYS = ("conv", "dense", "dropout", "activation")
BLOCK_KEYS = ("filters", "kernel", "padding", "batch_norm", "pool")
POOL_CLASSES = {"max": "MaxPooling2D", "avg": "AveragePooling2D"}


class SpecError(ValueError):
    """A spec that cannot be built; the message is one sentence naming the problem."""


@dataclass(frozen=True)
class ConvBlock:
    """Conv2D (+ batch norm and activation) then an optional 2x2 pool."""

    filters: int
    kernel: int
    padding: str = "valid"
    batch_norm: bool = False
    pool: str = "max"


@dataclass(frozen=True)
class ArchSpec:
    """A validated network: build it with `build`, cost it with `describe`."""

    conv: tuple[ConvBlock, ...]
    dense: tuple[int, ...] = (128,)
    dropout: float = 0.0
    activation: str = "relu"


@dataclass(frozen=True)
class LayerRow:
    """One row of the layer table: output shape without the batch axis; flops is the forward pass per image
    (None when not computed, e.g. for a loaded model)."""

    name: str
    type: str
    output_shape: tuple
    params: int
    flops: int | None = None
    extra: dict = field(default_factory=dict, compare=False)  # keys a stored row had that this version does not know


@dataclass(frozen=True)
class Description:
    """What a spec costs before anything trains."""

    layers: tuple[LayerRow, ...]
    params: int
    flops_forward: int  # per image
    flops_train: int  # per image and training step (forward + weight gradients + input gradients)

    @property
    def mflop_forward(self) -> float:
        return self.flops_forward / 1e6

    @property
    def mflop_train(self) -> float:
        return self.flops_train / 1e6

    def to_json(self) -> dict[str, Any]:
        """The CLI's `arch --json` payload."""
        return {
            "layers": [
                {"name": r.name, "type": r.type, "shape": list(r.output_shape), "params": r.params} for r in self.layers
            ],
            "params": self.params,
            "mflop_forward": round(self.mflop_forward, 3),
            "mflop_train": round(self.mflop_train, 3),
        }


# --- the presets, as specs ----------------------------------------------------------------------------
NOTEBOOK_SPEC = ArchSpec(conv=(ConvBlock(64, 3), ConvBlock(64, 3)), dense=(128,))
# The improved preset's first network (two convs, one with batch norm); runs saved with it rebuild with it.
EARLY_IMPROVED_SPEC = ArchSpec(
    conv=(ConvBlock(32, 3, padding="same"), ConvBlock(64, 3, padding="same", batch_norm=True)),
    dense=(256,),
    dropout=0.3,
)
# The improved preset's network: two stages of two 3x3 'same' convs (32, then 64 filters) with batch norm, a pool
# after each stage.
DEEP_SPEC = ArchSpec(
    conv=(
        ConvBlock(32, 3, padding="same", batch_norm=True, pool="none"),
        ConvBlock(32, 3, padding="same", batch_norm=True),
        ConvBlock(64, 3, padding="same", batch_norm=True, pool="none"),
        ConvBlock(64, 3, padding="same", batch_norm=True),
    ),
    dense=(256,),
    dropout=0.3,
)
# The speedrun preset's network: three conv stages, each halving the map and doubling the filters, batch norm after
# every conv, and no hidden dense layer: cheap per image, quick to learn.
SPEED_SPEC = ArchSpec(
    conv=(
        ConvBlock(32, 3, batch_norm=True),
        ConvBlock(64, 3, padding="same", batch_norm=True),
        ConvBlock(128, 3, padding="same", batch_norm=True),
    ),
    dense=(),
)
# Preset networks by the name runs record: "notebook_cnn" (the notebook's), "deep_cnn" (improved's), "speed_cnn"
# (speedrun's) and "improved_cnn" (improved's first network).
PRESET_SPECS: dict[str, ArchSpec] = {
    "notebook_cnn": NOTEBOOK_SPEC,
    "deep_cnn": DEEP_SPEC,
    "speed_cnn": SPEED_SPEC,
    "improved_cnn": EARLY_IMPROVED_SPEC,
}
ARCHITECTURE_ALIASES = {"seed_cnn": "notebook_cnn"}  # the name runs saved before the rename recorded


def preset_architecture(name: str) -> str:
    """A preset network's current name (old names of runs saved earlier are mapped)."""
    return ARCHITECTURE_ALIASES.get(name, name)


# --- parsing --------------------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, int | float | bool) or value is None:
        text = json.dumps(value)  # true/false/null, as the user wrote them in JSON
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        options = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
        raise SpecError(f"{where}{key} must be {options}, not {_show(value)}.")
    return value


def _parse_block(index: int, raw: Any) -> ConvBlock:
    where = f"conv block {index}: "
    if not isinstance(raw, dict):
        raise SpecError(f'conv block {index} must be an object like {{"filters": 32, "kernel": 3}}, not {_show(raw)}.')
    for key in raw:
        if key not in BLOCK_KEYS:
            raise SpecError(f"unknown key {_show(key)} in conv block {index}; the keys are {', '.join(BLOCK_KEYS)}.")
    for key in ("filters", "kernel"):
        if key not in raw:
            raise SpecError(f"conv block {index} needs '{key}'.")
    filters, kernel = raw["filters"], raw["kernel"]
    low, high = FILTERS_RANGE
    if not _is_int(filters) or not low <= filters <= high:
        raise SpecError(f"{where}filters must be a whole number from {low} to {high}, not {_show(filters)}.")
    low, high = KERNEL_RANGE
    if not _is_int(kernel) or not low <= kernel <= high:
        raise SpecError(f"{where}kernel must be a whole number from {low} to {high}, not {_show(kernel)}.")
    if kernel % 2 == 0:
        raise SpecError(f"{where}kernel must be odd (1, 3, 5 or 7), not {kernel}.")
    batch_norm = raw.get("batch_norm", False)
    if not isinstance(batch_norm, bool):
        raise SpecError(f"{where}batch_norm must be true or false, not {_show(batch_norm)}.")
    return ConvBlock(
        filters=filters,
        kernel=kernel,
        padding=_choice(where, "padding", raw.get("padding", "valid"), PADDINGS),
        batch_norm=batch_norm,
        pool=_choice(where, "pool", raw.get("pool", "max"), POOLS),
    )


def parse_spec(raw: dict[str, Any] | str | ArchSpec) -> ArchSpec:
    """Validate a spec (a dict, JSON text, or an ArchSpec) and fill the defaults; SpecError names the problem."""
    if isinstance(raw, ArchSpec):
        raw = to_dict(raw)  # re-validate: a hand-made ArchSpec may break the rules
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SpecError(f"the spec is not valid JSON ({exc}).") from None
    if not isinstance(raw, dict):
        raise SpecError(f"the spec must be a JSON object with a 'conv' list, not {_show(raw)}.")
    for key in raw:
        if key not in TOP_KEYS:
            raise SpecError(f"unknown key {_show(key)} in the spec; the keys are {', '.join(TOP_KEYS)}.")
    blocks = raw.get("conv")
    if not isinstance(blocks, list | tuple) or not 1 <= len(blocks) <= MAX_BLOCKS:
        count = f"{len(blocks)} blocks" if isinstance(blocks, list | tuple) else _show(blocks)
        raise SpecError(f"'conv' must be a list of 1 to {MAX_BLOCKS} conv blocks, not {count}.")
    conv = tuple(_parse_block(i, block) for i, block in enumerate(blocks, start=1))
    dense = raw.get("dense", [128])
    if not isinstance(dense, list | tuple) or len(dense) > MAX_DENSE:
        count = f"{len(dense)} layers" if isinstance(dense, list | tuple) else _show(dense)
        raise SpecError(f"'dense' must be a list of 0 to {MAX_DENSE} layer sizes, not {count}.")
    low, high = UNITS_RANGE
    for i, units in enumerate(dense, start=1):
        if not _is_int(units) or not low <= units <= high:
            raise SpecError(
                f"dense layer {i} must have a whole number of units from {low} to {high}, not {_show(units)}."
            )
    dropout = raw.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0 <= dropout <= MAX_DROPOUT:
        raise SpecError(f"dropout must be a number from 0 to {MAX_DROPOUT}, not {_show(dropout)}.")
    activation = _choice("", "activation", raw.get("activation", "relu"), ACTIVATIONS)
    spec = ArchSpec(conv=conv, dense=tuple(dense), dropout=float(dropout), activation=activation)
    described = describe(spec)  # raises SpecError when a map shrinks to nothing
    if described.params > MAX_PARAMS:
        raise SpecError(
            f"the network has {described.params:,} parameters, more than the limit of {MAX_PARAMS:,}; "
            "use fewer filters or dense units, or pool more before the dense layers."
        )
    return spec


def to_dict(spec: ArchSpec) -> dict[str, Any]:
    """The spec as JSON-ready data with every default written out (parse_spec(to_dict(s)) == s)."""
    return {
        "conv": [asdict(block) for block in spec.conv],
        "dense": list(spec.dense),
        "dropout": spec.dropout,
        "activation": spec.activation,
    }


def summary_line(spec: ArchSpec) -> str:
    """One line for tables (Compare runs): "conv 32 3x3 same max → conv 64 3x3 same bn max → dense 256 · relu, dropout 0.3"."""
    blocks = [
        f"conv {b.filters} {b.kernel}x{b.kernel} {b.padding}" + (" bn" if b.batch_norm else "") + f" {b.pool}"
        for b in spec.conv
    ]
    tail = f" · {spec.activation}" + (f", dropout {spec.dropout:g}" if spec.dropout else "")
    return " → ".join(blocks + [f"dense {units}" for units in spec.dense]) + tail


def to_json(spec: ArchSpec) -> str:
    """Pretty JSON text: one conv block per line."""
    blocks = ",\n    ".join(json.dumps(asdict(block)) for block in spec.conv)
    rest = json.dumps({"dense": list(spec.dense), "dropout": spec.dropout, "activation": spec.activation})
    return '{\n  "conv": [\n    ' + blocks + "\n  ],\n  " + rest[1:-1] + "\n}"


# --- layers, shapes and costs ---------------------------------------------------------------------------
@dataclass
class _Namer:
    """Keras' default naming in a fresh process: the first layer of a kind is `conv2d`, then `conv2d_1`, ..."""

    counts: dict[str, int] = field(default_factory=dict)

    def __call__(self, base: str) -> str:
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else f"{base}_{n}"


@dataclass(frozen=True)
class PlannedLayer:
    """One planned layer: what `build` creates and what `describe` costs."""

    name: str
    type: str
    output_shape: tuple
    params: int
    flops: int
    options: dict[str, Any]


def layer_plan(spec: ArchSpec) -> list[PlannedLayer]:
    """Every layer in order with its output shape, parameters and forward FLOPs; SpecError if a map vanishes."""
    name = _Namer()
    layers: list[PlannedLayer] = []
    h, w, c = INPUT_SHAPE
    for i, block in enumerate(spec.conv, start=1):
        k = block.kernel
        if block.padding == "valid":
            if h - k + 1 < 1:
                raise SpecError(
                    f"conv block {i} gets {h}x{w} maps, too small for its {k}x{k} 'valid' conv "
                    f"(it would give {max(h - k + 1, 0)}x{max(w - k + 1, 0)}); use 'same' padding, a smaller kernel "
                    "or fewer pools."
                )
            h, w = h - k + 1, w - k + 1
        weights = k * k * c * block.filters
        conv_params = weights + (0 if block.batch_norm else block.filters)
        macs = h * w * weights
        activation = None if block.batch_norm else spec.activation
        layers.append(
            PlannedLayer(
                name("conv2d"),
                "Conv2D",
                (h, w, block.filters),
                conv_params,
                2 * macs,
                {"filters": block.filters, "kernel": k, "padding": block.padding, "activation": activation},
            )
        )
        c = block.filters
        if block.batch_norm:
            layers.append(PlannedLayer(name("batch_normalization"), "BatchNormalization", (h, w, c), 4 * c, 0, {}))
            layers.append(
                PlannedLayer(name("activation"), "Activation", (h, w, c), 0, 0, {"activation": spec.activation})
            )
        if block.pool != "none":
            if h // 2 < 1:
                raise SpecError(
                    f"conv block {i}'s {block.pool} pool gets {h}x{w} maps and would shrink them to 0x0; "
                    "use 'same' padding, pool 'none' or fewer blocks."
                )
            h, w = h // 2, w // 2
            kind = POOL_CLASSES[block.pool]
            base = "max_pooling2d" if block.pool == "max" else "average_pooling2d"
            layers.append(PlannedLayer(name(base), kind, (h, w, c), 0, 0, {}))
    features = h * w * c
    layers.append(PlannedLayer(name("flatten"), "Flatten", (features,), 0, 0, {}))
    sizes = (*spec.dense, NUM_CLASSES)
    for j, units in enumerate(sizes):
        if spec.dropout > 0:
            layers.append(PlannedLayer(name("dropout"), "Dropout", (features,), 0, 0, {"rate": spec.dropout}))
        activation = "softmax" if j == len(sizes) - 1 else spec.activation  # the last Dense is the output
        layers.append(
            PlannedLayer(
                name("dense"),
                "Dense",
                (units,),
                features * units + units,
                2 * features * units,
                {"units": units, "activation": activation},
            )
        )
        features = units
    return layers


def describe(spec: ArchSpec) -> Description:
    """The layer table (as Keras' summary would show it), the total parameters, and FLOPs per image."""
    layers = layer_plan(spec)
    forward = sum(layer.flops for layer in layers)
    weighted = [layer for layer in layers if layer.flops]
    first_input_grad = weighted[0].flops if weighted else 0  # the image needs no gradient
    return Description(
        layers=tuple(LayerRow(x.name, x.type, x.output_shape, x.params, x.flops) for x in layers),
        params=sum(layer.params for layer in layers),
        flops_forward=forward,
        flops_train=3 * forward - first_input_grad,
    )
