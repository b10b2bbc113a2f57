"""Streamlit-side helpers shared by pages: cached loaders, session state, and plotly figure builders."""
