"""Every FMNIST_* environment variable in one place: its name, type, default and meaning, and a typed reader.

Nothing else reads FMNIST_* from os.environ, so the README's configuration table can be checked against
`SETTINGS` (tests/core/test_settings.py) and a new variable cannot hide in a module. Values are read at each call, not
cached: tests and the CLI set them per process, and a server picks up nothing new after it started anyway.
A value that does not parse falls back to the default, as the readers did before they moved here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One variable: what the README's configuration table says about it."""

    name: str
    type: type
    default: str | None  # as written in the environment; None: unset
    meaning: str


HOME = "FMNIST_HOME"
DATA_DIR = "FMNIST_DATA_DIR"
MAX_TRAININGS = "FMNIST_MAX_TRAININGS"
WARM_IDLE_SECONDS = "FMNIST_WARM_IDLE_SECONDS"
WORKER_SCHEDULING = "FMNIST_WORKER_SCHEDULING"
RAY_ADDRESS = "FMNIST_RAY_ADDRESS"
RAY_CPUS = "FMNIST_RAY_CPUS"
TEST_FAULT = "FMNIST_TEST_FAULT"
PREPARE_RUNS = "FMNIST_PREPARE_RUNS"
TIMINGS = "FMNIST_TIMINGS"
TEACHERS = "FMNIST_TEACHERS"
RUN_VISIBILITY = "FMNIST_RUN_VISIBILITY"
TRAININGS_PER_USER = "FMNIST_TRAININGS_PER_USER"
RUNS_PER_USER = "FMNIST_RUNS_PER_USER"

SETTINGS: tuple[Setting, ...] = (
    Setting(HOME, Path, "models", "where saved runs live"),
    Setting(DATA_DIR, Path, None, "folder with the four Fashion-MNIST IDX .gz files (looked at first)"),
    Setting(MAX_TRAININGS, int, "2", "trainings allowed at once in one server; more wait in a queue, users in turn"),
    Setting(WARM_IDLE_SECONDS, float, "300", "seconds warm workers wait unused before they end; 0: none"),
    Setting(WORKER_SCHEDULING, str, "nice", "nice: workers at nice 19; idle: SCHED_IDLE as well"),
    Setting(RAY_ADDRESS, str, None, "a Ray cluster to train on; unset: local worker processes"),
    Setting(RAY_CPUS, float, "2", "CPUs each training asks of the Ray cluster"),
    Setting(TEST_FAULT, str, None, "tests only: make a worker abort, exit or pause mid-save"),
    Setting(PREPARE_RUNS, int, "1", "1: a training's worker keeps what its pages read first; 0: pages compute it"),
    Setting(TIMINGS, Path, None, "a file the Feature maps fragment appends its server times to (benchmark)"),
    Setting(TEACHERS, str, None, "comma-separated identities who see the Class page and may delete any run"),
    Setting(RUN_VISIBILITY, str, "class", "class: everyone signed in sees every run; private: own and shipped"),
    Setting(TRAININGS_PER_USER, int, "1", "trainings running or queued per signed-in person"),
    Setting(RUNS_PER_USER, int, "20", "stored runs and imports per signed-in person"),
)
_BY_NAME = {s.name: s for s in SETTINGS}
VISIBILITIES = ("class", "private")


def raw(name: str) -> str | None:
    """The variable's text as set (stripped), or None when unset or empty."""
    if name not in _BY_NAME:
        raise KeyError(f"{name} is not a setting of this app (fmnist_core/settings.py lists them)")
    value = os.environ.get(name, "").strip()
    return value or None


def _number(name: str, cast: type, low: float) -> float:
    default = cast(_BY_NAME[name].default)
    try:
        return max(cast(low), cast(raw(name) or default))
    except ValueError:
        return default


def home() -> Path:
    """FMNIST_HOME, else ./models."""
    return Path(raw(HOME) or "models")


def data_dir() -> str | None:
    """FMNIST_DATA_DIR, or None."""
    return raw(DATA_DIR)


def max_trainings() -> int:
    """FMNIST_MAX_TRAININGS: local trainings at once (at least 1; default 2)."""
    return int(_number(MAX_TRAININGS, int, 1))


def warm_idle_seconds() -> float:
    """FMNIST_WARM_IDLE_SECONDS (0 turns warm workers off)."""
    return _number(WARM_IDLE_SECONDS, float, 0.0)


def prepare_runs() -> bool:
    """FMNIST_PREPARE_RUNS: whether a training's worker keeps what the run's pages read first before offering it
    (default yes; the test suite turns it off where it is not what a test is about: it costs CPU-seconds a run)."""
    return (raw(PREPARE_RUNS) or "1") not in ("0", "false", "no", "off")


def worker_scheduling() -> str:
    """FMNIST_WORKER_SCHEDULING, lower case: "nice" or "idle"."""
    return (raw(WORKER_SCHEDULING) or "nice").lower()


def ray_address() -> str | None:
    """FMNIST_RAY_ADDRESS, or None for local worker processes."""
    return raw(RAY_ADDRESS)


def ray_cpus() -> float:
    """FMNIST_RAY_CPUS: CPUs per training on Ray (at least 0.5)."""
    return _number(RAY_CPUS, float, 0.5)


def test_fault() -> str:
    """FMNIST_TEST_FAULT, "" when unset."""
    return raw(TEST_FAULT) or ""


@contextmanager
def without_test_fault() -> Iterator[None]:
    """FMNIST_TEST_FAULT unset for a while (a warm worker's rehearsal must not trip the real training's fault)."""
    saved = os.environ.pop(TEST_FAULT, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[TEST_FAULT] = saved


def timings_file() -> str | None:
    """FMNIST_TIMINGS: where the benchmark wants server times, or None."""
    return raw(TIMINGS)


def teachers() -> frozenset[str]:
    """FMNIST_TEACHERS as a set of identities (case kept: an email's case is the provider's)."""
    return frozenset(part.strip() for part in (raw(TEACHERS) or "").split(",") if part.strip())


def run_visibility() -> str:
    """FMNIST_RUN_VISIBILITY: "class" (default) or "private"; anything else is "class"."""
    value = (raw(RUN_VISIBILITY) or "class").lower()
    return value if value in VISIBILITIES else "class"


def trainings_per_user() -> int:
    """FMNIST_TRAININGS_PER_USER (at least 1; default 1)."""
    return int(_number(TRAININGS_PER_USER, int, 1))


def runs_per_user() -> int:
    """FMNIST_RUNS_PER_USER (at least 1; default 20)."""
    return int(_number(RUNS_PER_USER, int, 1))


def worker_environment() -> dict[str, str]:
    """Every FMNIST_* variable of this process: what a worker process inherits and reads."""
    return {name: value for name, value in os.environ.items() if name.startswith("FMNIST_")}
