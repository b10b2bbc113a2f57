"""Build the notebook's CNN (and its presets' variants) with fixed layer names; describe a model as rows.

Layer names are passed explicitly so they match the notebook's summary no matter how many models the
process has built (Keras would otherwise number them conv2d_2, conv2d_3, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from fmnist_core._tf import quiet_import_tensorflow

quiet_import_tensorflow()
import keras  # noqa: E402

SEED_LAYER_NAMES = ("conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense", "dense_1")
SEED_PARAMS = 243_786
INPUT_SHAPE = (28, 28, 1)
SPATIAL_LAYER_TYPES = ("Conv2D", "MaxPooling2D")


def build_seed_cnn(seed: int | None = None, compute_dtype: str = "float32", name: str = "sequential") -> keras.Model:
    """The notebook's architecture exactly; `compute_dtype="mixed_bfloat16"` keeps the softmax in float32.

    Initialisers are seeded per layer so one seed gives the same weights in any thread, without touching
    the process-wide random state that another training may be using.
    """

    def init(offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed * 100 + offset)

    dtype = compute_dtype
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="input"),
            keras.layers.Conv2D(64, (3, 3), activation="relu", name="conv2d", kernel_initializer=init(1), dtype=dtype),
            keras.layers.MaxPooling2D(2, 2, name="max_pooling2d", dtype=dtype),
            keras.layers.Conv2D(
                64, (3, 3), activation="relu", name="conv2d_1", kernel_initializer=init(2), dtype=dtype
            ),
            keras.layers.MaxPooling2D(2, 2, name="max_pooling2d_1", dtype=dtype),
            keras.layers.Flatten(name="flatten", dtype=dtype),
            keras.layers.Dense(128, activation="relu", name="dense", kernel_initializer=init(3), dtype=dtype),
            # The softmax stays float32: bfloat16 probabilities are too coarse for the loss.
            keras.layers.Dense(10, activation="softmax", name="dense_1", kernel_initializer=init(4), dtype="float32"),
        ],
        name=name,
    )


def build_improved_cnn(seed: int | None = None, compute_dtype: str = "float32", name: str = "improved") -> keras.Model:
    """The notebook's two conv + pool blocks, made stronger for a few minutes of CPU: 'same' padding (7x7 maps
    reach the dense layer instead of 5x5), 32 first-layer filters (half the cost of the second conv), batch
    normalisation after the second conv, a wider dense layer and dropout. Augmentation happens in the input
    pipeline (training.Preset.augment), so the saved model holds no random layers.

    Layer names keep the notebook's conv/pool names, so every page (layer list, feature maps) works unchanged.
    """

    def init(offset: int) -> keras.initializers.Initializer:
        return keras.initializers.GlorotUniform(seed=None if seed is None else seed * 100 + offset)

    dtype = compute_dtype
    drop = None if seed is None else seed * 100 + 50
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="input"),
            keras.layers.Conv2D(
                32, 3, padding="same", activation="relu", name="conv2d", kernel_initializer=init(1), dtype=dtype
            ),
            keras.layers.MaxPooling2D(2, name="max_pooling2d", dtype=dtype),
            keras.layers.Conv2D(
                64, 3, padding="same", use_bias=False, name="conv2d_1", kernel_initializer=init(2), dtype=dtype
            ),
            keras.layers.BatchNormalization(name="batch_normalization", dtype=dtype),
            keras.layers.Activation("relu", name="relu", dtype=dtype),
            keras.layers.MaxPooling2D(2, name="max_pooling2d_1", dtype=dtype),
            keras.layers.Flatten(name="flatten", dtype=dtype),
            keras.layers.Dropout(0.3, seed=drop, name="dropout", dtype=dtype),
            keras.layers.Dense(256, activation="relu", name="dense", kernel_initializer=init(3), dtype=dtype),
            keras.layers.Dropout(0.3, seed=drop, name="dropout_1", dtype=dtype),
            keras.layers.Dense(10, activation="softmax", name="dense_1", kernel_initializer=init(4), dtype="float32"),
        ],
        name=name,
    )


ARCHITECTURES = {"seed_cnn": build_seed_cnn, "improved_cnn": build_improved_cnn}


def build_model(architecture: str = "seed_cnn", seed: int | None = None, compute_dtype: str = "float32") -> keras.Model:
    """Build a named architecture; unknown names are a ValueError listing the known ones."""
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}") from None
    return builder(seed=seed, compute_dtype=compute_dtype)


def as_float32(model: keras.Model, architecture: str = "seed_cnn") -> keras.Model:
    """A float32 copy with the same weights: what we save and serve, whatever precision trained it."""
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    clone = build_model(architecture, compute_dtype="float32")
    clone.set_weights(model.get_weights())
    return clone


@dataclass(frozen=True)
class LayerRow:
    """One row of the summary table."""

    name: str
    type: str
    output_shape: tuple
    params: int


def summary_rows(model: keras.Model) -> list[LayerRow]:
    """The summary as data (name, type, output shape without the batch axis, params) for the UI and CLI."""
    return [
        LayerRow(
            name=layer.name,
            type=type(layer).__name__,
            output_shape=tuple(int(d) for d in layer.output.shape[1:]),
            params=int(layer.count_params()),
        )
        for layer in model.layers
    ]


def total_params(model: keras.Model) -> int:
    """All parameters, trainable or not."""
    return int(model.count_params())


def spatial_layers(model: keras.Model) -> list[str]:
    """Names of the conv and pool layers: the ones with feature maps worth showing."""
    return [layer.name for layer in model.layers if type(layer).__name__ in SPATIAL_LAYER_TYPES]
