"""Predict the model: which test images to show (a seeded mix), and the running score.

The learner guesses what the model will answer, not the true class. Images come in turn from three pools, so the
quiz is neither all easy nor all tricks: confident and right, uncertain, and confidently wrong. The score is a
small typed value (no Streamlit): a page keeps it per browser session, and it can later be kept per person.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

CONFIDENT = 0.9  # top probability at least this: "confident"
UNCERTAIN = 0.6  # top probability below this: "uncertain"
KINDS = ("confident and right", "uncertain", "confidently wrong")


def pools(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The test images of each kind under this model (indices, ascending)."""
    top = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == np.asarray(labels).astype(int)
    return {
        KINDS[0]: np.flatnonzero((top >= CONFIDENT) & right),
        KINDS[1]: np.flatnonzero(top < UNCERTAIN),
        KINDS[2]: np.flatnonzero((top >= CONFIDENT) & ~right),
    }


@dataclass(frozen=True)
class QuizItem:
    """One question: a test image and the pool it came from."""

    index: int
    kind: str


def draw(probabilities: np.ndarray, labels: np.ndarray, seed: int, count: int = 30) -> list[QuizItem]:
    """`count` questions taking the kinds in turn (an empty pool is skipped), each pool shuffled by `seed`."""
    rng = np.random.default_rng(seed)
    shuffled = {kind: list(rng.permutation(found)) for kind, found in pools(probabilities, labels).items()}
    items: list[QuizItem] = []
    while len(items) < count and any(shuffled.values()):
        for kind in KINDS:
            if shuffled[kind] and len(items) < count:
                items.append(QuizItem(int(shuffled[kind].pop()), kind))
    return items


@dataclass(frozen=True)
class Score:
    """Rounds played, how often the learner predicted the model, and how often "always guess the true label" would
    have (the model's accuracy on the images shown): the comparison that says whether the learner knows the model
    or only the clothes."""

    rounds: int = 0
    predicted_model: int = 0
    true_label_strategy: int = 0

    def record(self, guess: int, model_answer: int, true_label: int) -> Score:
        """The score after one more round."""
        return replace(
            self,
            rounds=self.rounds + 1,
            predicted_model=self.predicted_model + int(guess == model_answer),
            true_label_strategy=self.true_label_strategy + int(true_label == model_answer),
        )

    @property
    def rate(self) -> float | None:
        return self.predicted_model / self.rounds if self.rounds else None

    @property
    def true_label_rate(self) -> float | None:
        return self.true_label_strategy / self.rounds if self.rounds else None
