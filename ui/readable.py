"""How runs and times read to people: the same text in every picker, table and chart."""

from __future__ import annotations

from fmnist_core.runs import metadata


def readable_time(stamp: str | None) -> str:
    """An ISO timestamp as people read it ('2026-11-28 13:45 UTC'); '—' when absent or unparseable."""
    from datetime import datetime

    if not stamp:
        return "—"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    zone = " UTC" if when.utcoffset() is not None and when.utcoffset().total_seconds() == 0 else ""
    return f"{when:%Y-%m-%d %H:%M}{zone}"


def run_label(run: metadata.RunInfo) -> str:
    """A run as people read it (name or preset and time, accuracy): the same text in every picker and chart. With
    sign-in the owner's short name comes first: a class's runs of one preset otherwise read alike."""
    from ui.signin import acting

    return run.label(with_owner=acting().signed_in)


def run_labels(runs: list[metadata.RunInfo]) -> dict[str, str]:
    """Labels of the runs a list shows, by id, as run_label gives them; equal ones carry the end of their id."""
    from ui.signin import acting

    return metadata.distinct_labels(runs, with_owner=acting().signed_in)


def mine_first(runs: list[metadata.RunInfo]) -> list[metadata.RunInfo]:
    """With sign-in, the person's own runs first (newest first), then the shipped models, then everyone else's;
    without it, the order as given."""
    from ui.signin import acting

    actor = acting()
    if not actor.signed_in:
        return runs
    mine = [r for r in runs if not r.shipped and r.metadata.owner == actor.id]
    shipped = [r for r in runs if r.shipped]
    return mine + shipped + [r for r in runs if not r.shipped and r.metadata.owner != actor.id]
