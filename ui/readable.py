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
    """A run as people read it (name or preset and time, accuracy): the same text in every picker and chart."""
    return run.label()
