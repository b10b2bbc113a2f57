"""Synthesised inputs: the 28x28 picture a conv/pool channel (or an output class) would choose if it could.

Gradient ascent on the pixels from a seeded gray-plus-noise start, pixels kept in 0..1. The objective is a quantity
anyone can recompute from the image and the model (`objective`):
- a channel: the mean over positions of the layer's output in that channel (after its activation);
- a class: its pre-softmax score (the last Dense layer's kernel and bias without the softmax).
Regularisation makes the pictures readable (docs/understanding.md shows each one's effect): random jitter of the
image before each step, a Gaussian blur every few steps, and a total-variation penalty.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmnist_core.nets.inference import as_model_input, per_model

STEPS = 160
STEP_SIZE = 0.02  # pixels move this much per step on average (the gradient is scaled to a mean |g| of 1)
START_GRAY, START_NOISE = 0.5, 0.1
REDIRECT_SHARE = 0.5  # the first half of the steps lets a small gradient through switched-off ReLUs
PROGRESS_EVERY = 8  # steps between two progress reports
WAITS_KEPT = 20  # recent waits a promise is based on


@dataclass(frozen=True)
class Regularisation:
    """How the ascent is kept readable: jitter (px), a blur every `blur_every` steps, a total-variation weight."""

    jitter: int = 0
    blur_every: int = 0
    blur_sigma: float = 0.5
    tv_weight: float = 0.0


REGULARISATIONS = {
    "none": Regularisation(),
    "jitter": Regularisation(jitter=2),
    "blur": Regularisation(blur_every=4),
    "total variation": Regularisation(tv_weight=0.002),
    # Milder together than each alone: all three at full strength halved the objective (docs/understanding.md).
    "all three": Regularisation(jitter=1, blur_every=8, tv_weight=0.0005),
}
DEFAULT_REGULARISATION = "all three"


@dataclass(frozen=True)
class Target:
    """What to maximise: a channel of a conv/pool layer, or a class of the output layer (layer None)."""

    layer: str | None
    index: int

    def describe(self) -> str:
        return f"{self.layer} channel {self.index}" if self.layer else f"class {self.index} (pre-softmax score)"


@dataclass(frozen=True)
class Synthesis:
    """A synthesised input, its objective, and the test image that scores highest on the same objective."""

    target: Target
    image: np.ndarray  # (28, 28) float32 in 0..1
    objective: float
    best_test_index: int | None
    best_test_objective: float | None
    seed: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        best = None
        if self.best_test_index is not None:
            best = {"index": self.best_test_index, "objective": self.best_test_objective}
        return {
            "image": self.image.astype(float).round(6).tolist(),
            "objective": self.objective,
            "best_test_image": best,
        }


def check_target(model: Any, target: Target) -> None:
    """A ValueError in one sentence when the layer has no feature maps or the channel/class does not exist."""
    if target.layer is None:
        classes = int(model.layers[-1].output.shape[-1])
        if not 0 <= target.index < classes:
            raise ValueError(f"class {target.index} is outside 0..{classes - 1}")
        return
    from fmnist_core.analysis.activations import check_spatial_layer

    channels = check_spatial_layer(model, target.layer)[2]
    if not 0 <= target.index < channels:
        raise ValueError(f"channel {target.index} does not exist in {target.layer} (0..{channels - 1})")


def scores_function(model: Any, layer: str | None) -> Any:
    """x (N, 28, 28, 1) -> (N, C): every channel's mean over positions of `layer`, or the class logits (layer None)."""

    def build() -> Any:
        import keras
        import tensorflow as tf

        if layer is None:
            from fmnist_core.explain.common import forward_to_logits

            return tf.function(lambda x: forward_to_logits(model, x)[1], reduce_retracing=True, autograph=False)
        sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
        return tf.function(
            lambda x: tf.reduce_mean(sub(x, training=False), axis=(1, 2)), reduce_retracing=True, autograph=False
        )

    return per_model(model, f"objective:{layer}", build)


def objective(model: Any, image: np.ndarray, target: Target) -> float:
    """The documented objective of one image: the channel's mean activation, or the class's pre-softmax score."""
    check_target(model, target)
    return float(np.asarray(scores_function(model, target.layer)(as_model_input(image)[:1]))[0, target.index])


def objective_scores(model: Any, images: np.ndarray, layer: str | None, batch_size: int = 1000) -> np.ndarray:
    """(N, C) objectives of many images for every channel (or class) of `layer` at once: for the best test image."""
    fn = scores_function(model, layer)
    x = as_model_input(images)
    return np.concatenate(
        [np.asarray(fn(x[i : i + batch_size]), dtype=np.float32) for i in range(0, len(x), batch_size)]
    )


def _blur_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(round(2 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    return np.outer(taps, taps).astype(np.float32)[:, :, None, None]


def _redirected_scores(model: Any, x: Any, layer: str | None) -> Any:
    """The same (N, C) scores as scores_function, but every ReLU passes a small gradient where it is off.

    From a gray start most channels of a deep layer are off everywhere, so their true gradient is exactly zero and
    plain ascent never moves (Lucid's "redirected ReLU" fixes the same). The values are the model's own; only the
    gradient differs, and only for the first steps.
    """
    import tensorflow as tf

    h, last = x, model.layers[-1]
    for lyr in model.layers:
        act = getattr(lyr, "activation", None)
        relu = act is not None and getattr(act, "__name__", "") == "relu"
        if lyr is last and layer is None:  # the logits: the last Dense without its softmax, or a softmax's input
            return tf.matmul(tf.cast(h, lyr.kernel.dtype), lyr.kernel) + lyr.bias if hasattr(lyr, "kernel") else h
        if relu:
            z = h  # an Activation("relu") layer (conv + batch norm + relu networks)
            if hasattr(lyr, "kernel"):  # a conv or dense layer with its own relu
                kernel = tf.cast(lyr.kernel, h.dtype)
                z = lyr.convolution_op(h, kernel) if hasattr(lyr, "convolution_op") else tf.matmul(h, kernel)
                if getattr(lyr, "use_bias", False):
                    z = z + tf.cast(lyr.bias, z.dtype)
            leaky = tf.nn.leaky_relu(z, 0.1)
            h = leaky + tf.stop_gradient(tf.nn.relu(z) - leaky)  # forward: relu; backward: leaky relu
        else:
            h = lyr(h, training=False)
        if lyr.name == layer:
            return tf.reduce_mean(h, axis=(1, 2))
    raise ValueError(f"layer {layer!r} not found")


def _step_function(model: Any, layer: str | None, reg: Regularisation, redirect: bool) -> Any:
    """One compiled ascent step for any channel of `layer`: (image, shift, channel) -> (gradient of objective - tv,
    objective). The channel is a tensor argument, so choosing another channel needs no new trace."""
    scores = scores_function(model, layer)  # outside build: per_model's lock is not re-entrant

    def build() -> Any:
        import tensorflow as tf

        def step(x: Any, shift: Any, channel: Any) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(x)
                moved = tf.roll(x, shift, axis=(1, 2))
                out = _redirected_scores(model, moved, layer) if redirect else scores(moved)
                value = out[0, channel]
                loss = value - reg.tv_weight * tf.reduce_sum(tf.image.total_variation(x))
            return tape.gradient(loss, x), value

        return tf.function(step, reduce_retracing=True, autograph=False)

    return per_model(model, f"ascent:{layer}:{reg}:{redirect}", build)


def synthesise(
    model: Any,
    target: Target,
    seed: int = 0,
    steps: int = STEPS,
    regularisation: Regularisation | str = DEFAULT_REGULARISATION,
    test_images: np.ndarray | None = None,
    test_scores_of_layer: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Synthesis:
    """Gradient ascent on the pixels for `target`; deterministic for a seed. With test images (or their scores from
    `objective_scores`), also the test image that scores highest on the same objective. `progress(done, steps)` is
    called every few steps and after the last."""
    import tensorflow as tf

    check_target(model, target)
    reg = REGULARISATIONS[regularisation] if isinstance(regularisation, str) else regularisation
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = np.clip(START_GRAY + START_NOISE * rng.standard_normal((1, 28, 28, 1)), 0, 1).astype(np.float32)
    shifts = rng.integers(-reg.jitter, reg.jitter + 1, size=(steps, 2)) if reg.jitter else np.zeros((steps, 2), int)
    redirected, exact = _step_function(model, target.layer, reg, True), _step_function(model, target.layer, reg, False)
    channel = tf.constant(target.index, dtype=tf.int32)
    blur = tf.constant(_blur_kernel(reg.blur_sigma)) if reg.blur_every else None
    for k in range(steps):
        step = redirected if k < steps * REDIRECT_SHARE else exact
        grad, _ = step(tf.constant(x), tf.constant(shifts[k], dtype=tf.int32), channel)
        g = np.asarray(grad)
        x = np.clip(x + STEP_SIZE * g / (np.abs(g).mean() + 1e-12), 0, 1)
        if blur is not None and (k + 1) % reg.blur_every == 0 and k + 1 < steps:
            x = np.asarray(tf.nn.conv2d(tf.constant(x), blur, 1, "SAME"))
        if progress is not None and ((k + 1) % PROGRESS_EVERY == 0 or k + 1 == steps):
            progress(k + 1, steps)
    image = x[0, :, :, 0].astype(np.float32)
    value = objective(model, image, target)
    seconds = time.perf_counter() - started  # the ascent alone, not the scoring of the test images below
    best_index = best_value = None
    if test_scores_of_layer is None and test_images is not None:
        test_scores_of_layer = objective_scores(model, test_images, target.layer)
    if test_scores_of_layer is not None:
        best_index = int(np.argmax(test_scores_of_layer[:, target.index]))
        best_value = float(test_scores_of_layer[best_index, target.index])
    return Synthesis(target, image, value, best_index, best_value, seed, seconds)


# --- what a learner is promised before a synthesis ---------------------------------------------------------------


def load_per_core() -> float | None:
    """The machine's 1-minute load average per core (about 1 when every core is busy), or None where unknown."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        return None


@dataclass(frozen=True)
class ExpectedWait:
    """The range of seconds the next synthesis should take, from `measured` recent ones on this server."""

    low: float
    high: float
    measured: int


class WaitRecord:
    """How long this server's recent syntheses really took (click to picture), each with the load per core then.

    A fixed promise ("about a second") held on a quiet machine only: a class on a busy server was told 1.4 s and
    waited 12.6 s. Thread-safe: one record serves every session of the server process.
    """

    def __init__(self, kept: int = WAITS_KEPT) -> None:
        self._waits: deque[tuple[float, float | None]] = deque(maxlen=kept)
        self._lock = threading.Lock()

    def add(self, seconds: float, load: float | None) -> None:
        with self._lock:
            self._waits.append((float(seconds), load))

    def measured(self) -> list[float]:
        """The recent waits as they were measured, oldest first."""
        with self._lock:
            return [seconds for seconds, _ in self._waits]

    def expected(self, load: float | None) -> ExpectedWait | None:
        """The recent waits scaled to the load now; None before the first one."""
        with self._lock:
            waits = list(self._waits)
        if not waits:
            return None
        # Up to one busy process per core a synthesis runs at full speed; beyond that the cores are shared, and
        # a wait stretches in proportion to the load.
        now = _share(load)
        scaled = [seconds * now / _share(then) for seconds, then in waits]
        return ExpectedWait(min(scaled), max(scaled), len(waits))


def _share(load: float | None) -> float:
    return 1.0 if load is None else max(1.0, load)


def wait_sentence(expected: ExpectedWait | None) -> str:
    """What a learner reads before the picture appears: a range measured on this server, or an honest "a few
    seconds" before anything was measured."""
    if expected is None:
        return "Making the picture: usually a few seconds, longer while others are training on this server."
    low, high = max(1, math.floor(expected.low)), max(1, math.ceil(expected.high))
    span = f"about {low} s" if low >= high else f"about {low} to {high} s"
    pictures = "picture" if expected.measured == 1 else f"{expected.measured} pictures"
    return f"Making the picture: {span}, judging by the last {pictures} made on this server and how busy it is now."
