"""Suspect labels: test images whose given label the model (through cleanlab) doubts, most suspect first.

Our side is one call: labels + out-of-sample predicted probabilities in, ranked suspects out. The test set's
probabilities from a model trained on the training set are out-of-sample, which is what cleanlab assumes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

# Zalando's Fashion-MNIST README ("Human performance"): crowd workers labelled 1,000 test images, three labels each,
# majority vote; their accuracy against the given labels was 83.5%.
HUMAN_ACCURACY = 0.835
HUMAN_SOURCE = "https://github.com/zalandoresearch/fashion-mnist#benchmark"
HUMAN_NOTE = "crowd labellers, 1,000 test images, per Zalando's Fashion-MNIST README"
# Below this test accuracy a model's own mistakes outnumber the wrong labels it could point at (the test set's label
# errors are a few percent), so its suspects say more about the model than about the labels.
WEAK_MODEL_ACCURACY = 0.85


@dataclass(frozen=True)
class Suspect:
    """One test image whose label looks wrong: its given label, the class suggested instead, its label quality.

    quality is cleanlab's self-confidence label-quality score (the predicted probability of the given label):
    lower is more suspect.
    """

    index: int
    given: int
    suggested: int
    quality: float

    def to_json(self) -> dict[str, int | float]:
        return asdict(self)


def find_suspects(labels: np.ndarray, probabilities: np.ndarray, top: int | None = None) -> list[Suspect]:
    """cleanlab's label issues ranked by label quality (most suspect first); `top` keeps the first N.

    The suggested class is the model's most probable one: the class cleanlab's confident joint moves the image to.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"expected one row of probabilities per label, got {probs.shape} for {len(labels)} labels")
    # n_jobs=1: cleanlab otherwise forks a multiprocessing pool, which hangs inside a server that holds TensorFlow's
    # threads (a real `streamlit run` waited for ever on Test images; in-process tests did not show it).
    ranked = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    quality = get_label_quality_scores(labels, probs, method="self_confidence")
    suggested = probs.argmax(axis=1)
    chosen = ranked if top is None else ranked[:top]
    return [Suspect(int(i), int(labels[i]), int(suggested[i]), float(quality[i])) for i in chosen]


def weak_model_warning(test_accuracy: float | None) -> str | None:
    """One sentence for a learner when the model is too weak for its suspect labels to mean much, else None."""
    if test_accuracy is None or test_accuracy >= WEAK_MODEL_ACCURACY:
        return None
    percent = math.floor(test_accuracy * 100)  # rounded down: never "only 85%" for a model under the 85% line
    return (
        f"This model gets only {percent}% of the test images right, so many of these suspect labels are its own "
        "mistakes, not wrong labels. Train a better model first."
    )
