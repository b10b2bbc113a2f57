"""What each trick buys (Train page): speedrun's recipe built up from the notebook's one trick at a time, and
taken apart one trick at a time, as measured by `python -m bench.tricks` (fmnist_core/nets/tricks_measured.json)."""

from __future__ import annotations

import streamlit as st

from fmnist_core.nets import tricks

TRICKS_KEY = "tr_tricks"


def tricks_section() -> None:
    """The measured table with one sentence per trick; a clear note when the measurement is missing."""
    with st.expander("What each trick buys", icon=":material/science:", key=TRICKS_KEY):
        st.markdown(
            "The **speedrun** preset is the notebook's recipe plus a few tricks. Each row below is a real training "
            "of 60,000 images: first the tricks are added one at a time, then the full recipe is trained with one "
            "trick left out, so you can see what each one is worth on its own."
        )
        for trick in tricks.TRICKS:
            st.markdown(f"- **{trick.title}.** {trick.sentence}")
        st.markdown(f"- {tricks.MIRROR_SENTENCE}")
        data = tricks.measured()
        if data is None:
            st.info("The measured table is missing from this installation; `python -m bench.tricks --ship` makes it.")
            return
        titles = {t.key: t.title for t in tricks.TRICKS}
        table = []
        for row in data["rows"]:
            if row["kind"] == "added":
                what = "The notebook's recipe" if not row["tricks"] else f"+ {titles.get(row['tricks'][-1], '?')}"
            else:
                what = f"All but: {titles.get(row.get('left_out'), '?')}"
            table.append(
                {
                    "recipe": what,
                    "test accuracy": f"{row['test_accuracy']:.2%}",
                    "with mirror images": "" if row.get("mirror_accuracy") is None else f"{row['mirror_accuracy']:.2%}",
                    "seconds": round(row["seconds"]),
                }
            )
        st.dataframe(table, hide_index=True, width="stretch")
        machine = data.get("machine") or {}
        st.caption(
            f"Measured once per row (one seed, so differences under about 0.3% are luck) on a "
            f"{machine.get('cores', '?')}-core {machine.get('cpu', '?')}, from the start of the training process "
            "to its final accuracy; on another computer the seconds differ, the order rarely does."
        )
