"""What each trick buys: the speedrun recipe as the notebook's plus a list of tricks, each one sentence a student
reads, and the table `python -m bench.tricks` measured (ships as fmnist_core/nets/tricks_measured.json).

Plain data, no TensorFlow: the Train page reads the sentences and the table; the benchmark builds each row's recipe
with `recipe` and trains it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fmnist_core.nets.presets import PRESETS, Preset

# Beside this module, not in assets/: every JSON file there is a shipped run.
MEASURED = Path(__file__).resolve().parent / "tricks_measured.json"


@dataclass(frozen=True)
class Trick:
    """One change from the notebook's recipe towards speedrun's: the preset fields and settings it changes."""

    key: str
    title: str
    sentence: str  # what it does, in a student's words
    preset: dict[str, Any] = field(default_factory=dict)  # Preset fields
    settings: dict[str, Any] = field(default_factory=dict)  # epochs, batch_size, learning_rate


def _speedrun() -> Preset:
    return PRESETS["speedrun"]


TRICKS: tuple[Trick, ...] = (
    Trick(
        "batches",
        "Bigger batches, 16-bit numbers",
        "The network looks at 256 images before each change instead of 32, so the computer works in bigger, more "
        "efficient chunks, and it uses 16-bit numbers where the processor computes them faster.",
        preset={
            "precision": "mixed_bfloat16",
            "input_dtype": "float32",
            "feed": "dataset",
            "steps_per_execution": 8,
        },
        settings={"batch_size": 256},
    ),
    Trick(
        "schedule",
        "Learning-rate warm-up and cool-down",
        "The size of each change starts small, grows to a bigger peak than the notebook's and then shrinks "
        "smoothly to zero, so the network learns fast early and settles at the end.",
        preset={"schedule": "cosine"},
        settings={"learning_rate": "speedrun"},
    ),
    Trick(
        "network",
        "A network with batch norm",
        "Three conv stages, each halving the picture and doubling the filters, with batch norm (it keeps each "
        "layer's numbers in a steady range, so a bigger learning rate works) and no hidden dense layer.",
        preset={"architecture": "speedrun", "fused_batch_norm": True},
    ),
    Trick(
        "flips",
        "Mirror-image training",
        "Each training image is flipped left-right half of the time, so the network sees more varied clothes "
        "and learns that a shoe pointing left is still a shoe.",
        preset={"augment": ("flip",)},
    ),
    Trick(
        "smoothing",
        "Label smoothing",
        "The network is asked to be 90% sure of the right class instead of 100%, which stops it from becoming "
        "over-confident on the training images.",
        preset={"label_smoothing": "speedrun"},
    ),
    Trick(
        "epochs",
        "Speedrun's number of passes",
        "The number of passes over the 60,000 training images that fits the notebook's time with everything above.",
        settings={"epochs": "speedrun"},
    ),
)
MIRROR_SENTENCE = (
    "With mirror images: each test image is also shown flipped left-right and the two answers are averaged "
    "(test-time augmentation). It costs a second look at every image and is never counted as the plain accuracy."
)


def recipe(tricks: tuple[str, ...]) -> tuple[Preset, dict[str, Any]]:
    """The notebook's recipe with the named tricks applied: the preset (always reporting mirror accuracy) and the
    settings (epochs, batch size, learning rate). "speedrun" as a value means speedrun's own."""
    speed, notebook = _speedrun(), PRESETS["notebook"]
    preset = replace(notebook, name="tricks", mirror_test=True)
    settings: dict[str, Any] = {
        "epochs": notebook.epochs,
        "batch_size": notebook.batch_size,
        "learning_rate": notebook.learning_rate,
    }
    unknown = set(tricks) - {t.key for t in TRICKS}
    if unknown:
        raise ValueError(f"unknown tricks: {', '.join(sorted(unknown))}")
    for trick in TRICKS:
        if trick.key not in tricks:
            continue
        changes = {k: getattr(speed, k) if v == "speedrun" else v for k, v in trick.preset.items()}
        if changes.get("architecture") == speed.name:
            changes["architecture"] = speed.architecture
        preset = replace(preset, **changes)
        settings.update({k: getattr(speed, k) if v == "speedrun" else v for k, v in trick.settings.items()})
    return preset, settings


def measured() -> dict[str, Any] | None:
    """The shipped measurement (rows with accuracy and seconds), or None when it is missing or unreadable."""
    try:
        data = json.loads(MEASURED.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("rows"), list) else None
