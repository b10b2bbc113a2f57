"""The views that help a learner understand the model, in real Chromium, light and dark, at 1400 and 800 px: suspect labels, the human figure, what the
network trains on, synthesised inputs and Predict the model. Nothing a person reads is cut; screenshots go to
test-results/layout-understanding-<view>-<scheme>-<width>.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from .harness import AppServer, choose, goto, scheme_pages, wait_for_app
from .test_layout import HEIGHT, SCHEMES, WIDTHS, cut_at_each_width

# path -> (screenshot name, the text or texts the view must show)
VIEWS = {
    "/test_images?suspect=1&image=5512": ("suspects", re.compile(r"Suspect label: labelled Ankle boot")),
    "/model": ("model", ("Human labellers", "Synthesised · Sneaker score")),
    "/feature_maps?image=0&layer=conv2d_1&channel=5": ("synth-channel", "Synthesised · mean of conv2d_1 channel 5"),
    "/train": ("trains-on", re.compile(r"^Augmentation: flip")),
    "/quiz": ("quiz", "What will the model answer?"),
}
OPEN_FIRST = {  # an expander the view lives in
    "/train": "What the network trains on",
    "/model": "What the network thinks a class looks like",
    "/feature_maps?image=0&layer=conv2d_1&channel=5": "What this channel would like to see",
}


@pytest.fixture(scope="module")
def sessions(chromium_browser: Browser) -> Iterator[dict[str, Page]]:
    """One browser session per colour scheme, shared by the module's tests."""
    with scheme_pages(chromium_browser, SCHEMES, WIDTHS[0], HEIGHT) as pages:
        yield pages


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", list(VIEWS))
def test_view_shows_and_nothing_is_cut(
    app_server: AppServer, sessions: dict[str, Page], path: str, scheme: str
) -> None:
    page = sessions[scheme]
    goto(page, app_server, path)
    name, wanted = VIEWS[path]
    if path in OPEN_FIRST:
        page.get_by_text(OPEN_FIRST[path]).click()
        wait_for_app(page, server=app_server)
    for text in wanted if isinstance(wanted, tuple) else (wanted,):
        expect(page.get_by_text(text).first).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.wait_for_timeout(800)  # plotly draws after the script run
    assert not cut_at_each_width(page, f"understanding-{name}-{scheme}")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_quiz_reveals_after_a_guess(app_server: AppServer, sessions: dict[str, Page], scheme: str) -> None:
    page = sessions[scheme]
    goto(page, app_server, "/quiz")
    expect(page.get_by_text("The model answered")).to_have_count(0)
    expect(page.get_by_role("button", name="Reveal the model's answer")).to_be_disabled()
    choose(page, "What will the model answer?", "Sneaker", server=app_server)
    page.get_by_role("button", name="Reveal the model's answer").click()
    wait_for_app(page, server=app_server)
    expect(page.get_by_text("The model answered")).to_be_visible()
    expect(page.get_by_text("Why the model decided")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.wait_for_timeout(800)
    assert not cut_at_each_width(page, f"understanding-quiz-revealed-{scheme}")
