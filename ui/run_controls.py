"""Deleting all of a person's runs, with a confirmation: "Delete all my runs" (Model page) and "Delete all runs of
this person" (Class page). The question lists exactly the runs that will go, and only those go; the store checks
the right again at the click (fmnist_core.classroom.roster.delete_all_of)."""

from __future__ import annotations

import streamlit as st

from fmnist_core import people
from fmnist_core.classroom import roster
from fmnist_core.runs import metadata, paths, store
from ui.messages import say_next_run
from ui.readable import run_labels
from ui.session import active_run_id, set_active_run


def _delete_all(
    owner: str | None, actor: people.Actor, run_ids: tuple[str, ...], key: str, message_key: str, done: str
) -> None:
    st.session_state.pop(key, None)
    try:
        deleted = roster.delete_all_of(owner, actor, run_ids)
        count = len(deleted)
        message = done.format(count=count, s="s" if count != 1 else "")
        if gone := len(run_ids) - count:
            message += f" {gone} of the listed runs had already been deleted."
        say_next_run(message_key, "success", message)
        if active_run_id() in deleted:
            set_active_run(paths.DEFAULT_RUN_ID)  # the active model was among them
    except store.StoreError as exc:
        say_next_run(message_key, "error", str(exc))


def delete_all_control(
    owner: str | None,
    actor: people.Actor,
    runs: list[metadata.RunInfo],
    *,
    key: str,
    ask: str,
    question: str,
    confirm: str,
    done: str,
    message_key: str,
) -> None:
    """The `ask` button; once pressed, `question` (with {count} and {s}) and the list of the runs it will delete, with `confirm` and
    Cancel. `done` is the success message, with {count} and {s} (plural) filled in; the page shows the message on
    its next run (ui.messages.show_pending(message_key)). Only the runs listed when `ask` was pressed are deleted."""
    pending = f"_{key}_pending"
    asked = st.session_state.get(pending)
    if isinstance(asked, dict) and asked.get("owner") == owner:
        run_ids = tuple(asked["ids"])
        labels = run_labels(list(runs))
        st.warning(question.format(count=len(run_ids), s="s" if len(run_ids) != 1 else ""))
        st.text("\n".join(f"• {labels.get(run_id, f'{run_id} (deleted since)')}" for run_id in run_ids))
        answer = st.container(horizontal=True)
        answer.button(
            confirm,
            type="primary",
            key=f"{key}_confirm",
            on_click=_delete_all,
            args=(owner, actor, run_ids, pending, message_key, done),
        )
        answer.button("Cancel", key=f"{key}_cancel", on_click=st.session_state.pop, args=(pending, None))
    elif runs:
        st.button(
            ask,
            key=f"{key}_ask",
            on_click=st.session_state.__setitem__,
            args=(pending, {"owner": owner, "ids": [r.id for r in runs]}),
        )
