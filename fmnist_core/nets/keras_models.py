"""Keras models from architecture specs; the presets' networks are specs; a model described as rows.

Layer names are fixed per model (see fmnist_core.nets.architecture) so they match the notebook's summary no
matter how many models the process has built (Keras would otherwise number them conv2d_2, conv2d_3, ...).
"""

from __future__ import annotations

from typing import Any

from fmnist_core.nets.architecture import (
    EARLY_IMPROVED_SPEC,
    INPUT_SHAPE,
    NOTEBOOK_SPEC,
    PRESET_SPECS,
    ArchSpec,
    LayerRow,
    layer_plan,
    parse_spec,
    preset_architecture,
)
from fmnist_core.nets.quiet_tf import quiet_import_tensorflow

quiet_import_tensorflow()
import keras  # noqa: E402

__all__ = [
    "INPUT_SHAPE",
    "LayerRow",
    "build_model",
    "as_float32",
    "summary_rows",
    "total_params",
    "spatial_layers",
    "build",
]

NOTEBOOK_LAYER_NAMES = ("conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "flatten", "dense", "dense_1")
NOTEBOOK_PARAMS = 243_786
SPATIAL_LAYER_TYPES = ("Conv2D", "MaxPooling2D", "AveragePooling2D")
# The shipped improved model names its Activation layer "relu"; the preset keeps building it that way.
PRESET_RENAMES: dict[str, dict[str, str]] = {"improved_cnn": {"activation": "relu"}}

FUSED_EPSILON = 1.001e-5  # tf.nn.fused_batch_norm's smallest epsilon
# The running statistics follow the last ~10 steps, not Keras' ~100: in a training of a few hundred steps at a high
# learning rate the weights move too fast for a slower average (2 epochs: 0.68-0.70 validation accuracy with 0.99,
# 0.904 with 0.9; docs/performance.md).
FUSED_MOMENTUM = 0.9


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Batch norm that trains with TensorFlow's fused kernel (one oneDNN primitive on x86) instead of Keras' chain
    of separate ops: about twice the images per second for a network with batch norm on a 2-core CPU.

    Only while training (and its evaluations between epochs): `as_float32` turns these layers back into plain
    BatchNormalization (same weights), so a saved model holds nothing but standard Keras layers. Its epsilon is
    the smallest the fused kernel takes (FUSED_EPSILON), not Keras' 1e-3: oneDNN's backward pass uses that small
    one whatever it is given, and forward, backward and the saved layer must agree. Its running statistics move
    faster than Keras' default (FUSED_MOMENTUM).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("epsilon", FUSED_EPSILON)
        kwargs.setdefault("momentum", FUSED_MOMENTUM)
        super().__init__(**kwargs)

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        import tensorflow as tf

        scale, offset = tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32)
        if not training:  # the test set's evaluation between epochs: the fused kernel with the moving statistics
            y, *_ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                scale,
                offset,
                mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32),
                epsilon=self.epsilon,
                is_training=False,
            )
            return y
        y, mean, variance, *_ = tf.compat.v1.nn.fused_batch_norm(
            inputs, scale, offset, epsilon=self.epsilon, is_training=True
        )
        # The kernel returns the sample variance (n - 1 in the denominator); Keras' running variance is the
        # population one, and the saved layer is Keras'.
        n = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], tf.float32)
        variance = variance * (n - 1.0) / n
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + tf.cast(mean, self.moving_mean.dtype) * (1 - m))
        self.moving_variance.assign(self.moving_variance * m + tf.cast(variance, self.moving_variance.dtype) * (1 - m))
        return y


PRESET_MODEL_NAMES = {
    "notebook_cnn": "sequential",
    "improved_cnn": "improved",
    "deep_cnn": "improved",
    "speed_cnn": "speedrun",
}


def build_notebook_cnn(
    seed: int | None = None, compute_dtype: str = "float32", name: str = "sequential"
) -> keras.Model:
    """The notebook's architecture exactly; `compute_dtype="mixed_bfloat16"` keeps the softmax in float32."""
    return build(NOTEBOOK_SPEC, seed=seed, compute_dtype=compute_dtype, name=name)


def build_early_improved_cnn(
    seed: int | None = None, compute_dtype: str = "float32", name: str = "improved"
) -> keras.Model:
    """The improved preset's first network (runs saved with it rebuild with it): the notebook's two conv + pool blocks, made stronger for a few minutes of CPU: 'same' padding (7x7 maps
    reach the dense layer instead of 5x5), 32 first-layer filters (half the cost of the second conv), batch
    normalisation after the second conv, a wider dense layer and dropout. Augmentation happens in the input
    pipeline, so the saved model holds no random layers.
    """
    return build(
        EARLY_IMPROVED_SPEC, seed=seed, compute_dtype=compute_dtype, name=name, rename=PRESET_RENAMES["improved_cnn"]
    )


def build_model(
    architecture: str | ArchSpec | dict[str, Any] = "notebook_cnn",
    seed: int | None = None,
    compute_dtype: str = "float32",
    fused_batch_norm: bool = False,
) -> keras.Model:
    """Build a preset architecture by name ("notebook_cnn", "deep_cnn", ...) or any spec (ArchSpec, dict or JSON).

    Unknown names are a ValueError listing the known ones; invalid specs an architecture.SpecError.
    `fused_batch_norm` (for training; see FusedBatchNormalization) changes the speed, not the network.
    """
    if isinstance(architecture, str) and not architecture.lstrip().startswith("{"):
        architecture = preset_architecture(architecture)
        if architecture not in PRESET_SPECS:
            raise ValueError(f"unknown architecture {architecture!r}; choose one of {sorted(PRESET_SPECS)}")
        return build(
            PRESET_SPECS[architecture],
            seed=seed,
            compute_dtype=compute_dtype,
            name=PRESET_MODEL_NAMES[architecture],
            rename=PRESET_RENAMES.get(architecture),
            fused_batch_norm=fused_batch_norm,
        )
    return build(parse_spec(architecture), seed=seed, compute_dtype=compute_dtype, fused_batch_norm=fused_batch_norm)


def as_float32(model: keras.Model, architecture: Any = None) -> keras.Model:
    """A float32 copy with the same weights and layer names: what we save and serve, whatever precision trained it.

    The copy comes from the model's own config with every dtype policy set to float32 and every fused batch norm
    made a plain one, so it works for any Sequential model (preset, spec-built or imported); `architecture` is
    accepted for older callers and unused.
    """
    del architecture
    fused = any(isinstance(layer, FusedBatchNormalization) for layer in model.layers)
    if not fused and all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    config = _with_float32_policies(model.get_config())
    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def _with_float32_policies(config: Any) -> Any:
    """The config with every DTypePolicy (mixed_bfloat16 ...) replaced by float32."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return "float32"
        if config.get("class_name") == FusedBatchNormalization.__name__:
            config = {**config, "module": "keras.layers", "class_name": "BatchNormalization", "registered_name": None}
        return {key: _with_float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_float32_policies(value) for value in config]
    return config


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


# --- building from a spec --------------------------------------------------------------------------------------------
def build(
    spec: ArchSpec | dict[str, Any] | str,
    seed: int | None = None,
    compute_dtype: str = "float32",
    name: str = "sequential",
    rename: dict[str, str] | None = None,
    fused_batch_norm: bool = False,
) -> Any:
    """A keras.Sequential for the spec, starting with keras.Input, layers named as `describe` lists them.

    Initialisers are seeded per layer (seed * 100 + its position among the weighted layers, 1-based) so one
    seed gives the same weights in any thread without touching the process-wide random state; dropout layers
    share seed * 100 + 50, as the shipped improved model was trained. With `compute_dtype="mixed_bfloat16"`
    the softmax output stays float32 (bfloat16 probabilities are too coarse for the loss). `rename` maps a
    planned layer name to another (the shipped improved preset calls its Activation layer "relu").
    """
    spec = parse_spec(spec)
    rename = rename or {}
    plan = layer_plan(spec)
    drop_seed = None if seed is None else seed * 100 + 50
    weighted = 0
    layers: list[Any] = [keras.Input(INPUT_SHAPE, name="input")]
    for i, planned in enumerate(plan):
        lname, opts = rename.get(planned.name, planned.name), planned.options
        is_output = i == len(plan) - 1
        dtype = "float32" if is_output else compute_dtype
        if planned.type in ("Conv2D", "Dense"):
            weighted += 1
            init = keras.initializers.GlorotUniform(seed=None if seed is None else seed * 100 + weighted)
        if planned.type == "Conv2D":
            layer = keras.layers.Conv2D(
                opts["filters"],
                opts["kernel"],
                padding=opts["padding"],
                activation=opts["activation"],
                use_bias=opts["activation"] is not None,  # batch norm's beta replaces the bias
                kernel_initializer=init,
                name=lname,
                dtype=dtype,
            )
        elif planned.type == "BatchNormalization":
            norm = FusedBatchNormalization if fused_batch_norm else keras.layers.BatchNormalization
            layer = norm(name=lname, dtype=dtype)
        elif planned.type == "Activation":
            layer = keras.layers.Activation(opts["activation"], name=lname, dtype=dtype)
        elif planned.type == "MaxPooling2D":
            layer = keras.layers.MaxPooling2D(2, name=lname, dtype=dtype)
        elif planned.type == "AveragePooling2D":
            layer = keras.layers.AveragePooling2D(2, name=lname, dtype=dtype)
        elif planned.type == "Flatten":
            layer = keras.layers.Flatten(name=lname, dtype=dtype)
        elif planned.type == "Dropout":
            layer = keras.layers.Dropout(opts["rate"], seed=drop_seed, name=lname, dtype=dtype)
        else:
            layer = keras.layers.Dense(
                opts["units"],
                activation=opts["activation"],
                kernel_initializer=init,
                name=lname,
                dtype=dtype,
            )
        layers.append(layer)
    return keras.Sequential(layers, name=name)
