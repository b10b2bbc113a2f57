"""Our own scripts for Streamlit v2 components (the Embedding map, the confusion matrix): one JavaScript module
each in this folder, with the shared helpers of script_helpers.js put in front. Constant files of this repository;
nothing a person brings is ever part of them."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("embedding_map.js", "confusion_grid.js")


def component_script(name: str) -> str:
    """The module for one component: the helpers, then the component's own file."""
    if name not in SCRIPTS:
        raise ValueError(f"no component script {name!r}")
    return (HERE / "script_helpers.js").read_text() + "\n" + (HERE / name).read_text()
