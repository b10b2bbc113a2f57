"""Model: summary table, test loss and accuracy, confusion matrix, per-class metrics, curves, saved runs."""

import streamlit as st

from fmnist_core.nets.inference import confusion_matrix
from ui.frame import page_frame
from ui.loaders import model_or_message
from ui.messages import show_pending
from ui.sections.model.confusion import confusion_section
from ui.sections.model.curves import compare_runs_section, training_curves_section
from ui.sections.model.downloads import downloads_section
from ui.sections.model.network import architecture_section, kernels_section
from ui.sections.model.saved_runs import saved_runs_section
from ui.sections.model.summary import RENAME_MSG_KEY, header_section, provenance_notes, scores_section
from ui.sections.shared.synthesis import class_synthesis_section
from ui.session import active_run, runs
from ui.signin import acting

page_frame()
actor = acting()

st.title("Model")
show_pending(RENAME_MSG_KEY)
info = active_run()
model = model_or_message(info) if info is not None else None

if model is not None:
    header_section(info, actor)
    scored = scores_section(info, model)
    provenance_notes(info.metadata)
    architecture_section(info, model)
    if scored is not None:
        confusion_section(info.id, confusion_matrix(scored.labels, scored.predicted))
    kernels_section(model)
    class_synthesis_section(info)
    downloads_section(info)
    training_curves_section(info)

all_runs = runs()
compare_runs_section(all_runs)
saved_runs_section(all_runs, actor)
