"""A status message for the next run: a callback (which runs before the page) or a click that reruns says what
happened, and the page shows it once where it belongs, then it is gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import streamlit as st

Kind = Literal["success", "error", "warning", "info", "toast"]  # "toast": a passing note that it worked


@dataclass(frozen=True)
class PendingMessage:
    kind: Kind
    text: str


def say_next_run(key: str, kind: Kind, text: str) -> None:
    """Keep `text` under `key` until the page's next run shows it (show_pending)."""
    st.session_state[key] = PendingMessage(kind, text)


def show_pending(key: str) -> None:
    """Show the message kept under `key`, if any, and forget it."""
    message = st.session_state.pop(key, None)
    if not isinstance(message, PendingMessage):
        return
    if message.kind == "toast":
        st.toast(message.text, icon=":material/check_circle:")
    else:
        getattr(st, message.kind)(message.text)
