"""Embedding: the map of all 10,000 test images, from the model's last hidden layer projected to 2-D.

PCA is instant; t-SNE (when openTSNE is installed) takes seconds once per model and is cached. Box or lasso
selection lists the chosen images; each opens on Test images. The address carries the view:
/embedding?method=t-SNE&colour=correct opens the t-SNE map coloured by right and wrong.
"""

import streamlit as st

from ui.frame import page_frame
from ui.loaders import model_or_message, test_probabilities, test_set_or_message
from ui.sections.embedding.projection import projection
from ui.sections.embedding.test_image_map import map_section, selection_section
from ui.sections.embedding.view_controls import view_controls
from ui.session import active_run

page_frame()

st.title("Embedding")
test = test_set_or_message()
info = active_run()
if test is None or info is None or model_or_message(info) is None:
    st.stop()

method, colour = view_controls()
result = projection(info, method)
probs = test_probabilities(info.id, info.created)
chosen = map_section(info, test, probs, result, method, colour)
selection_section(test, probs, chosen)
