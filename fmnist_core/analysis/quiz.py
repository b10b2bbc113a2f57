"""Predict the model: which test images to show (a seeded mix), and the running score.

The learner guesses what the model will answer, not the true class. Images come in turn from three pools, so the
quiz is neither all easy nor all tricks: confident and right, uncertain, and confidently wrong. The score is a
small typed value (no Streamlit): without sign-in a page keeps it per browser session; with sign-in it is kept per
person in `FMNIST_HOME/shared/quiz-scores.json` (record_round, score_of, all_scores), so it survives sessions and the
Class page shows it.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from fmnist_core.runs import paths

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


# --- scores kept per person ----------------------------------------------------------------------------------
SCORES_FILE = "quiz-scores.json"
_LOCK = threading.Lock()  # one server's sessions; the file lock below covers other processes


def _scores_path(home: Path | None) -> Path:
    """The scores file in the home's shared folder; one left by older versions beside the runs is moved there."""
    from fmnist_core.runs import store

    path = paths.shared_dir(home) / SCORES_FILE
    legacy = (home or paths.home_dir()) / SCORES_FILE
    if not path.exists() and legacy.is_file() and not store.is_run_file(legacy):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(legacy, path)
        except OSError:  # moved by another process just now, or a read-only home
            return path if path.exists() else legacy
    return path


def _read(path: Path) -> dict[str, Score]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: start again rather than fail the page
        return {}
    scores = {}
    for person, value in raw.items() if isinstance(raw, dict) else ():
        try:
            scores[str(person)] = Score(
                **{k: int(value[k]) for k in ("rounds", "predicted_model", "true_label_strategy")}
            )
        except (KeyError, TypeError, ValueError):
            continue
    return scores


def all_scores(home: Path | None = None) -> dict[str, Score]:
    """Every person's quiz score (identity -> Score)."""
    return _read(_scores_path(home))


def score_of(person: str, home: Path | None = None) -> Score:
    """One person's score so far (an empty Score when they have not played)."""
    return all_scores(home).get(person, Score())


def record_round(person: str, guess: int, model_answer: int, true_label: int, home: Path | None = None) -> Score:
    """Add one round to a person's kept score (read, add, write atomically under a lock); returns the new score."""
    path = _scores_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path.with_name(f".{SCORES_FILE}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        scores = _read(path)
        new = scores.get(person, Score()).record(guess, model_answer, true_label)
        scores[person] = new
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{SCORES_FILE}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({k: asdict(v) for k, v in sorted(scores.items())}, out, indent=1)
        os.replace(tmp, path)
    return new
