"""fmnist_core.bench: the table it prints and the child-process plumbing (the timings themselves are the benchmark's)."""

from __future__ import annotations

import pytest

from fmnist_core import bench


def _row(preset: str, **changes) -> dict:
    row = {
        "preset": preset,
        "epochs": 5,
        "images_per_second": 2051.4,
        "seconds_per_epoch": 33.4,
        "seconds_to_target": None,
        "seconds_to_strong_target": None,
        "training_seconds": 166.8,
        "final_test_accuracy": 0.9064,
        "peak_rss_mb": 1500.2,
        "precision": "float32",
    }
    return {**row, **changes}


def test_table_shows_every_preset_never_for_missed_targets_and_the_ratio() -> None:
    report = {
        "presets": [
            _row("seed"),
            _row("fast", images_per_second=3253.0, seconds_to_target=117.8, final_test_accuracy=0.9199),
            _row("improved", seconds_to_target=60.0, seconds_to_strong_target=250.25),
        ],
        "ratio": 3253.0 / 2051.4,
    }
    lines = bench.format_table(report).splitlines()
    seed = next(line for line in lines if line.startswith("| seed "))
    fast = next(line for line in lines if line.startswith("| fast "))
    improved = next(line for line in lines if line.startswith("| improved "))
    assert seed.split("|")[5:7] == [" never ", " never "]
    assert "| 3,253 |" in fast and "| 117.8 | never |" in fast and "| 0.9199 |" in fast
    assert "| 60.0 | 250.2 |" in improved
    assert "images/s ratio fast/seed: **1.59x**" in lines


def test_a_failing_child_raises_with_its_stderr() -> None:
    with pytest.raises(RuntimeError, match="no such preset|invalid choice"):
        bench.run_child(["train", "--preset", "no-such-preset", "--json"], bench._child_env("/tmp"))
