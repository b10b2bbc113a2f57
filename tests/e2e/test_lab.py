"""The lab in a real browser: dark mode on every page, a confusion-matrix cell leading to its images, a heatmap cell
explained, the map of all test images, downloads that load back, and a network designed, trained and inspected.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from fmnist_core.data.fashion_mnist import CLASS_NAMES, load_test_set
from fmnist_core.runs import paths, store

from .harness import (
    REPO_ROOT,
    AppServer,
    chart_titled,
    choose,
    click_plotly_point,
    confusion_cell,
    go_by_nav,
    goto,
    train_on_page,
    wait_for_app,
)

SCREENSHOTS = REPO_ROOT / "test-results"
DARK_PAGES = [
    "/",
    "/train",
    "/test_images?image=3",
    "/feature_maps?image=0&layer=conv2d&channel=1",
    "/model",
    "/embedding",
]
# Pages whose figures have no tick labels (images, heatmaps and the embedding hide their axes; Train has no chart
# until a training is on screen).
PAGES_WITHOUT_AXES = {"/", "/train", "/feature_maps?image=0&layer=conv2d&channel=1", "/embedding"}
LUMINANCE = """(el) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const [r, g, b] = parse(getComputedStyle(el).backgroundColor);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""
COLOUR_LUMINANCE = """(el) => {
  const [r, g, b] = (getComputedStyle(el).color.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""
TEXT_LUMINANCE = """(el) => {
  const c = el.style.fill || getComputedStyle(el).fill;
  const [r, g, b] = (c.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


@pytest.fixture
def dark_page(chromium_browser: Browser) -> Iterator[Page]:
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("path", DARK_PAGES)
def test_dark_system_preference_gives_a_dark_app_with_light_figure_text(
    app_server: AppServer, dark_page: Page, path: str
) -> None:
    goto(dark_page, app_server, path)
    dark_page.wait_for_timeout(1000)
    SCREENSHOTS.mkdir(exist_ok=True)
    name = re.sub(r"\W+", "_", path.split("?")[0]).strip("_") or "home"
    dark_page.screenshot(path=str(SCREENSHOTS / f"dark-{name}.png"), full_page=True)
    assert dark_page.get_by_test_id("stApp").evaluate(LUMINANCE) < 0.25
    titles = dark_page.locator(".js-plotly-plot .gtitle")
    for i in range(titles.count()):
        assert titles.nth(i).evaluate(TEXT_LUMINANCE) > 0.6, titles.nth(i).inner_text()
    if path == "/embedding":
        expect(dark_page.locator(".fm-emb-entry")).to_have_count(10)
    if path == "/model":
        expect(dark_page.locator(".fm-cm-row")).to_have_count(10)
    # The Embedding map and the confusion matrix are HTML, not plotly: their text too.
    for text in dark_page.locator(".fm-emb-title, .fm-emb-entry, .fm-cm-title, .fm-cm-row, .fm-cm-col").all():
        assert text.evaluate(COLOUR_LUMINANCE) > 0.6, text.inner_text()
    ticks = dark_page.locator(".js-plotly-plot .xtick text")
    if path in PAGES_WITHOUT_AXES:
        assert ticks.count() == 0, f"{path} has axis ticks: add a check of their colour"
    else:
        assert ticks.count() > 0, f"{path} shows no axis ticks"
        assert ticks.first.evaluate(TEXT_LUMINANCE) > 0.6


def test_a_confusion_cell_opens_its_images(app_server: AppServer, app_page: Page) -> None:
    page = app_page
    goto(page, app_server, "/model")
    from fmnist_core.nets.inference import predict_proba

    test = load_test_set()
    predicted = predict_proba(store.load_model(paths.DEFAULT_RUN_ID), test.images).argmax(axis=1)
    shirt_as_tshirt = int(((test.labels == 6) & (predicted == 0)).sum())
    cell = confusion_cell(page, 6, 0)
    expect(cell).to_have_text(str(shirt_as_tshirt))
    expect(cell).to_have_attribute("title", f"actual Shirt, predicted T-shirt/top: {shirt_as_tshirt}")
    expect(page.locator(".fm-cm-cell")).to_have_count(100)
    cell.click()
    expect(page).to_have_url(re.compile(r"/test_images\?.*actual=6.*predicted=0"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Test images")
    expect(page.get_by_text(f"{shirt_as_tshirt:,} of 10,000 images match", exact=False)).to_be_visible()


def test_a_clicked_heatmap_cell_is_explained(app_server: AppServer, app_page: Page) -> None:
    page = app_page
    goto(page, app_server, "/feature_maps?image=0&layer=conv2d&channel=1")
    picker = chart_titled(page, re.compile(r"conv2d · channel 1: click a cell"))
    expect(picker).to_be_visible()
    row, col = 10, 12
    click_plotly_point(page, picker, 1, row * 26 + col, server=app_server)
    expect(page).to_have_url(re.compile(rf"cell={row}(,|%2C){col}"))
    shown = page.get_by_text(re.compile(rf"conv2d, channel 1, row {row}, column {col} of #0: (-?\d+\.\d+)"))
    expect(shown).to_be_visible()
    value = float(re.search(r": (-?\d+\.\d+)", shown.inner_text()).group(1))

    from fmnist_core.analysis.activations import layer_outputs

    expected = layer_outputs(store.load_model(paths.DEFAULT_RUN_ID), load_test_set().images[0])["conv2d"][row, col, 1]
    assert value == pytest.approx(float(expected), abs=1e-4)


# Page coordinates of every point of the Embedding map (ui/components/embedding_map.js), as a person would aim at them.
MAP_POINTS = "(el) => Array.from({length: Number(el.dataset.count)}, (_, i) => el.fmPoint(i))"


def drag(page: Page, corners: list[tuple[float, float]]) -> None:
    """Press at the first corner, move through the others, release."""
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in corners[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_the_map_of_all_test_images(app_server: AppServer, app_page: Page) -> None:
    """Hover, box and lasso selection (the listed images are the points inside, and one opens on Test images),
    the legend hiding a class, then t-SNE, zoom that a selection keeps, and back."""
    from scipy.spatial import cKDTree

    page = app_page
    goto(page, app_server, "/embedding")
    root = page.locator(".fm-emb")
    expect(root).to_have_attribute("data-shown", "10000", timeout=60_000)
    root.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    points = np.array([[p["x"], p["y"]] for p in root.evaluate(MAP_POINTS)])
    assert points.shape == (10_000, 2)

    labels = load_test_set().labels
    lonely = int(cKDTree(points).query(points, k=2)[0][:, 1].argmax())  # no other point under the mouse
    page.mouse.move(*points[lonely])
    tip = page.locator(".fm-emb-tip")
    expect(tip).to_contain_text(f"#{lonely}")
    expect(tip).to_contain_text(f"actual {CLASS_NAMES[labels[lonely]]}")

    area = page.locator(".fm-emb-overlay").bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.3
    x1, y1 = x0 + area["width"] * 0.25, y0 + area["height"] * 0.25
    inside = np.flatnonzero((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1))
    assert len(inside) > 0
    drag(page, [(x0, y0), (x1, y1)])
    wait_for_app(page, server=app_server)
    expect(page.get_by_role("heading", name=f"{len(inside):,} selected images")).to_be_visible()
    expect(root).to_have_attribute("data-selected", str(len(inside)))

    root.get_by_role("button", name="Lasso", exact=True).click()  # round the same rectangle: the same images
    root.get_by_role("button", name="Clear selection").click()
    wait_for_app(page, server=app_server)
    expect(page.get_by_text("Select points with the box or lasso tool")).to_be_visible()
    drag(page, [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    wait_for_app(page, server=app_server)
    expect(page.get_by_role("heading", name=f"{len(inside):,} selected images")).to_be_visible()

    trouser = root.get_by_role("button", name="Trouser")
    trouser.click()
    expect(root).to_have_attribute("data-shown", str(10_000 - int((labels == 1).sum())))
    trouser.click()
    expect(root).to_have_attribute("data-shown", "10000")

    first = int(inside.min())
    page.get_by_role("link", name=f"#{first}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Test image #{first}", exact=True)).to_be_visible(timeout=60_000)

    # t-SNE draws a progress bar while it computes: in a real server (not AppTest) a cached function that drew into
    # the page failed with CacheReplayClosureError.
    go_by_nav(page, "Embedding", server=app_server)
    page.get_by_test_id("stRadio").get_by_text("t-SNE", exact=True).click()
    expect(page.locator(".fm-emb-title", has_text="t-SNE of dense")).to_be_visible(timeout=180_000)
    wait_for_app(page, server=app_server)
    expect(root).to_have_attribute("data-shown", "10000")

    # Zoom into a box: only what is inside is drawn; a selection there (a rerun) keeps the zoom; Reset view.
    root.get_by_role("button", name="Zoom", exact=True).click()
    root.scroll_into_view_if_needed()
    area = page.locator(".fm-emb-overlay").bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.3
    drag(page, [(x0, y0), (x0 + area["width"] * 0.3, y0 + area["height"] * 0.3)])
    expect(root.get_by_role("button", name="Reset view")).to_be_enabled()
    zoomed = int(root.get_attribute("data-shown"))
    assert 0 < zoomed < 10_000
    root.get_by_role("button", name="Box", exact=True).click()
    left, top = area["x"] + 5, area["y"] + 5
    drag(page, [(left, top), (left + area["width"] - 10, top + area["height"] - 10)])
    wait_for_app(page, server=app_server)
    expect(page.get_by_role("heading", name=re.compile(r"selected images$"))).to_be_visible()
    expect(root).to_have_attribute("data-shown", str(zoomed))
    root.get_by_role("button", name="Reset view").click()
    expect(root).to_have_attribute("data-shown", "10000")


def test_downloads_load_back(app_server: AppServer, app_page: Page, tmp_path: Path) -> None:
    import keras

    page = app_page
    goto(page, app_server, "/model")
    with page.expect_download() as got:
        page.get_by_role("button", name="Download model (.keras)").click()
    model_path = tmp_path / "model.keras"
    got.value.save_as(model_path)
    with page.expect_download() as got:
        page.get_by_role("button", name="Download history (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))

    downloaded = keras.saving.load_model(model_path, safe_mode=True)
    shipped = store.load_model(paths.DEFAULT_RUN_ID)
    images = load_test_set().images[:100].astype("float32")[..., None] / 255.0
    np.testing.assert_allclose(downloaded.predict(images, verbose=0), shipped.predict(images, verbose=0), atol=1e-6)
    history = json.loads((paths.ASSETS_DIR / "default.json").read_text())["history"]
    assert len(rows) == len(history)
    assert float(rows[-1]["test_accuracy"]) == pytest.approx(history[-1]["test_accuracy"])


def test_design_a_network_train_it_and_open_its_feature_maps(app_server: AppServer, app_page: Page) -> None:
    page = app_page
    goto(page, app_server, "/train")
    choose(page, "Preset", re.compile(r"^custom"), server=app_server)
    network = {
        "conv": [{"filters": 6, "kernel": 3, "padding": "same"}, {"filters": 10, "kernel": 3, "pool": "avg"}],
        "dense": [16],
    }
    spec_box = page.get_by_role("textbox", name="Spec (JSON)")
    spec_box.fill(json.dumps(network))
    spec_box.press("Control+Enter")
    wait_for_app(page, server=app_server)
    expect(page.get_by_role("combobox", name="Pool").nth(1)).to_have_value("avg")  # the form follows the JSON
    run_id = train_on_page(page, app_server, images=300, epochs=1)
    model_box = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
    page.get_by_role("button", name="Use this model").click()
    wait_for_app(page, server=app_server)
    expect(model_box).to_have_value(store.get_run(run_id, home=Path(app_server.env["FMNIST_HOME"])).label())
    go_by_nav(page, "Feature maps", server=app_server)
    layer = page.get_by_role("combobox", name="Layer")
    expect(layer).to_have_value(re.compile(r"^conv2d \(28, 28, 6\)"))
    layer.click()
    expect(page.get_by_role("option", name=re.compile(r"^average_pooling2d \(6, 6, 10\)"))).to_be_visible()
    page.keyboard.press("Escape")


def test_home_has_the_browser_fetch_plotly_code_before_any_chart(app_server: AppServer, app_page: Page) -> None:
    """The sidebar asks for Streamlit's plotly chart code while Home is read (ui/frame.py, preload_chart_code), so
    the first chart page after Home does not wait for 4.7 MB of script; Home itself draws no plotly chart."""
    from ui.frame import chart_code_chunk

    chunk = chart_code_chunk()
    assert chunk is not None and chunk.startswith("PlotlyChart.")
    goto(app_page, app_server, "/")
    assert app_page.get_by_test_id("stPlotlyChart").count() == 0
    fetched = "(name) => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/' + name))"
    app_page.wait_for_function(fetched, arg=chunk, timeout=15_000)
