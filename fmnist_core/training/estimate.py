"""How long a training will take here, from the click to the result, learned from this machine's finished runs.

A training's wall time is modelled as

    fixed + epochs x (images x seconds per image + one test evaluation)

`fixed` is paid once: starting Python, importing TensorFlow, loading the data and building the network (the same
for any network), the first batch (TensorFlow traces the step: grows with the layers) and the final evaluation
(grows with the forward FLOPs). `seconds per image` is the steady training rate (the batches after the first), and
each epoch ends with an evaluation of the 10,000 test images. The worker measures each part and keeps it in the
run's metadata (`timings`, and `train_seconds` in the history rows), so one finished run gives all three, and its
own settings reproduce its own time.

Only finished runs count (a stopped run's last epoch is partial; imported and shipped models were not trained
here), and only those trained on this machine by this kind of worker. A run of the same network, recipe and batch
size gives a measured estimate; otherwise the nearest runs are scaled by FLOPs per image, which is rough: batch
norm and wide early maps cost more time than their FLOPs say.
"""

from __future__ import annotations

import os
import socket
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fmnist_core.nets import architecture
from fmnist_core.nets.architecture import ArchSpec
from fmnist_core.nets.presets import PRESETS, TrainConfig, steps_per_execution
from fmnist_core.training.events import TEST_IMAGES

MEASURED = "measured"  # runs of this very network, recipe and batch size
ROUGH = "rough"  # scaled by FLOPs from a different network or batch size
NEWEST = 5  # runs used at most, newest first: the machine's speed drifts over hours
MIN_STEADY_IMAGES = 512  # fewer steady images than this measure start-up noise more than a rate
# How far the time may be from the estimate: measured runs of one network here varied by about this much between
# hours (docs/performance.md); FLOPs miss batch norm, casts and memory traffic, by up to 2x either way.
MEASURED_SPREAD = (0.85, 1.2)
ROUGH_RATE_SPREAD = (0.6, 2.0)  # on what a network changes: its training, evaluations, tracing, final test


@dataclass(frozen=True)
class Plan:
    """What is about to be trained, as far as time goes: the network, how it is fed, and the fields as set."""

    network: ArchSpec
    recipe: str
    batch_size: int
    epochs: int
    images: int
    evaluated: bool  # the test set after every epoch
    steps_per_execution: int = 1  # batches in the fit's first report (which holds the tracing)

    @property
    def mflop_train(self) -> float:
        return architecture.describe(self.network).mflop_train

    @property
    def mflop_forward(self) -> float:
        return architecture.describe(self.network).mflop_forward

    @property
    def layers(self) -> int:
        """Layers TensorFlow traces before the first batch: that time grows with them, not with FLOPs."""
        return len(architecture.describe(self.network).layers)

    @property
    def first_report_images(self) -> int:
        return min(self.images, self.batch_size * self.steps_per_execution)


@dataclass(frozen=True)
class MeasuredRun:
    """One finished run of this machine, reduced to what the estimate needs."""

    run_id: str
    plan: Plan
    total_seconds: float  # launch to result, saving excepted
    seconds_per_image: float | None  # steady training; None when the run was too short to measure one
    evaluation_seconds: float | None  # one epoch's test evaluation, from epochs after the first (which traces it)
    first_batch_seconds: float = 0.0  # the fit's first report: tracing the step, and its own batches
    final_evaluation_seconds: float = 0.0  # the 10,000 test images once more, after the fit
    load_average: float | None = None  # the machine's 1-minute load when it started


@dataclass(frozen=True)
class Estimate:
    """Expected seconds from click to result, a likely range, its parts, and how sure it is."""

    seconds: float
    low: float
    high: float
    fixed_seconds: float  # once: start-up, data, building, the first batch, the final evaluation
    epoch_seconds: float  # each epoch: its training images and the test evaluation
    seconds_per_image: float
    evaluation_seconds: float
    confidence: str  # MEASURED or ROUGH
    runs: tuple[str, ...]  # the runs the rate came from, newest first
    basis: str  # one sentence: what it is based on and how sure it is
    measured_load: float | None = None  # the machine's load while those runs trained (median), when known


def recipe_of(preset: str) -> str:
    """How a preset feeds and computes: presets sharing it differ in time only by their network's FLOPs."""
    p = PRESETS[preset]
    extras = "".join(("/fused-batch-norm" if p.fused_batch_norm else "", "/mirror-test" if p.mirror_test else ""))
    return f"{p.feed}/{p.input_dtype}/{p.precision}/spe{p.steps_per_execution}{extras}"


def plan_of(config: TrainConfig) -> Plan:
    """The Plan of a TrainConfig (resolved first, so unset fields take the preset's defaults)."""
    cfg = config.resolved()
    network = architecture.parse_spec(cfg.arch) if cfg.arch is not None else None
    if network is None:
        network = architecture.PRESET_SPECS[PRESETS[cfg.preset].architecture]
    from fmnist_core.data.fashion_mnist import EXPECTED_COUNT

    batch_size, epochs = int(cfg.batch_size or 1), int(cfg.epochs or 1)
    images = int(cfg.limit or EXPECTED_COUNT["train"])
    return Plan(
        network=network,
        recipe=recipe_of(cfg.preset),
        batch_size=batch_size,
        epochs=epochs,
        images=images,
        evaluated=bool(cfg.evaluate_each_epoch),
        steps_per_execution=steps_per_execution(PRESETS[cfg.preset], epochs * -(-images // batch_size)),
    )


def this_machine() -> tuple[str, str]:
    """(executor, host) of trainings started from here: only runs made the same way measure what will happen."""
    from fmnist_core.training.executors import executor_name

    return executor_name(), socket.gethostname()


def measured_run(info: Any, executor: str, host: str) -> MeasuredRun | None:
    """A metadata.RunInfo as a MeasuredRun, or None when it cannot tell how long a training takes here: not
    finished (stopped, imported, damaged), shipped, trained elsewhere, or saved before runs kept timings."""
    meta = info.metadata
    if info.status != "finished" or getattr(info, "shipped", False) or meta.executor != executor:
        return None
    if executor != "ray" and meta.node != host:  # Ray nodes differ by design; local runs must be this host's
        return None
    timings = meta.timings or {}
    settings = meta.settings
    if settings is None or "total_seconds" not in timings or meta.preset not in PRESETS or not meta.train_images:
        return None
    history = meta.history
    epochs = len(history)
    if not epochs or not all(row.complete for row in history):
        return None
    network = meta.spec()
    if network is None:
        return None
    steady_images = timings.get("steady_train_images", 0.0)
    per_image = None
    if steady_images >= MIN_STEADY_IMAGES:
        per_image = timings.get("steady_train_seconds", 0.0) / steady_images
    extras = [row.seconds - row.train_seconds for row in history[1:] if row.train_seconds is not None]
    batch_size = int(settings.batch_size or 0)
    batches = epochs * -(-int(meta.train_images) // max(1, batch_size))
    plan = Plan(
        network=network,
        recipe=recipe_of(meta.preset),
        batch_size=batch_size,
        epochs=epochs,
        images=int(meta.train_images),
        evaluated=settings.evaluate_each_epoch,
        steps_per_execution=steps_per_execution(PRESETS[meta.preset], batches),
    )
    return MeasuredRun(
        run_id=info.id,
        plan=plan,
        total_seconds=float(timings["total_seconds"]),
        seconds_per_image=per_image,
        evaluation_seconds=max(0.0, statistics.median(extras)) if extras else None,
        first_batch_seconds=timings.get("first_batch_seconds", 0.0),
        final_evaluation_seconds=timings.get("final_evaluation_seconds", 0.0),
        load_average=timings.get("load_average"),
    )


def _nearest(runs: list[MeasuredRun], plan: Plan) -> tuple[list[MeasuredRun], bool]:
    """The best group of runs to learn from, newest first, and whether it is this very network and setting."""
    same = [
        m
        for m in runs
        if (m.plan.network, m.plan.recipe, m.plan.batch_size) == (plan.network, plan.recipe, plan.batch_size)
    ]
    if same:
        return same[:NEWEST], True
    for group in (
        [m for m in runs if m.plan.network == plan.network and m.plan.recipe == plan.recipe],
        [m for m in runs if m.plan.recipe == plan.recipe and m.plan.batch_size == plan.batch_size],
        [m for m in runs if m.plan.recipe == plan.recipe],
        runs,
    ):
        if group:
            return group[:NEWEST], False
    return [], False


def estimate(
    config: TrainConfig | Plan, runs: Iterable[Any], executor: str | None = None, host: str | None = None
) -> Estimate | None:
    """Seconds from click to result for `config` on this machine, or None when no finished run here measured a
    training speed yet. `runs` are metadata.RunInfo (newest saved runs first, as store.list_runs gives them)."""
    plan = config if isinstance(config, Plan) else plan_of(config)
    if executor is None or host is None:
        here_executor, here_host = this_machine()
        executor, host = executor or here_executor, host or here_host
    here = [m for m in (measured_run(info, executor, host) for info in runs) if m is not None]
    rated, exact = _nearest([m for m in here if m.seconds_per_image is not None], plan)
    if not rated:
        return None
    mflop = plan.mflop_train
    rates = [m.seconds_per_image * mflop / m.plan.mflop_train for m in rated]  # type: ignore[operator]
    rate = statistics.median(rates)

    def evaluation_for(target: Plan) -> float:
        """One epoch's test evaluation for `target`: measured on the nearest runs, scaled by forward FLOPs."""
        if not target.evaluated:
            return 0.0
        measured, _ = _nearest([m for m in here if m.evaluation_seconds is not None and m.plan.evaluated], target)
        if measured:
            return statistics.median(
                m.evaluation_seconds * target.mflop_forward / m.plan.mflop_forward  # type: ignore[operator]
                for m in measured
            )
        # Nothing measured it: the forward pass is about a third of a training step, per image.
        return TEST_IMAGES * rate * target.mflop_forward / mflop

    def fixed_of(m: MeasuredRun) -> tuple[float, float]:
        """What a run spent outside its epochs' training and evaluations, as it would be for this plan: start-up
        (Python, TensorFlow, data, building; the same for any network), and the network's part: tracing the
        step (grows with the layers) and the final evaluation (grows with the forward FLOPs)."""
        per_image = m.seconds_per_image if m.seconds_per_image is not None else rate * m.plan.mflop_train / mflop
        per_epoch = m.plan.images * per_image + (
            m.evaluation_seconds if m.evaluation_seconds is not None else evaluation_for(m.plan)
        )
        outside = max(0.0, m.total_seconds - m.plan.epochs * per_epoch)
        final = min(outside, m.final_evaluation_seconds)
        tracing = min(outside - final, max(0.0, m.first_batch_seconds - m.plan.first_report_images * per_image))
        network = tracing * plan.layers / m.plan.layers + final * plan.mflop_forward / m.plan.mflop_forward
        return outside - final - tracing, network

    same_network = [m for m in here if (m.plan.network, m.plan.recipe) == (plan.network, plan.recipe)]
    parts = [fixed_of(m) for m in (same_network or here)[:NEWEST]]
    start_ups, networks = [start for start, _ in parts], [network for _, network in parts]
    fixed = statistics.median(start + network for start, network in parts)
    evaluation = evaluation_for(plan)

    def network_time(fixed_part: float, per_image: float) -> float:
        return fixed_part + plan.epochs * (plan.images * per_image + evaluation)

    seconds = fixed + plan.epochs * (plan.images * rate + evaluation)
    # The range: the spread of the runs it learned from, widened for the load's drift; when scaled from another
    # network, everything that network changes may be off by FLOPs' error (start-up is not).
    widen = (1.0, 1.0) if exact else ROUGH_RATE_SPREAD
    low = MEASURED_SPREAD[0] * (min(start_ups) + widen[0] * network_time(min(networks), min(rates)))
    high = MEASURED_SPREAD[1] * (max(start_ups) + widen[1] * network_time(max(networks), max(rates)))
    loads = [m.load_average for m in rated if m.load_average is not None]
    return Estimate(
        seconds=seconds,
        low=min(low, seconds),
        high=max(high, seconds),
        fixed_seconds=fixed,
        epoch_seconds=plan.images * rate + evaluation,
        seconds_per_image=rate,
        evaluation_seconds=evaluation,
        confidence=MEASURED if exact else ROUGH,
        runs=tuple(m.run_id for m in rated),
        basis=_basis(rated, exact, plan),
        measured_load=statistics.median(loads) if loads else None,
    )


def _basis(rated: list[MeasuredRun], exact: bool, plan: Plan) -> str:
    n = len(rated)
    runs = f"{n} finished run{'s' if n != 1 else ''}"
    if exact:
        return f"Based on {runs} of this network with this batch size on this machine ({', '.join(m.run_id for m in rated)})."
    source = rated[0].plan
    differs = []
    if source.network != plan.network:
        differs.append(
            f"a different network ({architecture.describe(source.network).mflop_train:.1f} million multiplications "
            f"and additions per training image; this one {plan.mflop_train:.1f} million)"
        )
    if source.batch_size != plan.batch_size:
        differs.append(f"batch size {source.batch_size}")
    if source.recipe != plan.recipe:
        differs.append("another preset's recipe")
    return (
        f"Rough: scaled by the amount of arithmetic from {runs} on this machine with "
        f"{' and '.join(differs) or 'other settings'}; batch norm and wide first layers can make a network slower "
        "than its arithmetic says. "
        "After this training, estimates for it are measured."
    )


def busy_note(est: Estimate, load: float | None = None, cores: int | None = None) -> str | None:
    """A sentence when the machine is busier now than while the estimate's runs trained (and busier than its
    cores): other work shares the CPU, so the training takes longer than measured. None otherwise."""
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return None
    cores = cores or os.cpu_count() or 1
    if load <= cores or (est.measured_load is not None and load <= 1.5 * est.measured_load):
        return None
    then = f", against {est.measured_load:.1f} while those runs trained" if est.measured_load is not None else ""
    # The load average in a student's words: how many jobs want the processor's cores at once.
    return (
        f"The computer is busy now (on average {load:.1f} jobs want its {cores} processor cores at once{then}), "
        "so it may take longer."
    )


def duration_text(seconds: float) -> str:
    """'40 s', '1 min 45 s', '12 min', '1 h 5 min': rounded as a person would say it."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 600:
        minutes, secs = divmod(int(round(seconds / 5) * 5), 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def summary(est: Estimate, plan: Plan) -> str:
    """The sentence the Train page shows: the total, its range and parts, and what it is based on."""
    lead = "Expected here" if est.confidence == MEASURED else "Rough guess"
    epochs = f"{plan.epochs} epoch{'s' if plan.epochs != 1 else ''}"
    per_epoch = f"{plan.images:,} images" + (f" and the {TEST_IMAGES:,} test images" if plan.evaluated else "")
    return (
        f"{lead}: about {duration_text(est.seconds)} from click to result "
        f"(likely {duration_text(est.low)} to {duration_text(est.high)}): start-up, data and the final test "
        f"{duration_text(est.fixed_seconds)}, then {epochs} of {duration_text(est.epoch_seconds)} ({per_epoch}). "
        f"{est.basis}"
    )
