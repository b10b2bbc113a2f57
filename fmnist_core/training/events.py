"""What a training worker tells the job: small picklable events of plain values, and the phases it names.

The worker (a process or a Ray actor) sends them; fmnist_core.training.live_state folds them into the job's
live state, on the server for the live view and in the worker for the run's metadata, so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from fmnist_core.runs.frames import Frame

STATES = ("queued", "running", "stopping", "done", "stopped", "failed")
FINAL_STATES = ("done", "stopped", "failed")
MAX_BATCH_POINTS = 400
TEST_IMAGES = 10_000  # evaluated after every epoch (validation) and once at the end
# What the worker is doing, in the order a person sees it; the live view shows these words.
PHASE_STARTING = "starting Python"
PHASE_TENSORFLOW = "loading TensorFlow"
PHASE_DATA = "loading data"
PHASE_BUILD = "building the network"
PHASE_FIRST_BATCH = "preparing the first batch"  # TensorFlow traces and compiles the step: seconds, no rate yet
PHASE_TRAINING = "training"
PHASE_EVALUATING = f"evaluating on the {TEST_IMAGES:,} test images"
PHASE_SAVING = "saving"
PHASE_PREPARING = "getting the pages ready for this model (predictions, strongest images, the map)"


# --- events: worker -> job ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    """The worker is up (imports done): where it runs and how."""

    executor: str
    node: str
    pid: int


@dataclass(frozen=True)
class Phase:
    phase: str


@dataclass(frozen=True)
class Setup:
    """The data is loaded and the fit is about to begin."""

    batches_per_epoch: int
    train_images: int
    batch_size: int
    precision: str
    precision_note: str


@dataclass(frozen=True)
class EpochBegin:
    epoch: int  # 1-based


@dataclass(frozen=True)
class BatchEnd:
    done_in_epoch: int  # batches finished in this epoch, clipped to the epoch's length
    loss: float
    accuracy: float
    seconds: float  # since the previous batch end (or the epoch's start)


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    loss: float
    accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    seconds: float
    elapsed: float  # since the fit began


@dataclass(frozen=True)
class Watched:
    """After an EpochEnd: that epoch's frame of the first conv layer (fmnist_core.training.frame_capture), arrays read-only."""

    layer: str
    samples: tuple[int, ...]  # test-set indices of the sample images
    frame: Frame


@dataclass(frozen=True)
class FitEnd:
    fit_seconds: float
    stopped: bool


@dataclass(frozen=True)
class Evaluated:
    test_loss: float
    test_accuracy: float
    mirror_accuracy: float | None = None  # with each image averaged with its mirror image, when the preset asks


@dataclass(frozen=True)
class SaveResult:
    run_id: str | None
    error: str | None  # None when saved


@dataclass(frozen=True)
class Ended:
    """The training is over (saved or not); the worker may linger only to retry a failed save."""

    stopped: bool


@dataclass(frozen=True)
class Failed:
    error: str


@dataclass(frozen=True)
class Cancelled:
    """Stopped while waiting to start (a queue place or cluster resources): nothing trained, nothing saved."""


Event = (
    Started
    | Phase
    | Setup
    | EpochBegin
    | BatchEnd
    | EpochEnd
    | Watched
    | FitEnd
    | Evaluated
    | SaveResult
    | Ended
    | Failed
    | Cancelled
)
