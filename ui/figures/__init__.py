"""Figure builders, one module per family: arrays in, a plotly Figure, a picture, HTML or DOT out; no Streamlit."""
