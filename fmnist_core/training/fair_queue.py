"""The server's training queue: at most FMNIST_MAX_TRAININGS at once, and people take turns (round robin).

First come, first served let one person with a few tabs fill the queue ahead of a class. Here the next free slot
goes to the waiting person who was served least recently (someone never served comes first, in order of arrival);
one person's own trainings keep their order. Without sign-in everyone is `local`, which is plain FIFO again.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable


def service_order(
    waiting: list[tuple[Hashable, str]], last_served: dict[str, int], arrival: dict[Hashable, int]
) -> list[Hashable]:
    """The order in which the waiting (job, owner) pairs will get a slot.

    Pure, so it is tested on its own: each step takes the person with the oldest turn (never served: -1, then by
    the arrival of their first waiting job) and gives their earliest waiting job the slot; that person's turn
    becomes the newest.
    """
    queues: dict[str, list[Hashable]] = {}
    for job, owner in sorted(waiting, key=lambda pair: arrival[pair[0]]):
        queues.setdefault(owner, []).append(job)
    turns = dict(last_served)
    counter = itertools.count(max(turns.values(), default=0) + 1)
    order: list[Hashable] = []
    while queues:
        owner = min(queues, key=lambda o: (turns.get(o, -1), arrival[queues[o][0]]))
        order.append(queues[owner].pop(0))
        turns[owner] = next(counter)
        if not queues[owner]:
            del queues[owner]
    return order


class FairSlots:
    """Admission for local trainings: `acquire` blocks until this job's turn and a free slot (or cancellation)."""

    def __init__(self, capacity: Callable[[], int]) -> None:
        self.capacity = capacity
        self._cond = threading.Condition()
        self._waiting: list[tuple[Hashable, str]] = []  # (job, owner)
        self._arrival: dict[Hashable, int] = {}
        self._last_served: dict[str, int] = {}
        self._ticket = itertools.count()
        self._served = itertools.count(1)
        self._running = 0

    def _order(self) -> list[Hashable]:
        return service_order(self._waiting, self._last_served, self._arrival)

    def acquire(self, job: Hashable, owner: str, cancelled: threading.Event) -> bool:
        """True once the job holds a slot; False when `cancelled` was set while it waited."""
        with self._cond:
            self._waiting.append((job, owner))
            self._arrival[job] = next(self._ticket)
            while self._order()[0] is not job or self._running >= self.capacity():
                if cancelled.is_set():
                    self._leave(job)
                    self._cond.notify_all()
                    return False
                self._cond.wait(0.2)
            self._leave(job)
            self._last_served[owner] = next(self._served)
            self._running += 1
            self._cond.notify_all()
            return True

    def _leave(self, job: Hashable) -> None:
        self._waiting = [pair for pair in self._waiting if pair[0] is not job]
        self._arrival.pop(job, None)

    def release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def position(self, job: Hashable) -> int | None:
        """1-based place in the service order, or None when not waiting."""
        with self._cond:
            order = self._order()
            for place, waiting in enumerate(order, start=1):
                if waiting is job:
                    return place
            return None

    def running(self) -> int:
        with self._cond:
            return self._running
