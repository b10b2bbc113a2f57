"""Trainings as Ray actors, when FMNIST_RAY_ADDRESS names a cluster ("auto", "ray://host:10001" or host:port).

Each training is one actor asking for FMNIST_RAY_CPUS CPUs (default 2) and a GPU when the cluster has one; Ray
queues actors the cluster has no room for, which the page shows as "waiting for cluster resources". The actor
runs the same `worker.Trainer` as a local process and keeps its events until the job polls them. The run is saved
by the actor into the job's store path, so FMNIST_HOME must be storage every node sees. Ray is optional
(requirements-ray.txt); this module is imported only when a job runs on Ray.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Ray reads this when it is imported: with it on, any Ray call made while not connected (a job's last `ray.kill`
# after the connection closed) quietly starts a new local cluster inside the web server. A call must fail instead.
os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")

import ray  # noqa: E402 (after the line above, on purpose)
import ray.exceptions  # noqa: E402

from fmnist_core import settings
from fmnist_core.training.events import Cancelled, Event, Started
from fmnist_core.training.process_setup import lower_priority
from fmnist_core.training.worker import RETRY_WINDOW_SECONDS, Trainer, WorkerSpec

POLL_SECONDS = 0.25  # how often the job asks the actor for new events
_connect_lock = threading.Lock()


def connect() -> None:
    """Join the cluster once per process, shipping this package so nodes without it can import it."""
    with _connect_lock:
        if ray.is_initialized():
            return
        package = Path(__file__).resolve().parents[1]  # fmnist_core/
        ray.init(
            address=settings.ray_address() or "auto",
            runtime_env={"py_modules": [str(package)], "excludes": ["__pycache__"]},
            log_to_driver=False,  # the actors' logs stay in the cluster's log files, not in the web server's console
            logging_level="ERROR",
        )


def cpus_per_training() -> float:
    return settings.ray_cpus()


@ray.remote(max_concurrency=4)  # threaded: poll() and stop() answer while run() trains
class TrainingActor:
    """One training on a cluster node; the job polls its events and may stop it or ask for a retried save."""

    def __init__(self, spec: WorkerSpec) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._trainer = Trainer(spec, self._keep, self._stop)

    def _keep(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def run(self) -> bool:
        """Train, evaluate, save; True when a failed save left the model here for a retry."""
        lower_priority(self._trainer.spec.scheduling)  # as a local worker: nice 19, SCHED_IDLE when asked
        self._trainer.run()
        return self._trainer.can_retry

    def poll(self) -> list[Event]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def stop(self) -> None:
        self._stop.set()

    def retry_save(self) -> bool:
        self._trainer.retry_save()
        return self._trainer.can_retry

    def can_retry(self) -> bool:
        return self._trainer.can_retry


def describe_actor_death(exc: BaseException) -> str:
    """One sentence from Ray's (long) actor-death error: what died, and Ray's first line of why."""
    text = str(exc)
    for marker in ("The actor died because of an error raised in its creation task", "Worker exit detail:"):
        if marker in text:
            reason = text.split(marker, 1)[1].strip().splitlines()[0].strip(" .:")
            break
    else:
        reason = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    reason = reason.split(" Some common causes", 1)[0]  # Ray appends a paragraph of generic guesses
    return f"the training process on the Ray cluster died: {reason[:200]}"


class RayActor:
    """A WorkerHandle over a TrainingActor."""

    def __init__(self, spec: WorkerSpec) -> None:
        connect()
        options: dict[str, Any] = {"num_cpus": cpus_per_training()}
        if ray.cluster_resources().get("GPU", 0) >= 1:
            options["num_gpus"] = 1
        self.actor = TrainingActor.options(**options).remote(spec)
        self._run = self.actor.run.remote()
        self._started = False
        self._cancelled = False
        self._death: str | None = None
        self._alive = True

    def _poll(self) -> list[Event]:
        return ray.get(self.actor.poll.remote())

    def events(self) -> Iterator[Event]:
        try:
            yield from self._follow()
        except ray.exceptions.RayActorError as exc:
            if self._cancelled and not self._started:
                yield Cancelled()
            else:
                self._death = describe_actor_death(exc)
        finally:
            self._alive = False
            if ray.is_initialized():  # no connection, no actor of ours left to end
                ray.kill(self.actor, no_restart=True)

    def _follow(self) -> Iterator[Event]:
        while True:
            done, _ = ray.wait([self._run], timeout=POLL_SECONDS)
            for event in self._poll():
                self._started = self._started or isinstance(event, Started)
                yield event
            if done:
                break
        can_retry = ray.get(self._run)
        yield from self._poll()
        deadline = time.monotonic() + RETRY_WINDOW_SECONDS
        while can_retry and time.monotonic() < deadline:  # keep the actor (and its model) for "Retry saving"
            time.sleep(POLL_SECONDS)
            yield from self._poll()
            can_retry = ray.get(self.actor.can_retry.remote())
        yield from self._poll()

    def stop(self) -> None:
        if not self._started:  # still waiting for cluster resources: give up the reservation
            self._cancelled = True
            ray.kill(self.actor, no_restart=True)
        else:
            self.actor.stop.remote()

    def retry_save(self) -> bool:
        if not self._alive:
            return False
        self.actor.retry_save.remote()
        return True

    def death(self) -> str | None:
        return self._death
