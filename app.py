"""Entry point of `streamlit run app.py`: the frame (ui/frame.py) routes to the pages in pages/."""

from ui.frame import run_app

run_app()
