"""When a training would start and end behind the server's other trainings: the queue played forward.

The Train page says it before the click ("Starts in about 56 s (2 trainings ahead or running), done in about
84 s."), a queued training in its panel, and a running one while others share the machine with it. Each
training's seconds alone come from fmnist_core.training.estimate; which trainings run and wait, from
fmnist_core.training.jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fmnist_core.training.estimate import duration_text


@dataclass(frozen=True)
class Wait:
    """When a training would start and end if started now, counting the trainings ahead of it (seconds from now)."""

    start_seconds: float
    done_seconds: float
    ahead: int  # trainings running or waiting before it


def play_queue(running: Iterable[float], waiting: Iterable[float], capacity: int) -> list[tuple[float, float]]:
    """(start, end) in seconds from now of every training: those `running` (seconds each still needs alone), then
    those `waiting` (seconds each, in the order they will start), at most `capacity` at once.

    Trainings running together share the machine's cores, each at 1/n of its speed alone (on 2 cores a lone
    training already keeps both busy: three pressed together took about 2x, 2x and 3x a lone one's time). The
    queue is played forward: whenever one ends, the next starts.
    """
    needs = [max(0.0, r) for r in running]
    slots = list(range(len(needs)))  # indexes of the trainings running now
    queue = [max(0.0, w) for w in waiting]
    pending = list(range(len(needs), len(needs) + len(queue)))
    needs += queue
    times = [(0.0, 0.0)] * len(needs)
    left = list(needs)
    now, capacity = 0.0, max(1, capacity)
    while slots or pending:
        while len(slots) < capacity and pending:
            index = pending.pop(0)
            slots.append(index)
            times[index] = (now, now)
        shortest = min(left[i] for i in slots)
        now += shortest * len(slots)
        for i in slots:
            left[i] -= shortest
        for i in [i for i in slots if left[i] <= 1e-9]:
            times[i] = (times[i][0], now)
            slots.remove(i)
    return times


def with_queue(alone_seconds: float, running: Iterable[float], waiting: Iterable[float], capacity: int) -> Wait:
    """Start and end of a new training behind the server's other trainings (play_queue, the new one last)."""
    running, waiting = list(running), list(waiting)
    start, end = play_queue(running, [*waiting, alone_seconds], capacity)[-1]
    return Wait(start, end, len(running) + len(waiting))


def wait_text(wait: Wait, running: bool = False) -> str:
    """The wait in a sentence: 'Starts in about 56 s (2 trainings ahead or running), done in about 84 s.'; for a
    training already `running`, how many share the machine with it and when it should end."""
    done = duration_text(wait.done_seconds)
    if wait.ahead == 0:
        return f"Done in about {done}."
    if running:
        return f"Sharing the machine with {wait.ahead} other training{'s' if wait.ahead != 1 else ''}: done in about {done}."
    others = f"{wait.ahead} training{'s' if wait.ahead != 1 else ''} ahead or running"
    if wait.start_seconds < 1:
        return f"Starts now, sharing the machine with {others}: done in about {done}."
    return f"Starts in about {duration_text(wait.start_seconds)} ({others}), done in about {done}."
