"""Training recipes and the user's settings: presets, TrainConfig (validated), and bfloat16 detection.

Plain data, no TensorFlow: the pages, the CLI and the worker process all read these.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fmnist_core.data import fashion_mnist

TARGET_ACCURACY = 0.9137  # the notebook's test accuracy after 5 epochs


@dataclass(frozen=True)
class Preset:
    """A training recipe: architecture, defaults for the user-facing settings, and how the data is fed."""

    name: str
    description: str
    architecture: str = "notebook_cnn"
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    precision: str = "float32"  # or "mixed_bfloat16"
    input_dtype: str = "float64"  # the notebook fed float64 /255 arrays
    feed: str = (
        "numpy"  # "numpy": model.fit(x, y) as the notebook; "dataset": the worker's thread-free tf.data pipeline
    )
    schedule: str = "constant"  # or "cosine"
    steps_per_execution: int = 1
    augment: tuple[str, ...] = ()  # "flip" (left-right) and/or "shift" (up to 2 px), drawn fresh every batch
    label_smoothing: float = 0.0
    mirror_test: bool = False  # also report test accuracy with each image averaged with its mirror image
    fused_batch_norm: bool = False  # train batch norm with the fused kernel (keras_models.FusedBatchNormalization)


FAST = Preset(
    name="fast",
    description=(
        "The original Keras tutorial network (2 convs), trained faster: 128 images per step, a learning rate that "
        "first rises and then slowly falls, images flipped left-right, and fast 16-bit arithmetic where this "
        "computer's processor has it."
    ),
    epochs=10,
    batch_size=128,
    learning_rate=3e-3,
    precision="mixed_bfloat16",
    input_dtype="float32",
    feed="dataset",
    schedule="cosine",
    steps_per_execution=8,
    augment=("flip",),
)
# fast's feeding and schedule on a deeper network (two convs per stage) with flips and shifts: 0.935 within 5x the
# notebook's wall time on a CPU with bfloat16 (docs/performance.md).
IMPROVED = replace(
    FAST,
    name="improved",
    description=(
        "Stronger: two stages of two 3x3 convs that keep the image size (32, then 64 filters), each with batch "
        "norm (keeps its numbers in a steady range); dropout (switches off random units while training) around a "
        "256-unit dense layer; images flipped and shifted by up to 2 px; label smoothing 0.1 (the network aims "
        "for 91% sure, not 100%); 15 epochs."
    ),
    architecture="deep_cnn",
    epochs=15,
    augment=("flip", "shift"),
    label_smoothing=0.1,  # why, and what it changed: docs/performance.md
)
# A class's trainings in minutes: the recipe and what each of its tricks buys are in docs/performance.md and on the
# Train page (fmnist_core/nets/tricks.py).
SPEEDRUN = replace(
    FAST,
    name="speedrun",
    description=(
        "Quick and strong: three conv stages with batch norm (keeps each layer's numbers in a steady range), "
        "256 images per step, a learning rate that rises and then falls, mirror-image training and label "
        "smoothing (the network aims for 90% sure, not 100%); it also reports its accuracy with mirror images."
    ),
    architecture="speed_cnn",
    epochs=8,
    batch_size=256,
    learning_rate=8e-3,
    augment=("flip",),
    label_smoothing=0.1,
    mirror_test=True,
    fused_batch_norm=True,
)
# A class pressing Train together: speedrun's network and recipe for fewer passes, so a class of 30 gets its
# results within minutes on one small server (docs/deploying.md sizes it; python -m bench.class_queue measures it).
QUICK = replace(
    SPEEDRUN,
    name="quick",
    description=(
        "The speedrun network and recipe for just 2 passes over the training images: a quick first result, so a "
        "whole class can train at once on one small server."
    ),
    epochs=2,
)
# Your own network (TrainConfig.arch, an architecture spec) trained with fast's recipe.
CUSTOM = replace(
    FAST,
    name="custom",
    description="Your own network: design it below; trained with the fast preset's recipe.",
    architecture="custom",
)
PRESETS: dict[str, Preset] = {
    "fast": FAST,
    "speedrun": SPEEDRUN,
    "quick": QUICK,
    "improved": IMPROVED,
    "notebook": Preset(
        name="notebook",
        description=(
            "The original Keras tutorial network (2 convs) trained as the tutorial does: pixel values divided by "
            "255, 32 images per step, the Adam method with learning rate 0.001, 5 epochs."
        ),
    ),
    "custom": CUSTOM,
}
DEFAULT_PRESET = "fast"
CLASS_PRESET = "quick"  # the Train page's default when people sign in (a class on one server)
# Old names still accepted (the command line says so once): "seed" was the notebook preset's name.
PRESET_ALIASES = {"seed": "notebook"}


def default_preset(signed_in: bool) -> str:
    """The Train page's first choice: the class preset when people sign in (a class shares the server), else fast."""
    return CLASS_PRESET if signed_in else DEFAULT_PRESET


MIN_BATCH_REPORTS = 8  # the fewest batch reports a fit should give: its running loss is drawn from them


def steps_per_execution(preset: Preset, total_batches: int) -> int:
    """Batches Keras runs per call, and so per report to the callback: the preset's, fewer for a fit so short that
    it would report only once or twice (1,000 images in batches of 128 are 8 batches: one report at 8 per call,
    and the running-loss curve had a single point)."""
    return max(1, min(preset.steps_per_execution, total_batches // MIN_BATCH_REPORTS))


def preset_name(name: str) -> str:
    """A preset's current name (an old name is mapped; anything else is returned as given)."""
    return PRESET_ALIASES.get(name, name)


class ConfigError(ValueError):
    """Settings that cannot train; the message names the setting."""


@dataclass(frozen=True)
class TrainConfig:
    """What the user chose. None means "the preset's default"."""

    preset: str = DEFAULT_PRESET
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 42
    limit: int | None = None  # how many of the 60,000 training images to use
    evaluate_each_epoch: bool = True
    arch: dict[str, Any] | None = (
        None  # an architecture spec (fmnist_core.nets.architecture); None: the preset's network
    )

    def __post_init__(self) -> None:
        if self.preset in PRESET_ALIASES:  # an old name: the run records the current one
            object.__setattr__(self, "preset", PRESET_ALIASES[self.preset])

    def resolved(self) -> TrainConfig:
        """Fill the preset's defaults and validate; raises ConfigError with a clear message."""
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        p = PRESETS[self.preset]
        cfg = replace(
            self,
            epochs=p.epochs if self.epochs is None else self.epochs,
            batch_size=p.batch_size if self.batch_size is None else self.batch_size,
            learning_rate=p.learning_rate if self.learning_rate is None else self.learning_rate,
        )
        if cfg.arch is not None or cfg.preset == "custom":
            from fmnist_core.nets import architecture

            if cfg.arch is None:
                raise ConfigError("the custom preset needs a network spec (--arch SPEC.json or the editor)")
            try:  # normalised, so the run records exactly the network that was built
                cfg = replace(cfg, arch=architecture.to_dict(architecture.parse_spec(cfg.arch)))
            except architecture.SpecError as exc:
                raise ConfigError(f"the network spec is invalid: {exc}") from None
        _check_int("epochs", cfg.epochs, 1, 200)
        _check_int("batch size", cfg.batch_size, 1, 4096)
        _check_int("seed", cfg.seed, 0, 2**31 - 1)
        if cfg.limit is not None:
            _check_int("training images", cfg.limit, 1, fashion_mnist.EXPECTED_COUNT["train"])
        lr = cfg.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not (0 < lr <= 1) or lr != lr:
            raise ConfigError(f"learning rate must be a number in (0, 1], not {lr!r}")
        return cfg


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not (low <= value <= high):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")


_FLOAT32 = "so it trained with ordinary 32-bit numbers"


def bfloat16_supported(
    cpuinfo: str | None = None, machine: str | None = None, cpuinfo_path: Path = Path("/proc/cpuinfo")
) -> tuple[bool, str]:
    """Whether bfloat16 math is faster than float32 on this CPU: AMX, or AVX512_BF16 on AMD. An Intel Xeon with
    AVX512_BF16 but no AMX trained slower in bfloat16 than in float32 (docs/performance.md), so it counts as not
    native; without either it is emulated and slow.

    The reason is for the learner who reads the Train page's result, so it names no CPU flags (docs/performance.md
    does). `cpuinfo` and `machine` default to this machine's /proc/cpuinfo and platform.machine() (tests pass fakes).
    """
    machine = machine or platform.machine()
    if machine not in ("x86_64", "AMD64"):
        return False, f"fast 16-bit arithmetic is only used on Intel and AMD processors (this is {machine}), {_FLOAT32}"
    if cpuinfo is None:
        try:
            cpuinfo = cpuinfo_path.read_text()
        except OSError:
            return False, f"this computer did not say whether its processor has fast 16-bit arithmetic, {_FLOAT32}"
    flags = cpuinfo
    if "avx512_bf16" in flags and "amx_bf16" not in flags and "GenuineIntel" in cpuinfo:
        return False, (
            "this computer's processor has 16-bit arithmetic, but here it is slower than 32-bit arithmetic, "
            "so it trained with ordinary 32-bit numbers"
        )
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return True, (
            "this computer's processor has fast 16-bit arithmetic, so it trained mostly with 16-bit numbers "
            "(faster, and precise enough for training)"
        )
    return False, f"this computer's processor has no fast 16-bit arithmetic, {_FLOAT32}"
