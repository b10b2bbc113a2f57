"""fmnist_core.training.queue_times: the queue played forward, worked out by hand, and the sentences it gives."""

from __future__ import annotations

from fmnist_core.training import queue_times


def test_the_wait_counts_the_queue_and_the_shared_cores() -> None:
    """Three pressed together on 2 cores, two at once, 28 s each alone: the first two share the machine and end
    together at 56 s, the third starts then and ends at 84 s (a class saw 50, 55 and 100 s with a cold worker)."""
    assert queue_times.with_queue(28, [], [], 2) == queue_times.Wait(0.0, 28.0, 0)
    assert queue_times.with_queue(28, [28], [], 2) == queue_times.Wait(0.0, 56.0, 1)
    assert queue_times.with_queue(28, [28, 28], [], 2) == queue_times.Wait(56.0, 84.0, 2)
    # Two running (5 s and 30 s left), two waiting ahead: each start follows an end.
    assert queue_times.with_queue(10, [5, 30], [20, 20], 2) == queue_times.Wait(60.0, 80.0, 4)
    assert queue_times.with_queue(10, [], [20, 20], 1) == queue_times.Wait(40.0, 50.0, 2)
    assert queue_times.wait_text(queue_times.Wait(0.0, 28.0, 0)) == "Done in about 28 s."
    assert queue_times.wait_text(queue_times.Wait(56.0, 84.0, 2)) == (
        "Starts in about 56 s (2 trainings ahead or running), done in about 84 s."
    )
    assert "Starts now" in queue_times.wait_text(queue_times.Wait(0.0, 56.0, 1))
    assert queue_times.wait_text(queue_times.Wait(0.0, 56.0, 1), running=True) == (
        "Sharing the machine with 1 other training: done in about 56 s."
    )
