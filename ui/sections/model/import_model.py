"""Import a model (the Model page): a .keras file is checked, evaluated on the test set and stored as a run, by
fmnist_core.runs.importer; this is its upload, name and button."""

from __future__ import annotations

import streamlit as st

from fmnist_core.data import fashion_mnist
from fmnist_core.runs import importer, paths, store
from ui.messages import say_next_run, show_pending
from ui.session import choose_run
from ui.signin import acting


def _k(key: str, name: str) -> str:
    return f"{key}.{name}"


def _import_name_problem(name: str) -> str | None:
    """Why a typed import name can't be the run's id, checked as it is typed; None when it can (or is empty)."""
    if not name:
        return None
    try:
        paths.validate_run_id(name)
    except store.StoreError:
        return f"“{name[:40]}” can't be a run id: use letters, digits, '_' and '-' only."
    if _run_exists(name):
        return f"A run named {name} exists already; choose another name."
    return None


def _run_exists(run_id: str) -> bool:
    try:
        store.get_run(run_id)
    except store.StoreError:
        return False
    return True


def import_model_widget(key: str = "import_model") -> str | None:
    """ "Import a model" for the Model page: a .keras file is checked (no code from it runs), evaluated on the
    test set and stored as a run. Returns the new run's id once imported (and offers to make it active)."""
    from fmnist_core.classroom.roster import import_blocker

    actor = acting()
    blocker = import_blocker(actor)
    st.caption(
        f"A Keras 3 .keras file of at most {importer.MAX_IMPORT_BYTES // 2**20} MB: a Sequential model of built-in "
        "layers (no Lambda, no custom classes), 28x28 grayscale input, 10 outputs. Inputs are assumed scaled to 0..1."
    )
    upload = st.file_uploader(
        "Import a model (.keras)",
        type=["keras"],
        key=_k(key, "file"),
        max_upload_size=importer.MAX_IMPORT_BYTES // 2**20,  # the browser refuses bigger files before sending them
    )
    name = st.text_input(
        "Name (optional)", key=_k(key, "name"), help="Letters, digits, '_' and '-': it becomes the run's id"
    ).strip()
    name_problem = _import_name_problem(name)
    if name_problem:
        st.error(name_problem)
    imported = st.session_state.get(_k(key, "done"))
    file_key = upload.file_id if upload is not None else None
    if imported and (imported["file"] != file_key or not _run_exists(imported["id"])):
        # A new file, no file, or the imported run deleted since: the old success no longer describes anything.
        st.session_state.pop(_k(key, "done"), None)
        imported = None
    if blocker:
        st.warning(blocker)
    if st.button(
        "Import", key=_k(key, "go"), disabled=upload is None or bool(name_problem) or bool(blocker), type="primary"
    ):
        try:
            with st.spinner("Checking the file and evaluating it on the 10,000 test images..."):
                result = importer.import_model(upload.getvalue(), name=name or None, file_name=upload.name, actor=actor)
        except (store.StoreError, fashion_mnist.DataError) as exc:
            st.error(f"**{upload.name}** was not imported: {exc}")
            return None
        imported = {
            "id": result.run_id,
            "label": result.info.label(),
            "accuracy": result.info.test_accuracy,
            "notes": list(result.notes),
            "file": file_key,
        }
        st.session_state[_k(key, "done")] = imported
    if imported:
        st.success(
            f"Imported **{imported['label']}** (id {imported['id']}): test accuracy {imported['accuracy']:.2%} on the "
            "10,000 test images."
        )
        for note in imported["notes"]:
            st.caption(note)
        show_pending(_k(key, "problem"))
        st.button("Use this model", key=_k(key, "use"), on_click=_use, args=(imported["id"], key))
        return imported["id"]
    return None


def _use(run_id: str, key: str) -> None:
    """'Use this model' callback: the run is checked again (it may have been deleted since it was imported)."""
    if problem := choose_run(run_id):
        say_next_run(_k(key, "problem"), "warning", problem)
