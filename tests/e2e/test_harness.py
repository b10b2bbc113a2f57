"""Checks the browser harness itself (Chromium, server fixture, waits) against a tiny script, not app.py."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .harness import AppServer, goto, wait_for_app

HELLO_APP = """
import streamlit as st

st.title("hello")
value = st.slider("Amount", min_value=0, max_value=10, value=3)
st.write(f"value is {value}")
"""


@pytest.fixture(scope="module")
def app_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("harness_app") / "hello_app.py"
    script.write_text(HELLO_APP)
    return script


def test_server_environment(app_server: AppServer) -> None:
    home = Path(app_server.env["FMNIST_HOME"])
    assert home.is_dir()  # shared by the session: other modules may have saved runs in it
    assert app_server.env["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_slider_moves_with_keyboard(app_server: AppServer, app_page: Page) -> None:
    goto(app_page, app_server, "/")
    expect(app_page.get_by_test_id("stHeading")).to_have_text("hello")
    expect(app_page.get_by_text("value is 3")).to_be_visible()

    app_page.get_by_role("slider").focus()
    app_page.keyboard.press("ArrowRight")
    wait_for_app(app_page)

    expect(app_page.get_by_text("value is 4")).to_be_visible()
    expect(app_page.get_by_test_id("stSliderThumbValue")).to_have_text("4")
