"""Suspect labels (cleanlab): known flips are found near the top, `given` is the real label, the CLI's JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fmnist_core.analysis.suspect_labels import WEAK_MODEL_ACCURACY, Suspect, find_suspects, weak_model_warning
from helpers import requires_real_data

FLIPS = 100


@pytest.fixture(scope="module")
def probabilities(test_set, model) -> np.ndarray:
    from fmnist_core.nets.inference import predict_proba

    return predict_proba(model, test_set.images)


@requires_real_data
def test_known_flips_are_found_among_the_top_suspects(test_set, probabilities: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    noisy = test_set.labels.astype(int).copy()
    flipped = rng.choice(len(noisy), FLIPS, replace=False)
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, FLIPS)) % 10  # always another class
    found = find_suspects(noisy, probabilities)
    top = {s.index for s in found[:400]}
    # Measured with the shipped default model: 87 of the 100 flips among the top 400 (of 418 suspects).
    assert len(top & set(flipped.tolist())) >= 80
    assert all(s.given == noisy[s.index] for s in found)
    assert [s.quality for s in found] == sorted(s.quality for s in found)  # most suspect (lowest quality) first


@requires_real_data
def test_real_labels_give_suspects_whose_given_is_the_label(test_set, probabilities: np.ndarray) -> None:
    found = find_suspects(test_set.labels, probabilities)
    assert 100 < len(found) < 1000  # measured: 315 with the shipped default model
    for s in found:
        assert s.given == int(test_set.labels[s.index])
        assert s.suggested == int(probabilities[s.index].argmax()) != s.given
        assert s.quality == pytest.approx(probabilities[s.index, s.given])  # self-confidence
    assert find_suspects(test_set.labels, probabilities, top=5) == found[:5]


def test_toy_labels_flag_the_obvious_error() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0] * 10)
    probs = np.where(labels[:, None] == np.arange(2), 0.9, 0.1)
    labels = labels.copy()
    labels[3] = 0  # the model is sure it is a 1
    found = find_suspects(labels, probs)
    assert found[0] == Suspect(index=3, given=0, suggested=1, quality=pytest.approx(0.1))


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="one row of probabilities per label"):
        find_suspects(np.zeros(3, int), np.full((2, 10), 0.1))


@requires_real_data
def test_cli_suspects_json(test_set, probabilities: np.ndarray, capsys: pytest.CaptureFixture) -> None:
    from fmnist_core.cli import commands

    assert commands.main(["suspects", "--top", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = find_suspects(test_set.labels, probabilities, top=4)
    assert [set(row) for row in out] == [{"index", "given", "suggested", "quality"}] * 4
    assert [(r["index"], r["given"], r["suggested"]) for r in out] == [
        (s.index, s.given, s.suggested) for s in expected
    ]
    assert all(r["given"] == int(test_set.labels[r["index"]]) for r in out)
    assert commands.main(["suspects", "--top", "2"]) == 0
    assert "labelled" in capsys.readouterr().out


def test_a_weak_model_is_told_its_suspects_mean_little() -> None:
    # A class looked at suspect labels under a model with 63% test accuracy: most "suspects" were its own mistakes.
    assert weak_model_warning(0.6307) == (
        "This model gets only 63% of the test images right, so many of these suspect labels are its own mistakes, "
        "not wrong labels. Train a better model first."
    )
    assert weak_model_warning(0.8499) is not None and "only 84%" in weak_model_warning(0.8499)
    assert weak_model_warning(WEAK_MODEL_ACCURACY) is None
    assert weak_model_warning(0.91) is None
    assert weak_model_warning(None) is None  # unknown: nothing to say
