"""Class (teachers only): one row per person as a leaderboard, each person's runs, and deleting them all."""

import streamlit as st

from fmnist_core import classroom, people, settings, store
from ui.frame import page_frame
from ui.signin import acting
from ui.state import active_run_id, readable_time, set_active_run

page_frame()
actor = acting()

PENDING_KEY = "_class_pending_delete"
MESSAGE_KEY = "_class_msg"
NOBODY = "nobody (saved before owners)"

st.title("Class")
try:
    rows = classroom.class_rows(actor)
except people.NotAllowed as exc:
    st.info(str(exc))
    st.stop()


def shown(person: str | None) -> str:
    return person if person is not None else NOBODY


st.caption(
    f"Runs are {'shared with the whole class (read-only)' if settings.run_visibility() == 'class' else 'private'}"
    f" (FMNIST_RUN_VISIBILITY); each person may have {settings.trainings_per_user()} training(s) running or queued "
    f"and {settings.runs_per_user()} runs. Sorted by best test accuracy."
)
if message := st.session_state.pop(MESSAGE_KEY, None):
    getattr(st, message[0])(message[1])
if not rows:
    st.info("Nobody has trained or imported a run yet.")
    st.stop()


def best_link(row: classroom.PersonRow) -> str:
    best = row.best
    if best is None:
        return "—"
    label = plain(best.label()).replace("[", "(").replace("]", ")")
    return f"[{label}](/model?model={best.id})"


def plain(text: str) -> str:
    """Text for a Markdown cell, shown as typed: no link made of an email address, no heading or table syntax."""
    return text.replace("\\", "\\\\").replace("@", "\\@").replace("|", "\\|").replace("#", "\\#")


# Most telling columns first: at 800 px the table scrolls sideways and the network comes last.
st.table(
    [
        {
            "rank": rank,
            "person": plain(shown(row.person)),
            "best test accuracy": "—" if row.best_accuracy is None else f"{row.best_accuracy:.2%}",
            "runs": len(row.runs),
            "training now": row.trainings,
            "last activity": readable_time(row.last_activity),
            "best run": best_link(row),
            "network": row.network(),
        }
        for rank, row in enumerate(rows, start=1)
    ],
    hide_index=True,
)

st.subheader("A person's runs")
by_person = {shown(row.person): row for row in rows}
chosen = st.selectbox("Person", list(by_person), key="class_person", width=420)
row = by_person[chosen]
for run in row.runs:
    st.page_link("pages/model.py", label=run.label(), icon=":material/analytics:", query_params={"model": run.id})
if not row.runs:
    st.caption("No stored runs; a training of theirs is running or queued.")


def delete_all(owner: str | None, confirmed: bool) -> None:
    """First click asks; the confirmed one deletes through the store, which checks the teacher's right again."""
    if not confirmed:
        st.session_state[PENDING_KEY] = shown(owner)
        return
    st.session_state.pop(PENDING_KEY, None)
    try:
        count = classroom.delete_all_of(owner, actor)
        st.session_state[MESSAGE_KEY] = (
            "success",
            f"Deleted {count} run{'s' if count != 1 else ''} of {shown(owner)}.",
        )
        if any(r.id == active_run_id() for r in row.runs):
            set_active_run(store.DEFAULT_RUN_ID)
    except store.StoreError as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))


if row.runs:
    if st.session_state.get(PENDING_KEY) == chosen:
        st.warning(
            f"Delete all {len(row.runs)} runs of **{chosen}**? Their model files and metadata are removed for good."
        )
        answer = st.container(horizontal=True)
        answer.button(
            "Yes, delete them all",
            type="primary",
            key="class_del_confirm",
            on_click=delete_all,
            args=(row.person, True),
        )
        answer.button("Cancel", key="class_del_cancel", on_click=st.session_state.pop, args=(PENDING_KEY, None))
    else:
        st.button("Delete all runs of this person…", key="class_del_ask", on_click=delete_all, args=(row.person, False))
