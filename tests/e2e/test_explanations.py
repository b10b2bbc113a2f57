"""The explanation panel in real Chromium, light and dark, 1400 and 800 px wide: four methods side by
side with their agreement, the randomisation grid after "Randomise the model", and the smallest flip. Nothing a
person reads is cut; screenshots go to test-results/explain-<scheme>-<width>.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from .harness import (
    REPO_ROOT,
    AppServer,
    chart_titled,
    cut_texts,
    explain_answer,
    goto,
    map_titled,
    scheme_pages,
    wait_for_app,
)

SCHEMES = ("light", "dark")
WIDTHS = (1400, 800)
HEIGHT = 9000  # px: the whole Test images page with both results open, at 800 px wide (flip images stack there)
SCREENSHOTS = REPO_ROOT / "test-results"
METHODS = ("Grad-CAM", "Saliency", "Integrated gradients", "Occlusion")


@pytest.fixture(scope="module")
def pages(chromium_browser: Browser) -> Iterator[dict[str, Page]]:
    with scheme_pages(chromium_browser, SCHEMES, WIDTHS[0], HEIGHT) as pages:
        yield pages


def screenshot(page: Page, name: str) -> None:
    tall = page.get_by_test_id("stMainBlockContainer").evaluate("(el) => el.getBoundingClientRect().bottom")
    SCREENSHOTS.mkdir(exist_ok=True)
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": min(tall + 40, HEIGHT)}
    page.screenshot(path=str(SCREENSHOTS / f"explain-{name}.png"), clip=clip)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_panel_randomisation_and_flip(app_server: AppServer, pages: dict[str, Page], scheme: str) -> None:
    page = pages[scheme]
    goto(page, app_server, "/test_images?image=0")
    explain_answer(page, app_server)
    for method in METHODS:
        expect(map_titled(page, re.compile(rf"{method} · Ankle boot\s*\(the prediction\)"))).to_have_count(1)
    expect(page.get_by_text(re.compile(r"Completeness: the attributions add up to"))).to_be_visible()
    expect(chart_titled(page, "Do they agree?")).to_be_visible()

    page.get_by_role("button", name="Randomise the model").click()
    wait_for_app(page, server=app_server)
    expect(chart_titled(page, "Maps as the model is destroyed")).to_be_visible(timeout=60_000)
    expect(chart_titled(page, "Same map as the trained model's?")).to_be_visible()
    expect(page.get_by_text(re.compile("is not explaining the model"))).to_be_visible()

    page.get_by_role("button", name="Find the smallest change").click()
    wait_for_app(page, server=app_server)
    expect(page.get_by_text(re.compile(r"^Every pixel moved by at most \d+/255"))).to_be_visible(timeout=60_000)
    expect(chart_titled(page, re.compile(r"The change, amplified ×\d+"))).to_be_visible()
    expect(chart_titled(page, "Probabilities before and after")).to_be_visible()

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_timeout(800)
        screenshot(page, f"{scheme}-{width}")
        assert not cut_texts(page, "[data-testid='stMain']"), (width, cut_texts(page, "[data-testid='stMain']"))
        for title in ("Maps as the model is destroyed", "Do they agree?"):
            box = chart_titled(page, title).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (title, width, box)
