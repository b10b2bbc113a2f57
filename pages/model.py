"""Model: summary table, test loss and accuracy, confusion matrix, per-class metrics, curves, saved runs."""

import streamlit as st

from fmnist_core import store
from fmnist_core.data import CLASS_NAMES
from fmnist_core.inference import confusion_matrix, cross_entropy, per_class_metrics
from fmnist_core.model import summary_rows, total_params
from ui.figures import confusion_figure, epoch_curves
from ui.state import active_run, active_run_id, model_or_message, runs, test_probabilities, test_set_or_message

st.title("Model")
info = active_run()
model = model_or_message(info) if info is not None else None

if model is not None:
    st.subheader(f"{info.id}")
    rows = summary_rows(model)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.dataframe(
            [
                {"layer": r.name, "type": r.type, "output shape": str(r.output_shape), "parameters": r.params}
                for r in rows
            ],
            hide_index=True,
        )
        st.markdown(f"**Total parameters: {total_params(model):,}**")
    test = test_set_or_message()
    if test is not None:
        probs = test_probabilities(info.id, info.created)
        predicted = probs.argmax(axis=1)
        labels = test.labels.astype(int)
        with right:
            c1, c2 = st.columns(2)
            c1.metric("Test accuracy", f"{(predicted == labels).mean():.2%}")
            c2.metric("Test loss", f"{cross_entropy(probs, labels):.4f}")
            meta = info.metadata
            st.caption(
                f"Preset {meta.get('preset', 'n/a')} · {meta.get('precision', 'float32')} · "
                f"{meta.get('train_images', 'n/a')} training images · status {info.status}"
            )
            if meta.get("command"):
                st.code(meta["command"], language="bash")
        matrix = confusion_matrix(labels, predicted)
        cm, metrics = st.columns([3, 2], gap="large")
        cm.plotly_chart(confusion_figure(matrix, CLASS_NAMES), width="stretch")
        with metrics:
            st.markdown("**Per-class metrics**")
            st.dataframe(
                per_class_metrics(matrix),
                hide_index=True,
                column_config={
                    "precision": st.column_config.NumberColumn(format="%.3f"),
                    "recall": st.column_config.NumberColumn(format="%.3f"),
                    "f1": st.column_config.NumberColumn(format="%.3f"),
                },
            )
    history = info.metadata.get("history") or []
    if history:
        st.markdown("**Training curves of this run**")
        a, b = st.columns(2)
        a.plotly_chart(epoch_curves(history, "loss", "Loss per epoch"), width="stretch")
        b.plotly_chart(epoch_curves(history, "accuracy", "Accuracy per epoch"), width="stretch")

st.subheader("Saved runs")


def delete(run_id: str) -> None:
    """Button callback: delete a run; if it was active, fall back to the shipped model."""
    try:
        store.delete_run(run_id)
        st.session_state["_model_page_msg"] = ("success", f"Deleted run {run_id}.")
        if active_run_id() == run_id:
            st.session_state["model_id"] = store.DEFAULT_RUN_ID
    except store.StoreError as exc:
        st.session_state["_model_page_msg"] = ("error", str(exc))


message = st.session_state.pop("_model_page_msg", None)
if message:
    getattr(st, message[0])(message[1])

for run in runs():
    cols = st.columns([4, 2, 2, 2, 1])
    cols[0].markdown(f"**{run.id}**" + (" (active)" if run.id == active_run_id() else ""))
    cols[1].write(f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "—")
    cols[2].write(run.status + (f": {run.error}" if run.error else ""))
    cols[3].write(run.created or "—")
    if run.shipped:
        cols[4].caption("shipped")
    else:
        cols[4].button("Delete", key=f"del_{run.id}", on_click=delete, args=(run.id,))
