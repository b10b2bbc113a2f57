"""Entry point: page config, the sidebar's "Model" picker, and navigation. Pages live in pages/.

Not pages/: Streamlit treats a folder of that name as its legacy multipage app and runs a deep-linked page
without this file on a fresh server.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import streamlit as st  # noqa: E402

from ui.state import MODEL_KEY, runs  # noqa: E402

st.set_page_config(page_title="Fashion-MNIST CNN", page_icon=":material/checkroom:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", url_path="home", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/test_images.py", title="Test images", icon=":material/grid_view:", url_path="test_images"),
    st.Page("pages/feature_maps.py", title="Feature maps", icon=":material/layers:", url_path="feature_maps"),
    st.Page("pages/model.py", title="Model", icon=":material/analytics:", url_path="model"),
]
page = st.navigation(PAGES)

with st.sidebar:
    available = runs()
    labels = {r.id: r.label() for r in available}
    ids = list(labels)
    chosen = st.session_state.get(MODEL_KEY)
    if chosen is not None and chosen not in labels:
        ids.append(chosen)  # keep a deleted run selected so the page can say it is gone
        labels[chosen] = f"{chosen} (deleted)"
    if MODEL_KEY not in st.session_state and ids:
        st.session_state[MODEL_KEY] = ids[0]
    if ids:
        st.selectbox("Model", ids, key=MODEL_KEY, format_func=lambda run_id: labels.get(run_id, run_id))
    else:
        st.warning("No model yet: train one on the Train page.")

page.run()
