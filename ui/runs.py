"""Deleting all of a person's runs, with a confirmation: "Delete all my runs" (Model page) and "Delete all runs of
this person" (Class page). The store checks the right again at the click (fmnist_core.classroom.delete_all_of)."""

from __future__ import annotations

import streamlit as st

from fmnist_core import classroom, people, store
from ui.state import active_run_id, set_active_run


def _delete_all(owner: str | None, actor: people.Actor, key: str, message_key: str, done: str) -> None:
    st.session_state.pop(key, None)
    try:
        count = classroom.delete_all_of(owner, actor)
        st.session_state[message_key] = ("success", done.format(count=count, s="s" if count != 1 else ""))
        if not any(r.id == active_run_id() for r in store.list_runs(actor=actor)):
            set_active_run(store.DEFAULT_RUN_ID)  # the active model was among them
    except store.StoreError as exc:
        st.session_state[message_key] = ("error", str(exc))


def delete_all_control(
    owner: str | None,
    actor: people.Actor,
    count: int,
    *,
    key: str,
    ask: str,
    question: str,
    confirm: str,
    done: str,
    message_key: str,
) -> None:
    """The `ask` button; once pressed, `question` with `confirm` and Cancel. `done` is the success message, with
    {count} and {s} (plural) filled in; the message is shown by the page under `message_key` on the next run."""
    pending = f"_{key}_pending"
    if st.session_state.get(pending) == owner and pending in st.session_state:
        st.warning(question)
        answer = st.container(horizontal=True)
        answer.button(
            confirm,
            type="primary",
            key=f"{key}_confirm",
            on_click=_delete_all,
            args=(owner, actor, pending, message_key, done),
        )
        answer.button("Cancel", key=f"{key}_cancel", on_click=st.session_state.pop, args=(pending, None))
    elif count:
        st.button(ask, key=f"{key}_ask", on_click=st.session_state.__setitem__, args=(pending, owner))
