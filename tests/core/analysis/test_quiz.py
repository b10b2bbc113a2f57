"""Predict the model: the seeded mix of images and the score arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.analysis.quiz import KINDS, QuizItem, Score, draw, pools


def _toy() -> tuple[np.ndarray, np.ndarray]:
    probs = np.full((9, 3), 0.0)
    probs[[0, 1, 2], 0] = 0.95  # confident and right (labels 0)
    probs[[3, 4], 1] = 0.3  # uncertain (0.53 after spreading the rest)
    probs[[5, 6, 7], 2] = 0.97  # confident; labels say 0: confidently wrong
    probs[8, 0] = 0.75  # neither
    probs = probs + (1 - probs.sum(axis=1, keepdims=True)) / 3
    labels = np.array([0, 0, 0, 1, 1, 0, 0, 0, 0])
    return probs, labels


def test_pools_sort_images_by_kind() -> None:
    found = pools(*_toy())
    assert [found[k].tolist() for k in KINDS] == [[0, 1, 2], [3, 4], [5, 6, 7]]


def test_draw_takes_the_kinds_in_turn_and_is_seeded() -> None:
    probs, labels = _toy()
    items = draw(probs, labels, seed=1, count=8)
    assert [i.kind for i in items] == [*KINDS, *KINDS, KINDS[0], KINDS[2]]  # the uncertain pool ran out
    assert len({i.index for i in items}) == 8 and 8 not in {i.index for i in items}
    assert draw(probs, labels, seed=1, count=8) == items
    assert draw(probs, labels, seed=2, count=8) != items
    assert all(isinstance(i, QuizItem) for i in items)


@pytest.mark.usefixtures("test_set")
def test_real_model_gives_all_three_kinds(test_set, model) -> None:
    from fmnist_core.nets.inference import predict_proba

    probs = predict_proba(model, test_set.images)
    items = draw(probs, test_set.labels, seed=0, count=12)
    assert [i.kind for i in items] == list(KINDS) * 4
    for item in items:
        top, right = probs[item.index].max(), probs[item.index].argmax() == test_set.labels[item.index]
        assert {"confident and right": top >= 0.9 and right, "uncertain": top < 0.6}.get(
            item.kind, top >= 0.9 and not right
        )


def test_score_arithmetic() -> None:
    score = Score()
    assert score.rate is None and score.true_label_rate is None
    score = score.record(guess=3, model_answer=3, true_label=3)  # both right
    score = score.record(guess=6, model_answer=6, true_label=0)  # the learner predicted the model's mistake
    score = score.record(guess=0, model_answer=6, true_label=0)  # guessed the truth, the model erred
    score = score.record(guess=1, model_answer=2, true_label=2)  # wrong guess; the truth was the answer
    assert score == Score(rounds=4, predicted_model=2, true_label_strategy=2)
    assert score.rate == 0.5 and score.true_label_rate == 0.5
    assert Score().record(1, 1, 1).record(1, 2, 1) == Score(2, 1, 1)


def test_a_persons_score_is_kept_on_disk_and_rounds_are_never_lost(tmp_path) -> None:  # noqa: ANN001
    import json
    from concurrent.futures import ThreadPoolExecutor

    from fmnist_core.analysis import quiz
    from fmnist_core.runs import paths

    assert quiz.score_of("ada", tmp_path) == quiz.Score()
    assert quiz.record_round("ada", 3, 3, 4, tmp_path) == quiz.Score(1, 1, 0)
    assert quiz.record_round("ada", 1, 2, 2, tmp_path) == quiz.Score(2, 1, 1)
    assert quiz.score_of("ada", tmp_path).rate == 0.5 and quiz.score_of("bob", tmp_path).rounds == 0
    with ThreadPoolExecutor(8) as pool:  # many sessions answering at once
        list(pool.map(lambda k: quiz.record_round("bob", k % 2, 0, 0, tmp_path), range(40)))
    assert quiz.all_scores(tmp_path) == {"ada": quiz.Score(2, 1, 1), "bob": quiz.Score(40, 20, 40)}
    kept = paths.shared_dir(tmp_path) / quiz.SCORES_FILE  # out of reach of every listing of runs
    assert not (tmp_path / quiz.SCORES_FILE).exists()
    kept.write_text("{not json")  # a damaged file: start again, never fail the page
    assert quiz.all_scores(tmp_path) == {}
    quiz.record_round("cy", 0, 0, 0, tmp_path)
    assert json.loads(kept.read_text())["cy"]["rounds"] == 1
