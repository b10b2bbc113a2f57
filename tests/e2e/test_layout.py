"""Layout in real Chromium at 800 and 1400 px wide, light and dark (issue 19, items 5 and 6): nothing a person reads
is cut, the custom network editor after a training, the exemplars grid.

One server for the module. One browser session per colour scheme opens each page once at 1400 px and is then
narrowed to 800 px (set_viewport_size), so a page is loaded once per scheme. The windows are tall enough for whole
pages, so a screenshot needs no resizing (each resize redraws every chart); they go to
test-results/layout-<page>-<scheme>-<width>.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from fmnist_core.data import CLASS_NAMES, load_test_set

from .harness import REPO_ROOT, AppServer, choose, cut_texts, goto, wait_for_app

WIDTHS = (1400, 800)
SCHEMES = ("light", "dark")
HEIGHT = 4800  # px: the longest page at 800 px wide, so a screenshot shows it whole
TRAIN_TIMEOUT = 240_000
SCREENSHOTS = REPO_ROOT / "test-results"
PAGES = {
    "/": "home",
    "/train": "train",
    "/test_images?image=0": "test_images",
    "/feature_maps?image=0&layer=conv2d&channel=1": "feature_maps",
    "/model": "model",
    "/embedding?method=PCA&colour=actual": "embedding",
}
FEATURE_MAPS = "/feature_maps?image=0&layer=conv2d&channel=1"


@pytest.fixture(scope="module")
def sessions(chromium_browser: Browser) -> Iterator[dict[str, Page]]:
    """One browser session per colour scheme, shared by the module's tests."""
    contexts = {
        scheme: chromium_browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT}, color_scheme=scheme)
        for scheme in SCHEMES
    }
    try:
        yield {scheme: context.new_page() for scheme, context in contexts.items()}
    finally:
        for context in contexts.values():
            context.close()


def at_width(page: Page, width: int) -> None:
    """Resize the window; Streamlit lays out again and plotly redraws its charts to their new size."""
    if page.viewport_size["width"] != width:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_timeout(600)


def screenshot(page: Page, name: str) -> None:
    """The page down to the end of its content (Streamlit scrolls inside its main block, not the document)."""
    tall = page.get_by_test_id("stMainBlockContainer").evaluate("(el) => el.getBoundingClientRect().bottom")
    SCREENSHOTS.mkdir(exist_ok=True)
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": min(tall + 40, HEIGHT)}
    page.screenshot(path=str(SCREENSHOTS / f"layout-{name}.png"), clip=clip)


def cut_at_each_width(page: Page, name: str, within: str = "[data-testid='stApp']") -> dict[int, list[str]]:
    """What reads cut at each width (none is {}), with a screenshot at each."""
    cut = {}
    for width in WIDTHS:
        at_width(page, width)
        screenshot(page, f"{name}-{width}")
        if found := cut_texts(page, within):
            cut[width] = found
    return cut


# --- item 6: every page, 800 and 1400 px, light and dark ---------------------------------------------------
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", list(PAGES))
def test_no_label_or_metric_is_cut(app_server: AppServer, sessions: dict[str, Page], path: str, scheme: str) -> None:
    page = sessions[scheme]
    goto(page, app_server, path)
    page.wait_for_timeout(1000)  # plotly draws after the script run
    assert not cut_at_each_width(page, f"{PAGES[path]}-{scheme}")


def test_each_exemplar_has_its_title_and_link_under_its_image(app_server: AppServer, sessions: dict[str, Page]) -> None:
    page = sessions["light"]
    goto(page, app_server, FEATURE_MAPS)
    labels = load_test_set().labels
    links = page.get_by_role("link", name=re.compile(r"^#\d+$"))
    expect(links).to_have_count(9)
    # Each exemplar's title names its class and value ("Pullover · 0.323"), in the order of the links.
    titles = page.locator(".annotation-text, [data-testid='stCaptionContainer']").filter(
        has_text=re.compile(r" · \d\.\d{3}$")
    )
    expect(titles).to_have_count(9)
    for k in range(9):
        index = int(links.nth(k).inner_text().strip()[1:])
        expect(titles.nth(k)).to_contain_text(CLASS_NAMES[int(labels[index])])
    for width in WIDTHS:
        at_width(page, width)
        boxes = [titles.nth(k).bounding_box() for k in range(9)]
        for k, box in enumerate(boxes):
            for other in boxes[k + 1 :]:
                apart = (
                    box["x"] + box["width"] <= other["x"] + 1
                    or other["x"] + other["width"] <= box["x"] + 1
                    or box["y"] + box["height"] <= other["y"] + 1
                    or other["y"] + other["height"] <= box["y"] + 1
                )
                assert apart, f"at {width} px the titles {titles.nth(k).inner_text()!r} and another overlap"
        for k, title in enumerate(boxes):
            link = links.nth(k).bounding_box()
            centre = link["x"] + link["width"] / 2
            assert title["x"] - 1 <= centre <= title["x"] + max(title["width"], 60) + 1, (width, k, title, link)
            # Within its own card: below its title, before the next row of images.
            assert 0 <= link["y"] - title["y"] <= 120, (width, k, title, link)


# --- item 5: the custom network editor, before and after a training ----------------------------------------
def test_custom_editor_reads_whole_and_keeps_its_spec_after_training(
    app_server: AppServer, chromium_browser: Browser
) -> None:
    context = chromium_browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT})
    page = context.new_page()
    try:
        goto(page, app_server, "/train")
        choose(page, "Preset", re.compile(r"^custom"), server=app_server)
        spec_box = page.get_by_role("textbox", name="Spec (JSON)")
        network = json.loads(spec_box.input_value())
        assert len(network["conv"]) == 2
        assert not cut_at_each_width(page, "train-custom")

        at_width(page, WIDTHS[0])
        for label, value in (("Training images", 600), ("Epochs", 1)):
            field_ = page.get_by_label(label, exact=True)
            field_.fill(str(value))
            field_.press("Enter")
            wait_for_app(page, server=app_server)
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_text("Training finished.", exact=True)).to_be_visible(timeout=TRAIN_TIMEOUT)
        wait_for_app(page, server=app_server)

        expect(spec_box).not_to_have_value("")
        assert json.loads(spec_box.input_value()) == network
        kernels = page.get_by_role("combobox", name="Kernel")
        expect(kernels).to_have_count(2)
        expect(kernels.first).to_have_value("3x3")
        assert not cut_at_each_width(page, "train-custom-after")
    finally:
        context.close()
