"""What a person stumbles on, tried the way it was found: one browser session moving between images and
pages on the real server, in Chromium (the checks at 800 and 1400 pixels wide are in test_layout.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from fmnist_core.data.fashion_mnist import CLASS_NAMES, load_test_set
from fmnist_core.runs import paths, store

from .harness import (
    AppServer,
    choose,
    click_plotly_point,
    explain_answer,
    go_by_nav,
    goto,
    map_titled,
    overflows,
    png_of,
    wait_for_app,
)

TRAIN_TIMEOUT = 240_000


@pytest.fixture(scope="module")
def predicted() -> np.ndarray:
    """The shipped default model's predictions for the 10,000 test images, computed outside the app."""
    from fmnist_core.nets.inference import predict_proba

    return predict_proba(store.load_model(paths.DEFAULT_RUN_ID), load_test_set().images).argmax(axis=1)


def explain_box(page: Page):
    return page.get_by_role("combobox", name="Explain class")


def test_the_why_panel_explains_the_image_on_screen(app_server: AppServer, app_page: Page, predicted) -> None:
    page = app_page
    goto(page, app_server, "/test_images?image=0")
    explain_answer(page, app_server)
    expect(explain_box(page).first).to_have_value(f"{CLASS_NAMES[predicted[0]]} (predicted)")
    choose(page, "Explain class", "Coat", server=app_server)
    expect(map_titled(page, re.compile(r"Grad-CAM · Coat\s*\(not the prediction\)"))).to_be_visible()

    grid = page.get_by_test_id("stPlotlyChart").first
    click_plotly_point(page, grid, 1, 1, server=app_server)  # the tile of test image 1
    expect(page.get_by_role("heading", name="Test image #1")).to_be_visible()
    own = CLASS_NAMES[predicted[1]]
    expect(explain_box(page).first).to_have_value(f"{own} (predicted)")
    expect(map_titled(page, re.compile(rf"Grad-CAM · {re.escape(own)}\s*\(the prediction\)"))).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Grad-CAM: where the channels of `?\w+`? \(the last conv block\)"))
    ).to_be_visible()


def test_a_second_upload_is_explained_as_itself_and_a_bad_file_clears_it(
    app_server: AppServer, app_page: Page, tmp_path: Path, predicted
) -> None:
    page = app_page
    test = load_test_set()
    goto(page, app_server, "/test_images")
    page.get_by_role("tab", name="Your image").click()
    uploader = page.get_by_test_id("stFileUploader").locator("input[type='file']")
    panel = page.get_by_role("tabpanel", name="Your image")

    def upload(index: int, name: str) -> str:
        uploader.set_input_files(str(png_of(test.images[index], tmp_path / name)))
        wait_for_app(page, server=app_server)
        shown = panel.get_by_text(re.compile(r"^Predicted: "))
        expect(shown).to_be_visible(timeout=30_000)
        return re.match(r"Predicted: ([^(]+)", shown.first.inner_text()).group(1).strip()

    first = upload(0, "boot.png")
    explain_answer(page, app_server, within=panel)
    expect(panel.get_by_role("combobox", name="Explain class")).to_have_value(f"{first} (predicted)")
    second = upload(1, "pullover.png")
    expect(panel.get_by_role("combobox", name="Explain class")).to_have_value(f"{second} (predicted)")
    expect(panel.get_by_text("Uploaded: pullover.png")).to_be_visible()

    # Side by side, no overlap, the file name whole.
    boxes = [panel.get_by_test_id("stImage").nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["x"] + boxes[0]["width"] <= boxes[1]["x"] + 1, boxes
    assert not overflows(panel.get_by_text("Uploaded: pullover.png"))

    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is not a picture" * 10)
    uploader.set_input_files(str(bad))
    wait_for_app(page, server=app_server)
    expect(panel.get_by_text(re.compile(r"can't be used: The file is not an image"))).to_be_visible()
    expect(panel.get_by_text(re.compile(r"^Predicted: "))).to_have_count(0)


def test_the_detail_panel_follows_the_filters(app_server: AppServer, app_page: Page, predicted) -> None:
    page = app_page
    actual = load_test_set().labels.astype(int)
    goto(page, app_server, "/test_images?image=0")
    choose(page, "Actual class", "Shirt", server=app_server)
    choose(page, "Predicted class", "T-shirt/top", server=app_server)
    page.get_by_text("Only misclassified").click()
    wait_for_app(page, server=app_server)
    matches = np.flatnonzero((actual == 6) & (predicted == 0))
    expect(page.get_by_role("heading", name=f"Test image #{int(matches[0])}")).to_be_visible()
    expect(page.get_by_text(f"{len(matches):,} of 10,000 images match", exact=False)).to_be_visible()
    expect(page.get_by_text("Image #0 is outside these filters", exact=False)).to_be_visible()
    assert "actual=6" in page.url and "predicted=0" in page.url and "wrong=1" in page.url


def test_train_fields_show_the_job_then_the_users_settings(app_server: AppServer, app_page: Page) -> None:
    page = app_page
    goto(page, app_server, "/train")
    for label, value in (("Training images", 20_000), ("Epochs", 6)):
        field_ = page.get_by_label(label, exact=True)
        field_.fill(str(value))
        field_.press("Enter")
        wait_for_app(page, server=app_server)
    page.get_by_role("button", name="Train", exact=True).click()
    # Past the first batch, so Stop keeps a partial model (a stop while TensorFlow loads cancels the run).
    expect(page.get_by_test_id("stProgress")).to_contain_text(re.compile(r"batch [1-9]\d*/"), timeout=TRAIN_TIMEOUT)
    go_by_nav(page, "Home", server=app_server)
    go_by_nav(page, "Train", server=app_server)
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("6")
    expect(page.get_by_label("Training images", exact=True)).to_have_value("20000")
    expect(page.get_by_label("Epochs", exact=True)).to_be_disabled()

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text(re.compile("Training stopped early"))).to_be_visible(timeout=TRAIN_TIMEOUT)
    wait_for_app(page, server=app_server)
    # The result sits at the top of the live view, above the charts.
    # The page reruns once when the job ends (the sidebar lists the new run): measure what that rerun drew.
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    result = page.get_by_text(re.compile("Training stopped early")).bounding_box()
    first_chart = page.get_by_test_id("stPlotlyChart").first.bounding_box()
    assert result["y"] < first_chart["y"], (result, first_chart)
    page.get_by_role("button", name="Use this model").click()
    expect(page.get_by_text(re.compile(r"Now using run \S+ on every page"))).to_be_visible()
    # Once the job has ended, the fields are the user's last settings again, editable.
    go_by_nav(page, "Home", server=app_server)
    go_by_nav(page, "Train", server=app_server)
    expect(page.get_by_label("Epochs", exact=True)).to_have_count(1)
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("6")
    expect(page.get_by_label("Epochs", exact=True)).to_be_enabled()
    expect(page.get_by_label("Training images", exact=True)).to_have_value("20000")
