"""Test images: the 10,000 test images with predicted vs actual labels, filters, and one image in detail.

The address carries the view (/test_images?image=110, ?actual=6&predicted=0, &wrong=1, &suspect=1), so it can
be shared, bookmarked, or opened from a confusion-matrix cell. "Only suspect labels" lists cleanlab's suspects in
their rank order (most suspect first), not by index. What matches, which image is selected and which grid page
shows is fmnist_core.analysis.browse's rule; ui.sections.test_images.browsing keeps it in the session.
"""

import streamlit as st

from ui.frame import page_frame
from ui.loaders import model_or_message, test_probabilities, test_set_or_message
from ui.sections.test_images.browsing import follow_address, write_address
from ui.sections.test_images.test_set_tab import test_set_tab
from ui.sections.test_images.your_image_tab import upload_section
from ui.session import active_run

page_frame()

st.title("Test images")
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

probs = test_probabilities(info.id, info.created)
follow_address(len(test) - 1)

tab_test, tab_upload = st.tabs(["Test set", "Your image"])
with tab_test:
    filters, view = test_set_tab(info, test, probs)
with tab_upload:
    upload_section(info, key="ti_upload")

write_address(filters, view.image)
