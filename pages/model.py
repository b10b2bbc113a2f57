"""Model: summary table, test loss and accuracy, confusion matrix, per-class metrics, curves, saved runs."""

import json

import streamlit as st

from fmnist_core import store
from fmnist_core.activations import channel_mosaic
from fmnist_core.data import CLASS_NAMES
from fmnist_core.explain import first_layer_kernels
from fmnist_core.inference import confusion_matrix, cross_entropy, per_class_metrics
from fmnist_core.model import summary_rows, total_params
from ui.figures import compare_curves, confusion_figure, epoch_curves, mosaic_figure
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
                f"Preset {meta.preset or 'n/a'} · {meta.precision or 'float32'} · "
                f"{meta.train_images or 'n/a'} training images · status {info.status}"
            )
            if meta.command:
                st.code(meta.command, language="bash")
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
    kernels = first_layer_kernels(model)
    kh, kw, count = kernels.shape
    st.markdown(f"**What the first layer learned**: the {count} {kh}×{kw} kernels of conv2d (bright = positive weight)")
    mosaic, index_map = channel_mosaic(kernels)
    st.plotly_chart(
        mosaic_figure(mosaic, index_map, None, "conv2d kernels", height=420), width="stretch", key="kernels"
    )
    history = info.metadata.history
    d1, d2, d3 = st.columns(3)
    try:
        d1.download_button(
            "Download model (.keras)",
            data=store.model_file(info.id).read_bytes(),
            file_name=f"{info.id}.keras",
            mime="application/octet-stream",
            on_click="ignore",
        )
    except (store.StoreError, OSError) as exc:
        d1.error(f"Model file unavailable: {exc}")
    d2.download_button(
        "Download history (CSV)", store.history_csv(info), f"{info.id}-history.csv", "text/csv", on_click="ignore"
    )
    d3.download_button(
        "Download history (JSON)",
        json.dumps(history, indent=2),
        f"{info.id}-history.json",
        "application/json",
        on_click="ignore",
    )
    if history:
        st.markdown("**Training curves of this run**")
        a, b = st.columns(2)
        a.plotly_chart(epoch_curves(history, "loss", "Loss per epoch"), width="stretch")
        b.plotly_chart(epoch_curves(history, "accuracy", "Accuracy per epoch"), width="stretch")

st.subheader("Compare runs")
comparable = [r for r in runs() if r.usable and r.metadata.history]
chosen_ids = st.multiselect(
    "Compare runs",
    [r.id for r in comparable],
    default=[r.id for r in comparable[:2]] if len(comparable) >= 2 else None,
    help="Two or more runs: their test curves overlaid and their settings side by side",
)
if len(chosen_ids) >= 2:
    picked = [r for r in comparable if r.id in chosen_ids]
    a, b = st.columns(2)
    histories = {r.id: r.metadata.history for r in picked}
    a.plotly_chart(compare_curves(histories, "accuracy", "Test accuracy per epoch"), width="stretch", key="cmp_acc")
    b.plotly_chart(compare_curves(histories, "loss", "Test loss per epoch"), width="stretch", key="cmp_loss")
    st.dataframe(
        [
            {
                "run": r.id,
                "preset": r.preset,
                "epochs": len(r.metadata.history),
                "batch size": r.metadata.settings.get("batch_size"),
                "learning rate": r.metadata.settings.get("learning_rate"),
                "seed": r.metadata.settings.get("seed"),
                "training images": r.metadata.train_images,
                "test accuracy": r.test_accuracy,
                "seconds": r.metadata.seconds,
                "images/s": r.metadata.samples_per_second,
                "status": r.status,
            }
            for r in picked
        ],
        hide_index=True,
    )
elif comparable:
    st.caption("Choose two or more runs to compare.")

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
