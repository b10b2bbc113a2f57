"""Class (teachers only): one row per person as a leaderboard, each person's runs, and deleting them all."""

import streamlit as st

from fmnist_core import people, settings
from fmnist_core.classroom import roster
from fmnist_core.runs import metadata
from ui.frame import page_frame
from ui.messages import show_pending
from ui.readable import readable_time
from ui.run_controls import delete_all_control
from ui.signin import acting

page_frame()
actor = acting()

MESSAGE_KEY = "_class_msg"
NOBODY = "nobody (saved before owners)"

st.title("Class")
try:
    rows = roster.class_rows(actor)
except people.NotAllowed as exc:
    st.info(str(exc))
    st.stop()


def shown(person: str | None) -> str:
    return person if person is not None else NOBODY


trainings = settings.trainings_per_user()
st.caption(
    f"Runs are {'shared with the whole class (read-only)' if settings.run_visibility() == 'class' else 'private'}"
    f" (FMNIST_RUN_VISIBILITY); each person may have {trainings} training{'s' if trainings != 1 else ''} running "
    f"or queued and {settings.runs_per_user()} runs. Sorted by best test accuracy; a run opens on the Model page."
)
show_pending(MESSAGE_KEY)
if not rows:
    st.info("Nobody has trained or imported a run yet.")
    st.stop()


def best_link(row: roster.PersonRow) -> str:
    best = row.best
    if best is None:
        return "—"
    label = plain(best.label()).replace("[", "(").replace("]", ")")
    return f"[{label}](/model?model={best.id})"


def plain(text: str) -> str:
    """Text for a Markdown cell, shown as typed (an email address still becomes a mailto link: handy here)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("#", "\\#").replace("*", "\\*")


# Most telling columns first: at 800 px the table scrolls sideways; the network and the quiz score come last.
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
            "quiz": "—"
            if row.quiz_score is None or row.quiz_score.rate is None
            else f"{row.quiz_score.rate:.0%} of {row.quiz_score.rounds}",
        }
        for rank, row in enumerate(rows, start=1)
    ],
    hide_index=True,
)

st.subheader("A person's runs")
by_person = {shown(row.person): row for row in rows}
chosen = st.selectbox("Person", list(by_person), key="class_person", width=420)
row = by_person[chosen]
for run_id, label in metadata.distinct_labels(list(row.runs)).items():
    st.page_link("pages/model.py", label=label, icon=":material/analytics:", query_params={"model": run_id})
if not row.runs:
    st.caption("No stored runs; a training of theirs is running or queued.")


delete_all_control(
    row.person,
    actor,
    list(row.runs),
    key="class_del",
    ask="Delete all runs of this person…",
    question="Delete these {count} run{s} of **"
    + plain(chosen).replace("{", "{{").replace("}", "}}")
    + "**? Their model files and metadata are removed for good; quiz scores and lessons stay.",
    confirm="Yes, delete them all",
    done="Deleted {count} run{s} of " + chosen.replace("{", "{{").replace("}", "}}") + ".",
    message_key=MESSAGE_KEY,
)
