"""A class on one server: the teacher's view (one row per person), deleting all of a person's runs, and the
sentence that says why a person cannot import now. The rules themselves are in fmnist_core.people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fmnist_core import people
from fmnist_core.analysis import quiz
from fmnist_core.nets import architecture
from fmnist_core.runs import metadata, store
from fmnist_core.training import jobs


@dataclass(frozen=True)
class PersonRow:
    """One person on the Class page: their runs (newest first), best run, trainings now, last activity."""

    person: str | None  # None: runs saved before runs had owners
    runs: tuple[metadata.RunInfo, ...] = field(default_factory=tuple)
    trainings: int = 0
    last_activity: str | None = None  # ISO time: their newest run or last training start
    quiz_score: quiz.Score | None = None  # their "predict the model" score, when they have played

    @property
    def best(self) -> metadata.RunInfo | None:
        scored = [r for r in self.runs if r.usable and r.test_accuracy is not None]
        return max(scored, key=lambda r: (r.test_accuracy, r.created or "")) if scored else None

    @property
    def best_accuracy(self) -> float | None:
        best = self.best
        return None if best is None else best.test_accuracy

    def network(self) -> str:
        """The best run's network in one line, with its parameter count."""
        best = self.best
        if best is None:
            return "—"
        spec = best.metadata.spec()
        line = architecture.summary_line(spec) if spec is not None else "imported"
        params = best.metadata.params
        return f"{line} ({params:,} parameters)" if params else line


def class_rows(actor: people.Actor, home: Path | None = None) -> list[PersonRow]:
    """Every person with runs or trainings in this server, as a leaderboard: best test accuracy first (people
    without a scored run last, by name). people.NotAllowed for anyone but a teacher."""
    people.check_class_view(actor)
    by_owner: dict[str | None, list[metadata.RunInfo]] = {}
    for run in store.list_runs(home, include_shipped=False):
        by_owner.setdefault(run.metadata.owner, []).append(run)
    active = jobs.active_trainings()
    starts = jobs.last_starts()
    scores = quiz.all_scores(home)
    rows = []
    for owner in set(by_owner) | set(active) | set(scores):
        runs = tuple(by_owner.get(owner, ()))
        times = [r.created for r in runs if r.created]
        if owner in starts:
            times.append(datetime.fromtimestamp(starts[owner], UTC).isoformat(timespec="seconds"))
        rows.append(
            PersonRow(
                person=owner,
                runs=runs,
                trainings=active.get(owner, 0) if owner is not None else 0,
                last_activity=max(times, key=_instant) if times else None,
                quiz_score=scores.get(owner) if owner is not None else None,
            )
        )
    rows.sort(key=lambda row: (row.best_accuracy is None, -(row.best_accuracy or 0.0), row.person or "~"))
    return rows


def _instant(stamp: str) -> datetime:
    """An ISO time as an aware datetime (times written without a zone are UTC), for comparing."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def runs_of(owner: str | None, home: Path | None = None) -> list[metadata.RunInfo]:
    """Every saved run of `owner` (None: the runs without one), newest first: what "delete all" would delete."""
    return [r for r in store.list_runs(home, include_shipped=False) if r.metadata.owner == owner]


def delete_all_of(
    owner: str | None, actor: people.Actor, run_ids: Iterable[str], home: Path | None = None
) -> list[str]:
    """Delete exactly the runs `run_ids` of `owner` that the person confirmed; returns the ids that went.

    Only runs still owned by `owner` go (one made after the question was asked is not among the ids; one already
    gone is skipped). Each goes through store.delete_run, so the same rule refuses a student deleting someone
    else's runs (StoreError on the first refusal, nothing of that person deleted).
    """
    wanted = set(run_ids)
    mine = [r for r in runs_of(owner, home) if r.id in wanted]
    if mine and not people.may_delete(actor, owner):
        store.delete_run(mine[0].id, home, actor=actor)  # raises the store's own sentence
    deleted = []
    for run in mine:
        store.delete_run(run.id, home, actor=actor)
        deleted.append(run.id)
    return deleted


def import_blocker(actor: people.Actor, home: Path | None = None) -> str | None:
    """Why this person cannot import a model now (the runs limit), or None; the store refuses it too."""
    if not actor.signed_in:
        return None
    runs = store.list_runs(home, include_shipped=False)
    coming = jobs.active_trainings().get(actor.id, 0)
    try:
        people.check_new_run(actor, people.owned_by((r.metadata.owner for r in runs), actor) + coming)
    except people.LimitReached as exc:
        return str(exc)
    return None
