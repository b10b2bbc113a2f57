"""The Model page's downloads: the model as .keras and its training history as CSV and JSON."""

from __future__ import annotations

import json

import streamlit as st

from fmnist_core.runs import metadata, store


def downloads_section(info: metadata.RunInfo) -> None:
    """Three download buttons: the model file, the history as CSV and as JSON."""
    history = info.metadata.history
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
