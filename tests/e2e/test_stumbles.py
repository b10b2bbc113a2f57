"""What a new user stumbled on, tried the way it was found: a freshly trained run active,
imported models the app must show or refuse, one figure per fact, the import panel and readable run names.

The module has its own store: a tiny real training (fast preset, 600 images, 2 epochs) and imported models of
shapes the app did not show before (no conv layer; conv without pooling).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from fmnist_core import people
from fmnist_core.data.fashion_mnist import CLASS_NAMES, load_test_set
from fmnist_core.runs import importer, paths, store

from .harness import (
    AppServer,
    choose,
    confusion_cell,
    explain_answer,
    goto,
    map_titled,
    wait_for_app,
)

RUN_ID = "tiny-fast"
PAGES = ["/", "/train", "/test_images?image=3", "/feature_maps?image=0", "/model", "/embedding"]


def dense_only_model():  # noqa: ANN201 - a Keras model
    """Input(28,28,1) -> Flatten -> Dense(10, softmax): what the new user imported."""
    import keras

    return keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )


def conv_without_pool_model():  # noqa: ANN201
    import keras

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def fmnist_home(tmp_path_factory: pytest.TempPathFactory, tiny_trained: Callable[[str], Path]) -> Path:
    """This module's store: one tiny real training (trained once for the session, tests/conftest.py: tiny_trained;
    copied in as its worker left it) and two imported models."""
    home = tmp_path_factory.mktemp("stumbles_home")
    shutil.copytree(tiny_trained(RUN_ID), home, dirs_exist_ok=True)
    files = tmp_path_factory.mktemp("stumbles_files")
    for name, build in (("tiny-dense", dense_only_model), ("conv-no-pool", conv_without_pool_model)):
        path = files / f"{name}.keras"
        build().save(path)
        importer.import_model(path, name=name, home=home, actor=people.LOCAL)
    return home


@pytest.fixture(scope="module")
def trained_predictions(fmnist_home: Path) -> np.ndarray:
    from fmnist_core.nets.inference import predict_proba

    return predict_proba(store.load_model(RUN_ID, home=fmnist_home), load_test_set().images).argmax(axis=1)


@pytest.fixture
def narrow_page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 800, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def sidebar_model(page: Page):  # noqa: ANN201 - a Locator
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")


def test_a_confusion_cell_click_keeps_the_trained_model(
    app_server: AppServer, app_page: Page, trained_predictions: np.ndarray, fmnist_home: Path
) -> None:
    """A confusion-cell click once opened Test images on the shipped default; it must stay on the active run."""
    page = app_page
    goto(page, app_server, "/model")
    choose(page, "Model", re.compile("fast"), server=app_server)  # as the user did: the sidebar's box
    label = sidebar_model(page).input_value()
    assert "fast" in label
    labels = load_test_set().labels.astype(int)
    actual, predicted = 6, int(np.bincount(trained_predictions[labels == 6], minlength=10).argmax())
    count = int(((labels == actual) & (trained_predictions == predicted)).sum())
    cell = confusion_cell(page, actual, predicted)
    expect(cell).to_have_text(str(count))
    cell.click()
    expect(page).to_have_url(re.compile(rf"/test_images\?.*actual={actual}.*predicted={predicted}"))
    expect(page.get_by_text(f"{count:,} of 10,000 images match", exact=False)).to_be_visible()
    expect(sidebar_model(page)).to_have_value(label)
    expect(page).to_have_url(re.compile(rf"model={RUN_ID}"))
    # A link onward keeps it too.
    page.get_by_role("link", name="See its feature maps").click()
    wait_for_app(page, server=app_server)
    expect(page).to_have_url(re.compile(rf"/feature_maps\?.*model={RUN_ID}"))
    expect(sidebar_model(page)).to_have_value(label)


def test_a_shared_link_opens_its_model_and_a_missing_one_says_so(app_server: AppServer, app_page: Page) -> None:
    page = app_page
    goto(page, app_server, f"/test_images?image=5&model={RUN_ID}")
    expect(sidebar_model(page)).to_have_value(store.get_run(RUN_ID, home=Path(app_server.env["FMNIST_HOME"])).label())
    goto(page, app_server, "/test_images?image=5&model=no-such-run")
    expect(
        page.get_by_test_id("stAlert").filter(has_text="no-such-run").filter(has_text="does not exist")
    ).to_be_visible()
    expect(sidebar_model(page)).to_have_value(store.get_run(paths.DEFAULT_RUN_ID).label())
    expect(page).to_have_url(re.compile(r"model=default"))


@pytest.mark.parametrize("run_id", ["tiny-dense", "conv-no-pool"])
def test_every_page_works_for_every_imported_shape(app_server: AppServer, app_page: Page, run_id: str) -> None:
    """A model without conv layers (or without pooling) imports, so every page must show it, explanations too."""
    page = app_page
    for path in PAGES:
        sep = "&" if "?" in path else "?"
        goto(page, app_server, f"{path}{sep}model={run_id}")  # raises on any exception shown
        expect(page.get_by_test_id("stAlert").filter(has_text="does not exist")).to_have_count(0)
    if run_id == "tiny-dense":
        goto(page, app_server, f"/feature_maps?model={run_id}")
        expect(page.get_by_text("has no conv or pool layer", exact=False).first).to_be_visible()
        goto(page, app_server, f"/model?model={run_id}")
        expect(page.get_by_text("has no conv layer", exact=False).first).to_be_visible()
    goto(page, app_server, f"/test_images?image=0&model={run_id}")
    explain_answer(page, app_server)
    expect(map_titled(page, re.compile("Saliency"))).to_be_visible()
    expect(page.get_by_text("Grad-CAM needs a conv layer", exact=False)).to_have_count(int(run_id == "tiny-dense"))


def test_the_result_card_and_the_epoch_table_give_one_figure(
    app_server: AppServer, app_page: Page, fmnist_home: Path
) -> None:
    """The card once said 78.56%, the epoch table 78.57% for the same epoch: one figure everywhere."""
    meta = store.get_run(RUN_ID, home=fmnist_home).metadata
    assert meta.history[-1].test_accuracy == meta.test_accuracy
    assert meta.history[-1].test_loss == meta.test_loss
    goto(app_page, app_server, f"/model?model={RUN_ID}")
    shown = app_page.get_by_test_id("stMetric").filter(has_text="Test accuracy").get_by_test_id("stMetricValue")
    expect(shown).to_have_text(f"{meta.history[-1].test_accuracy:.2%}")


def test_run_names_are_readable_and_whole_in_the_sidebar(app_server: AppServer, narrow_page: Page) -> None:
    """The Model box once showed a run id cut to "20261129-150512-fast-334d — 78" at 800 px."""
    page = narrow_page
    goto(page, app_server, f"/model?model={RUN_ID}")
    box = sidebar_model(page)
    value = box.input_value()
    assert RUN_ID not in value and value.startswith("fast ·"), value
    assert value.endswith("%"), value
    shown = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
    text_box = shown.locator("input").first
    assert not text_box.evaluate("(el) => el.scrollWidth > el.clientWidth + 1"), value
    assert CLASS_NAMES  # the import keeps the class names in use


def test_the_import_panel_follows_the_file_the_name_and_deletes(
    app_server: AppServer, app_page: Page, tmp_path: Path
) -> None:
    """An old success once stayed up for a new file and after its run was deleted; a bad name waited for Import."""
    page = app_page
    first, second = tmp_path / "panel-a.keras", tmp_path / "panel-b.keras"
    dense_only_model().save(first)
    conv_without_pool_model().save(second)
    goto(page, app_server, "/model")
    page.get_by_text("Import a model (.keras)").first.click()
    panel = page.get_by_test_id("stExpander").filter(has_text="Import a model")
    panel.locator("input[type=file]").set_input_files(str(first))
    wait_for_app(page, server=app_server)
    name = panel.get_by_role("textbox", name="Name (optional)")
    name.fill("bad name/..")
    name.press("Enter")
    wait_for_app(page, server=app_server)
    expect(panel.get_by_text("can't be a run id")).to_be_visible()  # before Import is pressed
    expect(panel.get_by_role("button", name="Import")).to_be_disabled()
    name.fill("panel-a")
    name.press("Enter")
    wait_for_app(page, server=app_server)
    panel.get_by_role("button", name="Import").click()
    wait_for_app(page, server=app_server)
    expect(panel.get_by_text("Imported", exact=False)).to_be_visible(timeout=60_000)
    panel.locator("input[type=file]").set_input_files(str(second))
    wait_for_app(page, server=app_server)
    expect(panel.get_by_text("Imported", exact=False)).to_have_count(0)  # a new file: the old success is gone
    expect(panel.get_by_role("button", name="Use this model")).to_have_count(0)

    # The run deleted: the panel says nothing of it any more.
    panel.locator("input[type=file]").set_input_files(str(first))
    name.fill("")
    name.press("Enter")
    wait_for_app(page, server=app_server)
    panel.get_by_role("button", name="Import").click()
    wait_for_app(page, server=app_server)
    expect(panel.get_by_role("button", name="Use this model")).to_be_visible(timeout=60_000)
    imported = [r for r in store.list_runs(Path(app_server.env["FMNIST_HOME"])) if r.metadata.imported_from]
    newest = max(imported, key=lambda r: r.created or "")
    store.delete_run(newest.id, home=Path(app_server.env["FMNIST_HOME"]), actor=people.LOCAL)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Model", exact=True).click()
    wait_for_app(page, server=app_server)
    expect(page.get_by_role("button", name="Use this model")).to_have_count(0)


def test_a_run_can_be_renamed_and_the_name_shows_in_the_sidebar(app_server: AppServer, app_page: Page) -> None:
    page = app_page
    goto(page, app_server, "/model?model=conv-no-pool")
    page.get_by_role("button", name="Rename").click()
    box = page.get_by_role("textbox", name="Name")
    box.fill("My first dense net")
    box.press("Enter")
    wait_for_app(page, server=app_server)
    page.get_by_role("button", name="Save name").click()
    wait_for_app(page, server=app_server)
    expect(sidebar_model(page)).to_have_value(re.compile(r"^My first dense net · \d+\.\d\d%$"))
    expect(page.get_by_role("heading", level=3).filter(has_text="My first dense net")).to_be_visible()
