"""Real browser: two sessions training at once under a cap of one (queue, own metrics), and an uploaded image.

The server runs with FMNIST_MAX_TRAININGS=1, so the second training must wait its turn and say so.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, expect

from fmnist_core.data.fashion_mnist import load_test_set

from .harness import AppServer, goto, wait_for_app

APP_ENV = {"FMNIST_MAX_TRAININGS": "1"}
TRAIN_TIMEOUT = 240_000


def _set(page: Page, server: AppServer, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    wait_for_app(page, server=server)
    expect(field).to_have_value(str(value))


def test_two_sessions_train_at_once_with_a_queue(app_server: AppServer, chromium_browser: Browser) -> None:
    contexts = [chromium_browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    try:
        first, second = (ctx.new_page() for ctx in contexts)
        for page, epochs in ((first, 2), (second, 1)):
            goto(page, app_server, "/train")
            _set(page, app_server, "Training images", 6000)
            _set(page, app_server, "Epochs", epochs)
        first.get_by_role("button", name="Train", exact=True).click()
        expect(first.get_by_test_id("stProgress")).to_contain_text("Epoch 1/2", timeout=TRAIN_TIMEOUT)
        second.get_by_role("button", name="Train", exact=True).click()
        # One slot, taken by the first session: the second waits and shows its place in the queue.
        expect(second.get_by_text(re.compile(r"Waiting for a training slot: place 1 in the queue"))).to_be_visible(
            timeout=30_000
        )
        for page in (first, second):
            expect(page.get_by_test_id("stMetricLabel").filter(has_text="Test accuracy")).to_be_visible(
                timeout=TRAIN_TIMEOUT
            )
            wait_for_app(page, server=app_server)
        ids = []
        for page in (first, second):
            saved = page.get_by_text(re.compile(r"^Saved as run \S+\.$"))
            ids.append(re.fullmatch(r"Saved as run (\S+)\.", saved.inner_text().strip()).group(1))
        assert ids[0] != ids[1]
        home = Path(app_server.env["FMNIST_HOME"])
        histories = [json.loads((home / f"{run_id}.json").read_text())["history"] for run_id in ids]
        # Each session's run has its own metrics: 2 epochs for the first, 1 for the second.
        assert [len(h) for h in histories] == [2, 1]
        # The second session's page shows only its own epochs: its progress text never said "/2".
        expect(second.get_by_text("Epoch 1/2")).to_have_count(0)
    finally:
        for ctx in contexts:
            ctx.close()


def test_uploaded_image_gets_its_prediction(app_server: AppServer, app_page: Page, tmp_path: Path) -> None:
    test = load_test_set()
    # Test image 10 is a Coat: as a person would photograph it, dark on white and ten times larger.
    big = Image.fromarray(255 - test.images[10]).resize((280, 280), Image.Resampling.BICUBIC)
    path = tmp_path / "coat.png"
    buf = io.BytesIO()
    big.save(buf, "PNG")
    path.write_bytes(buf.getvalue())

    goto(app_page, app_server, "/test_images?image=0")
    app_page.get_by_role("tab", name="Your image").click()
    app_page.get_by_test_id("stFileUploader").locator("input[type='file']").set_input_files(str(path))
    wait_for_app(app_page, server=app_server)
    expect(app_page.get_by_text(re.compile(r"^Predicted: Coat \("))).to_be_visible(timeout=30_000)
    expect(app_page.get_by_text("What the model sees (28×28)")).to_be_visible()
    expect(app_page.get_by_text(re.compile("Light background: colours inverted"))).to_be_visible()

    # A file that is not an image gets one clear message, and the page keeps working.
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is not a picture" * 10)
    app_page.get_by_test_id("stFileUploader").locator("input[type='file']").set_input_files(str(bad))
    wait_for_app(app_page, server=app_server)
    expect(app_page.get_by_text(re.compile(r"can't be used: The file is not an image"))).to_be_visible()
    expect(app_page.get_by_test_id("stException")).to_have_count(0)
