"""The smallest change that flips the answer: an L-infinity attack (projected gradient descent, pixels kept in
0..1) and a bisection over epsilon in steps of 1/255 (one grey level) up to 0.3.

The bisection splits the interval in WIDTH + 1 parts per round instead of two, attacking at the WIDTH points in
one batch (always WIDTH images, so the compiled attack is traced once): two rounds instead of seven, with the same
guarantee (the answer flips; one level less was tried and does not).

An explanation says which pixels matter; this shows how few grey levels, spread over which pixels, change the
model's mind. Deterministic (no random start), so anyone can re-run the attack at epsilon - 1/255 and see it fail.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.explain.common import forward_to_logits
from fmnist_core.nets.inference import as_model_input, per_model, predict_proba

LEVEL = 1 / 255  # one grey level: the finest change an 8-bit image can carry
MAX_LEVELS = 76  # 76/255 = 0.298: the largest whole number of grey levels up to 0.3
PGD_STEPS = 20  # Madry et al. used 7 to 40; more cost time and moved few answers (docs/explanations.md)
WIDTH = 10  # epsilons attacked per round, in one batch: 76 levels in two rounds


def _attack_function(model: Any) -> Callable[..., Any]:
    """Compiled PGD: (images (B,28,28,1), eps (B,1,1,1), class, targeted) -> the perturbed images; one epsilon per
    copy of the image, so a round of the search is one batch. Built once per model."""

    def build() -> Callable[..., Any]:
        import tensorflow as tf

        ref = weakref.ref(model)

        def attack(x: Any, eps: Any, cls: Any, targeted: Any) -> Any:
            alpha = 2.5 * eps / PGD_STEPS  # the usual step: the whole ball is reachable with room to turn back
            adv = x
            for _ in tf.range(PGD_STEPS):
                with tf.GradientTape() as tape:
                    tape.watch(adv)
                    _, logits = forward_to_logits(ref(), adv)
                    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
                        labels=tf.fill([tf.shape(adv)[0]], cls), logits=logits
                    )
                hit = tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), cls)
                if tf.reduce_all(tf.where(targeted, hit, tf.logical_not(hit))):
                    break  # every copy already flipped: the rest of the steps would change no answer
                grad = tape.gradient(loss, adv)
                # Untargeted: climb the predicted class's loss; targeted: descend the target's.
                direction = tf.where(targeted, -tf.sign(grad), tf.sign(grad))
                adv = tf.clip_by_value(adv + alpha * direction, x - eps, x + eps)
                adv = tf.clip_by_value(adv, 0.0, 1.0)
            return adv

        return tf.function(attack, reduce_retracing=True)  # autograph turns the loop and its break into graph ops

    return per_model(model, "pgd", build)


def pgd(
    model: Any, image: np.ndarray, epsilons: Sequence[float], class_index: int, target: int | None = None
) -> np.ndarray:
    """The image changed by at most epsilon per pixel (L-infinity), within 0..1, to push the model off
    `class_index` (or, given `target`, towards it): (len(epsilons), 28, 28) float32, one per epsilon."""
    import tensorflow as tf

    eps = np.asarray(epsilons, dtype=np.float32).reshape(-1, 1, 1, 1)  # one attack per epsilon, side by side
    x = np.repeat(as_model_input(image)[:1], len(eps), axis=0)
    cls = class_index if target is None else target
    adv = _attack_function(model)(
        tf.constant(x), tf.constant(eps), tf.constant(int(cls), tf.int32), tf.constant(target is not None)
    )
    return np.asarray(adv, dtype=np.float32)[:, :, :, 0]


@dataclass(frozen=True)
class Flip:
    """The bisection's answer. `epsilon` is None when nothing up to MAX_LEVELS/255 flips the prediction."""

    epsilon: float | None
    levels: int | None  # epsilon in grey levels (epsilon * 255)
    original: np.ndarray  # (28, 28) in 0..1
    image: np.ndarray | None  # the changed image (28, 28) in 0..1, None when nothing flipped
    predicted_before: int
    predicted_after: int | None
    probabilities_before: np.ndarray
    probabilities_after: np.ndarray | None
    target: int | None
    tried: tuple[tuple[int, bool], ...]  # (grey levels, flipped?) in the order the bisection tried them

    @property
    def change(self) -> np.ndarray | None:
        """changed image - original: every value within +-epsilon."""
        return None if self.image is None else self.image - self.original


def smallest_flip(model: Any, image: np.ndarray, target: int | None = None, max_levels: int = MAX_LEVELS) -> Flip:
    """Bisection over epsilon = k/255, k = 1..max_levels: the smallest k at which PGD changes the prediction
    (to `target`, if given). The model's own predict decides what counts as flipped."""
    original = as_model_input(image)[0, :, :, 0]
    before = predict_proba(model, original[None])[0]
    predicted = int(before.argmax())
    if target is not None and not 0 <= int(target) < len(before):
        raise ValueError(f"target class {target} does not exist (0..{len(before) - 1})")
    if target is not None and int(target) == predicted:
        raise ValueError(f"the model already predicts class {target}; choose another target")
    tried: list[tuple[int, bool]] = []

    def attempt(levels: list[int]) -> list[tuple[int, bool, np.ndarray, np.ndarray]]:
        padded = levels + [levels[-1]] * (WIDTH - len(levels))  # one batch shape: one trace of the attack
        changed = pgd(model, original, [k * LEVEL for k in padded], predicted, target)[: len(levels)]
        probs = predict_proba(model, changed)
        out = []
        for k, image_k, probs_k in zip(levels, changed, probs, strict=True):
            new = int(probs_k.argmax())
            flipped = new != predicted if target is None else new == int(target)
            tried.append((k, flipped))
            out.append((k, flipped, image_k, probs_k))
        return out

    # Round one: the largest epsilon with WIDTH - 1 points below it; later rounds: WIDTH points inside (low, high).
    low, high, best = 0, None, None  # low never flips (0 is the image itself); high is the smallest flip so far
    candidates = sorted({max(1, round(max_levels * (i + 1) / WIDTH)) for i in range(WIDTH)})
    while candidates:
        results = attempt(candidates)
        flips = [r for r in results if r[1]]
        if flips:
            high, best = flips[0][0], (flips[0][2], flips[0][3])
        below = [r[0] for r in results if not r[1] and (high is None or r[0] < high)]
        low = max([low, *below])
        if high is None:
            break
        span = high - low
        candidates = sorted({low + max(1, round(span * (i + 1) / (WIDTH + 1))) for i in range(WIDTH)} - {high})
        candidates = [k for k in candidates if low < k < high]
    if best is None:
        return Flip(None, None, original, None, predicted, None, before, None, target, tuple(tried))
    changed, probs = best
    return Flip(
        epsilon=high * LEVEL,
        levels=high,
        original=original,
        image=changed,
        predicted_before=predicted,
        predicted_after=int(probs.argmax()),
        probabilities_before=before,
        probabilities_after=probs,
        target=target,
        tried=tuple(tried),
    )
