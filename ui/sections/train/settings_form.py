"""The Train page's form as a TrainConfig: one reading of its widgets for the time estimate and the Train button."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fmnist_core.data.fashion_mnist import EXPECTED_COUNT
from fmnist_core.nets.presets import DEFAULT_PRESET, PRESETS, TrainConfig

TOTAL = EXPECTED_COUNT["train"]
CUSTOM_SPEC_KEY = "_custom_arch"  # the network editor's last valid spec (None while it is invalid)
DEFAULT_SEED = 42


def form_config(state: Mapping[str, Any]) -> TrainConfig:
    """What the form says now, read from the widgets' session-state keys (a button callback runs before the
    page, so the values of the previous run would be stale). Per-preset keys keep what was typed for each preset;
    all the training images means no limit. Not validated: TrainConfig.resolved and the job say what is wrong."""
    name = state.get("tr_preset", DEFAULT_PRESET)
    defaults = PRESETS[name]
    images = int(state.get("tr_images", TOTAL))
    return TrainConfig(
        preset=name,
        arch=state.get(CUSTOM_SPEC_KEY) if name == "custom" else None,
        epochs=int(state.get(f"epochs_{name}", defaults.epochs)),
        batch_size=int(state.get(f"batch_{name}", defaults.batch_size)),
        learning_rate=float(state.get(f"lr_{name}", defaults.learning_rate)),
        seed=int(state.get("tr_seed", DEFAULT_SEED)),
        limit=None if images >= TOTAL else images,
    )
