"""fmnist_core.nets.tricks: the notebook's recipe plus every trick is speedrun's, each trick changes what it says,
and the shipped measurement reads back; bench.tricks measures the rows it should."""

from __future__ import annotations

from dataclasses import fields

import pytest

from bench import tricks as bench_tricks
from fmnist_core.nets import tricks
from fmnist_core.nets.presets import PRESETS

# What makes a recipe besides the settings (the name, description and reporting aside).
SETTINGS = ("epochs", "batch_size", "learning_rate")
RECIPE_FIELDS = [
    f.name for f in fields(PRESETS["notebook"]) if f.name not in ("name", "description", "mirror_test", *SETTINGS)
]


def test_no_tricks_is_the_notebook_and_all_tricks_are_speedrun() -> None:
    notebook, speed = PRESETS["notebook"], PRESETS["speedrun"]
    preset, settings = tricks.recipe(())
    assert [getattr(preset, f) for f in RECIPE_FIELDS] == [getattr(notebook, f) for f in RECIPE_FIELDS]
    assert settings == {"epochs": 5, "batch_size": 32, "learning_rate": 1e-3}
    preset, settings = tricks.recipe(tuple(t.key for t in tricks.TRICKS))
    assert [getattr(preset, f) for f in RECIPE_FIELDS] == [getattr(speed, f) for f in RECIPE_FIELDS]
    assert settings == {"epochs": speed.epochs, "batch_size": speed.batch_size, "learning_rate": speed.learning_rate}
    assert preset.mirror_test  # every row is also measured with mirror images


@pytest.mark.parametrize("trick", tricks.TRICKS, ids=lambda t: t.key)
def test_each_trick_alone_changes_only_its_own_fields(trick: tricks.Trick) -> None:
    base, base_settings = tricks.recipe(())
    preset, settings = tricks.recipe((trick.key,))
    changed = {f for f in RECIPE_FIELDS if getattr(preset, f) != getattr(base, f)}
    assert changed and changed <= set(trick.preset) or not trick.preset
    assert {k for k in settings if settings[k] != base_settings[k]} == set(trick.settings)
    assert trick.sentence.endswith(".") and len(trick.sentence) < 260  # one sentence a student reads


def test_unknown_tricks_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown tricks: warp"):
        tricks.recipe(("flips", "warp"))


def test_the_bench_measures_the_build_up_and_each_trick_left_out() -> None:
    rows = bench_tricks.rows_to_measure()
    keys = [t.key for t in tricks.TRICKS]
    assert rows[0] == ("added", ()) and rows[len(keys)] == ("added", tuple(keys))
    left_out = [r for kind, r in rows if kind == "left out"]
    assert len(left_out) == len(keys) and all(len(r) == len(keys) - 1 for r in left_out)
    assert {next(k for k in keys if k not in r) for r in left_out} == set(keys)


def test_the_shipped_measurement_has_a_row_per_recipe() -> None:
    data = tricks.measured()
    assert data is not None, "fmnist_core/nets/tricks_measured.json is missing: python -m bench.tricks --ship"
    measured = [(row["kind"], tuple(row["tricks"])) for row in data["rows"]]
    assert measured == bench_tricks.rows_to_measure()  # regenerate when the tricks change
    for row in data["rows"]:
        assert 0.1 < row["test_accuracy"] <= 1 and 0.1 < row["mirror_accuracy"] <= 1 and row["seconds"] > 0
    text = bench_tricks.format_table(data)
    assert "| the notebook's recipe |" in text and "all but " in text
