"""Every page's deep link as the very first request of a fresh server: the real app (sidebar, page titles in
the navigation, the page's own heading) and no "Page not found" notice.

Streamlit 1.67 runs a server's first request in its legacy multipage mode when a pages/ folder exists; the
frame (ui/frame.py) must turn that pass into the real app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from bench.browser import start_server, stop_server

from .harness import REPO_ROOT, wait_for_app

DEEP_LINKS = {
    "/train": "Train",
    "/test_images?image=110": "Test images",
    "/feature_maps?image=0&layer=conv2d&channel=1": "Feature maps",
    "/model": "Model",
    "/embedding": "Embedding",
    "/quiz": "Predict the model",
    "/": "Fashion-MNIST CNN dashboard",
}
NAV_TITLES = ["Home", "Train", "Test images", "Feature maps", "Model", "Embedding", "Predict the model"]


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[str]:
    process, url, _ = start_server(REPO_ROOT / "app.py", env={"FMNIST_HOME": str(tmp_path)}, log_path=tmp_path / "log")
    try:
        yield url
    finally:
        stop_server(process)


@pytest.mark.parametrize("path", list(DEEP_LINKS))
def test_deep_link_as_first_request(fresh_server: str, chromium_browser: Browser, path: str) -> None:
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(fresh_server + path)
        wait_for_app(page)
        expect(page.get_by_role("heading", level=1)).to_have_text(DEEP_LINKS[path])
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("combobox", name="Model")).to_be_visible()
        nav = page.get_by_test_id("stSidebarNav")
        for title in NAV_TITLES:
            expect(nav.get_by_text(title, exact=True)).to_be_visible()
        expect(page).to_have_title("Fashion-MNIST CNN")
        # The legacy pass sends its "Page not found" notice during the first script run, and wait_for_app waited
        # for that run to finish, so a notice would be on the page by now.
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        assert page.url.startswith(fresh_server + path.split("?")[0]), page.url
    finally:
        context.close()
