"""Train: pick a preset and settings, press Train, watch it learn live, stop any time.

The job lives in this browser session's state and trains in a worker process (or on a Ray cluster); a fragment
polls its snapshot once a second, so the page stays responsive and training survives visits to other pages.
"""

import streamlit as st

from fmnist_core.training.jobs import warm_up
from ui.frame import page_frame
from ui.messages import show_pending
from ui.sections.train.settings_form import running_settings, settings_form
from ui.sections.train.training_job import TOAST_KEY, current_job, live_view_section, train_button
from ui.sections.train.trains_on import trains_on_section
from ui.sections.train.tricks_table import tricks_section
from ui.sections.train.watch_it_learn import watch_section
from ui.signin import acting

page_frame()
actor = acting()
warm_up()  # workers with TensorFlow and the data loaded wait for this page's Train click (ended when unused)

st.title("Train")
show_pending(TOAST_KEY)
job = current_job()
busy = job is not None and not job.finished
if busy:
    running_settings(job.config)
    preset, seed = job.config.preset, int(job.config.seed)
else:
    preset, seed = settings_form()
trains_on_section(preset, seed)
tricks_section()
train_button(actor, busy)
live_view_section()
job = current_job()
watch_section(job.snapshot() if job is not None else None)
