"""The Model page's saved runs: importing a .keras file, the table of every run, deleting one run (asked first) and,
with sign-in, deleting all of one's own."""

from __future__ import annotations

import streamlit as st

from fmnist_core import people
from fmnist_core.runs import metadata, paths, store
from ui.messages import say_next_run, show_pending
from ui.readable import readable_time
from ui.run_controls import delete_all_control
from ui.sections.model.import_model import import_model_widget
from ui.session import active_run_id, set_active_run

PENDING_DELETE = "_model_pending_delete"
MESSAGE_KEY = "_model_page_msg"


def saved_runs_section(all_runs: list[metadata.RunInfo], actor: people.Actor) -> None:
    """Import, what happened at the last click, the table, then the delete controls."""
    st.subheader("Saved runs")
    with st.expander("Import a model (.keras)"):
        import_model_widget()
    show_pending(MESSAGE_KEY)
    runs_table(all_runs, actor)
    delete_one_control(all_runs, actor)
    if actor.signed_in:  # a reset for the next exercise; without sign-in there is no "my"
        mine = [r for r in all_runs if not r.shipped and r.metadata.owner == actor.id]
        delete_all_control(
            actor.id,
            actor,
            mine,
            key="del_mine",
            ask="Delete all my runs…",
            question="Delete these {count} run{s} of yours? Their model files and metadata are removed for good; "
            "the shipped models stay.",
            confirm="Yes, delete all my runs",
            done="Deleted your {count} run{s}.",
            message_key=MESSAGE_KEY,
        )


def runs_table(all_runs: list[metadata.RunInfo], actor: people.Actor) -> None:
    """One row per run: (with sign-in, whose it is,) its label, id, accuracy, status, preset, time, kind."""
    st.dataframe(
        [
            {
                # Whose it is, first (with sign-in): after the run column it was cut at 800 px.
                **({"owner": "shipped" if r.shipped else (r.metadata.owner or "—")} if actor.signed_in else {}),
                "run": r.label(),
                "id": r.id,
                "test accuracy": None if r.test_accuracy is None else f"{r.test_accuracy:.2%}",
                "status": r.status + (f": {r.error}" if r.error else ""),
                "preset": r.preset or "—",
                "created": readable_time(r.created),
                "kind": "shipped" if r.shipped else ("active" if r.id == active_run_id() else "saved"),
            }
            for r in all_runs
        ],
        hide_index=True,  # every column sized to its content: a fixed wide run column pushed the rest out of view
    )


def delete_one_control(all_runs: list[metadata.RunInfo], actor: people.Actor) -> None:
    """The "Run to delete" box and Delete…, then the question with Yes, delete and Cancel; shipped runs and other
    people's runs are not offered (and the store refuses them anyway)."""
    labels_all = metadata.distinct_labels(all_runs)
    deletable = [r.id for r in all_runs if not r.shipped and people.may_delete(actor, r.metadata.owner)]
    pending = st.session_state.get(PENDING_DELETE)
    if pending is not None and pending not in deletable:
        st.session_state.pop(PENDING_DELETE, None)
        pending = None
    if pending is not None:
        st.warning(
            f"Delete run **{labels_all.get(pending, pending)}** (id {pending})? Its model file and metadata are "
            "removed for good."
        )
        answer = st.container(horizontal=True)
        answer.button("Yes, delete", type="primary", key="del_confirm", on_click=_delete, args=(pending, actor))
        answer.button("Cancel", key="del_cancel", on_click=_ask_delete, args=(None,))
    elif deletable:
        row = st.container(horizontal=True, vertical_alignment="bottom")  # wraps rather than cuts at 800 px
        target = row.selectbox(
            "Run to delete",
            deletable,
            key="del_target",
            format_func=lambda run_id: labels_all.get(run_id, run_id),
            help="Shipped models can't be deleted",
            width=320,
        )
        row.button("Delete…", key="del_ask", on_click=_ask_delete, args=(target,))
    elif actor.signed_in:
        st.caption("None of the saved runs is yours to delete; the shipped models can't be deleted.")
    else:
        st.caption("No saved runs yet; the shipped models can't be deleted.")


def _ask_delete(run_id: str | None) -> None:
    st.session_state[PENDING_DELETE] = run_id


def _delete(run_id: str, actor: people.Actor) -> None:
    """Confirmed: delete a run; if it was active, fall back to the shipped model."""
    st.session_state.pop(PENDING_DELETE, None)
    try:
        store.delete_run(run_id, actor=actor)
        say_next_run(MESSAGE_KEY, "success", f"Deleted run {run_id}.")
        if active_run_id() == run_id:
            set_active_run(paths.DEFAULT_RUN_ID)
    except store.StoreError as exc:
        say_next_run(MESSAGE_KEY, "error", str(exc))
