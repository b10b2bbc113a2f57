"""Model: summary table, test loss and accuracy, confusion matrix, per-class metrics, curves, saved runs."""

import json

import streamlit as st

from fmnist_core import people
from fmnist_core.analysis.activations import channel_mosaic
from fmnist_core.analysis.suspect_labels import HUMAN_ACCURACY, HUMAN_NOTE, HUMAN_SOURCE
from fmnist_core.explain.common import conv_layers
from fmnist_core.explain.gradcam import first_layer_kernels
from fmnist_core.nets import architecture
from fmnist_core.nets.inference import confusion_matrix, cross_entropy
from fmnist_core.nets.keras_models import summary_rows, total_params
from fmnist_core.runs import metadata, paths, store
from ui.figures.curves import compare_curves, epoch_curves_pair
from ui.figures.maps import mosaic_figure
from ui.figures.network_diagram import architecture_diagram
from ui.frame import page_frame
from ui.loaders import model_or_message, test_probabilities, test_set_or_message
from ui.messages import say_next_run, show_pending
from ui.readable import readable_time, run_label
from ui.run_controls import delete_all_control
from ui.sections.model.confusion import confusion_section
from ui.sections.model.curves import comparable_runs, comparison_rows, loss_warning
from ui.sections.model.import_model import import_model_widget
from ui.sections.shared.synthesis import class_synthesis_section
from ui.session import active_run, active_run_id, kept, kept_value, runs, set_active_run
from ui.signin import acting

page_frame()
actor = acting()

PENDING_DELETE = "_model_pending_delete"
MESSAGE_KEY = "_model_page_msg"
RENAME_MSG_KEY = "_model_rename_msg"


def rename_box(info: metadata.RunInfo) -> None:
    """Give the run a readable name (the id stays its key); the name is checked as it is typed."""
    with st.popover("Rename", icon=":material/edit:"):
        typed = st.text_input(
            "Name", value=info.metadata.name or "", key=f"rename_{info.id}", max_chars=metadata.MAX_NAME
        )
        problem = None
        if typed.strip():
            try:
                metadata.check_run_name(typed)
            except store.StoreError as exc:
                problem = str(exc)
                st.error(f"That name can't be used: {problem}.")
        st.button(
            "Save name", key=f"rename_go_{info.id}", on_click=rename, args=(info.id, typed), disabled=bool(problem)
        )


def rename(run_id: str, name: str) -> None:
    try:
        renamed = store.rename_run(run_id, name.strip() or None, actor=actor)
        say_next_run(RENAME_MSG_KEY, "success", f"Run {run_id} is now called “{renamed.label()}”.")
    except store.StoreError as exc:
        say_next_run(RENAME_MSG_KEY, "error", str(exc))


st.title("Model")
show_pending(RENAME_MSG_KEY)
info = active_run()
model = model_or_message(info) if info is not None else None

if model is not None:
    meta = info.metadata
    st.subheader(info.label())
    owner = f" · by {meta.owner or 'nobody (saved before owners)'}" if actor.signed_in and not info.shipped else ""
    st.caption(
        f"Run id {info.id} · preset {meta.preset or 'n/a'} · {meta.precision or 'float32'} · "
        f"{meta.train_images or 'n/a'} training images · status {info.status}{owner}"
    )
    if not info.shipped and people.may_delete(actor, meta.owner):
        rename_box(info)
    test = test_set_or_message()
    probs = test_probabilities(info.id, info.created) if test is not None else None
    # One row that wraps in a narrow window; the human figure sits beside the model's accuracy.
    m1 = m_human = m2 = m3 = st.container(horizontal=True, gap="large")
    if probs is not None:
        predicted = probs.argmax(axis=1)
        labels = test.labels.astype(int)
        m1.metric("Test accuracy", f"{(predicted == labels).mean():.2%}", width="content")
        m_human.metric(
            "Human labellers",
            f"{HUMAN_ACCURACY:.1%}",
            width="content",
            help=f"Crowd labels agreed with the given labels this often ({HUMAN_NOTE}): {HUMAN_SOURCE}",
        )
        m2.metric("Test loss", f"{cross_entropy(probs, labels):.4f}", width="content")
    m3.metric("Parameters", f"{total_params(model):,}", width="content")
    if probs is not None:
        st.caption(
            f"Human labellers: {HUMAN_ACCURACY:.1%} agreement with the given labels ({HUMAN_NOTE}, "
            f"[source]({HUMAN_SOURCE})); the labels themselves are noisy. "
            "Test images → **Only suspect labels** lists the ones cleanlab doubts."
        )
    if meta.command:
        st.code(meta.command, language="bash")
    if unknown := meta.unknown_fields():
        st.caption(
            f"This run's file has fields this version does not know (kept, not used): unknown fields: "
            f"{', '.join(unknown)}"
        )
    rows = summary_rows(model)
    with st.expander("Architecture", expanded=True):
        # Tabs, not columns: the diagram is tall and narrow, the JSON wide; side by side the JSON was cut.
        spec = meta.spec()
        diagram_tab, spec_tab = st.tabs(["Diagram", "Spec (JSON)" if spec is not None else "Where it came from"])
        diagram_tab.graphviz_chart(architecture_diagram(model))
        if spec is not None:
            spec_tab.code(architecture.to_json(spec), language="json", wrap_lines=True)
        else:
            spec_tab.caption(f"Imported from {meta.imported_from}; inputs: {meta.input_scaling}")
    st.dataframe(
        [{"layer": r.name, "type": r.type, "output shape": str(r.output_shape), "parameters": r.params} for r in rows],
        hide_index=True,
    )
    st.markdown(f"**Total parameters: {total_params(model):,}**")
    if probs is not None:
        confusion_section(info.id, confusion_matrix(labels, predicted))
    convs = conv_layers(model)
    if convs:
        kernels = first_layer_kernels(model)
        kh, kw, count = kernels.shape
        st.markdown(
            f"**What the first layer learned**: the {count} {kh}×{kw} kernels of {convs[0]} (bright = positive weight)"
        )
        mosaic, index_map = channel_mosaic(kernels)
        st.plotly_chart(
            mosaic_figure(mosaic, index_map, None, f"{convs[0]} kernels", height=420), width="stretch", key="kernels"
        )
    else:
        st.info("This model has no conv layer, so there are no kernels to show: it sees each image as 784 numbers.")
    class_synthesis_section(info)
    history = meta.history
    d1 = d2 = d3 = st.container(horizontal=True)  # one row of whole labels that wraps in a narrow window
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
        json.dumps([row.to_dict() for row in history], indent=2),
        f"{info.id}-history.json",
        "application/json",
        on_click="ignore",
    )
    if history:
        st.markdown("**Training curves of this run**")
        st.plotly_chart(epoch_curves_pair(history), width="stretch")

st.subheader("Compare runs")
all_runs = runs()
comparable = comparable_runs(all_runs)
labels_by_id = {r.id: run_label(r) for r in comparable}
# Keep the choice across visits and deletes: drop only ids that no longer exist.
previous = kept_value("cmp_runs", None)
if previous is not None:
    st.session_state["cmp_runs"] = [run_id for run_id in previous if run_id in labels_by_id]
chosen_ids = kept(
    st.multiselect,
    "Compare runs",
    "cmp_runs",
    [r.id for r in comparable[:2]] if len(comparable) >= 2 else [],
    options=list(labels_by_id),
    format_func=lambda run_id: labels_by_id.get(run_id, run_id),
    help="Two or more runs: their test curves overlaid and their settings side by side",
)
if len(chosen_ids) >= 2:
    picked = [r for r in comparable if r.id in chosen_ids]
    a, b = st.columns(2)
    histories = {labels_by_id[r.id]: r.metadata.history for r in picked}
    a.plotly_chart(compare_curves(histories, "accuracy", "Test accuracy per epoch"), width="stretch", key="cmp_acc")
    b.plotly_chart(compare_curves(histories, "loss", "Test loss per epoch"), width="stretch", key="cmp_loss")
    if warning := loss_warning(picked):
        st.caption(warning)
    st.dataframe(
        comparison_rows(picked, labels_by_id),
        hide_index=True,
        column_config={"network": st.column_config.TextColumn(width="medium")},
    )
elif comparable:
    st.caption("Choose two or more runs to compare.")

st.subheader("Saved runs")
with st.expander("Import a model (.keras)"):
    import_model_widget()
show_pending(MESSAGE_KEY)

st.dataframe(
    [
        {
            "run": r.label(),
            # Whose it is, beside its name (with sign-in): the columns after it scroll out of view at 1400 px.
            **({"owner": "shipped" if r.shipped else (r.metadata.owner or "—")} if actor.signed_in else {}),
            "id": r.id,
            "test accuracy": None if r.test_accuracy is None else f"{r.test_accuracy:.2%}",
            "status": r.status + (f": {r.error}" if r.error else ""),
            "preset": r.preset or "—",
            "created": readable_time(r.created),
            "kind": "shipped" if r.shipped else ("active" if r.id == active_run_id() else "saved"),
        }
        for r in all_runs
    ],
    hide_index=True,
    column_config={"run": st.column_config.TextColumn(width="large")},
)


def ask_delete(run_id: str) -> None:
    st.session_state[PENDING_DELETE] = run_id


def delete(run_id: str) -> None:
    """Confirmed: delete a run; if it was active, fall back to the shipped model."""
    st.session_state.pop(PENDING_DELETE, None)
    try:
        store.delete_run(run_id, actor=actor)
        say_next_run(MESSAGE_KEY, "success", f"Deleted run {run_id}.")
        if active_run_id() == run_id:
            set_active_run(paths.DEFAULT_RUN_ID)
    except store.StoreError as exc:
        say_next_run(MESSAGE_KEY, "error", str(exc))


labels_all = {r.id: r.label() for r in all_runs}
deletable = [r.id for r in all_runs if not r.shipped and people.may_delete(actor, r.metadata.owner)]
pending = st.session_state.get(PENDING_DELETE)
if pending is not None and pending not in deletable:
    st.session_state.pop(PENDING_DELETE, None)
    pending = None
if pending is not None:
    st.warning(
        f"Delete run **{labels_all.get(pending, pending)}** (id {pending})? Its model file and metadata are removed "
        "for good."
    )
    answer = st.container(horizontal=True)
    answer.button("Yes, delete", type="primary", key="del_confirm", on_click=delete, args=(pending,))
    answer.button("Cancel", key="del_cancel", on_click=ask_delete, args=(None,))
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
    row.button("Delete…", key="del_ask", on_click=ask_delete, args=(target,))
elif actor.signed_in:
    st.caption("None of the saved runs is yours to delete; the shipped models can't be deleted.")
else:
    st.caption("No saved runs yet; the shipped models can't be deleted.")


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
