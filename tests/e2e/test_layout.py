"""Layout in real Chromium at 800 and 1400 px wide, light and dark: nothing a person
reads is cut, the custom network editor after a training, the exemplars grid, readable explanations, the Feature maps
details.

One server for the module. One browser session per colour scheme opens each page once at 1400 px and is then
narrowed to 800 px (set_viewport_size), so a page is loaded once per scheme. The windows are tall enough for whole
pages, so a screenshot needs no resizing (each resize redraws every chart); they go to
test-results/layout-<page>-<scheme>-<width>.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from fmnist_core.data.fashion_mnist import CLASS_NAMES, load_test_set

from .harness import (
    REPO_ROOT,
    AppServer,
    chart_titled,
    choose,
    cut_texts,
    explain_answer,
    goto,
    png_of,
    scheme_pages,
    train_on_page,
    wait_for_app,
)

WIDTHS = (1400, 800)
SCHEMES = ("light", "dark")
HEIGHT = 4800  # px: the longest page at 800 px wide, so a screenshot shows it whole
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
trained_runs: list[str] = []  # the run the custom-network test trained: a weak model, so many points are wrong

# Page pixels of an attribution map's parts (ui.figures.explanations.attribution_html): the picture, its colour bar and
# its title, and whether the picture's pixels are drawn sharp.
MAP_PARTS = """(el) => {
  const box = (node) => {
    const r = node.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height};
  };
  const img = el.querySelector('img');
  return {
    image: box(img),
    bar: box(el.querySelector('.fm-map-bar')),
    title: box(el.querySelector('figcaption')),
    sharp: getComputedStyle(img).imageRendering === 'pixelated' && img.complete && img.naturalWidth === 28,
  };
}"""
# The y-axis tick labels of a plotly chart.
Y_TICKS = "(el) => Array.from(el.querySelectorAll('.ytick text'), (t) => t.textContent)"
# Each entry of the Embedding map's legend: its text and whether its mark is a dot (a cross is "misclassified").
LEGEND = """(el) => Array.from(el.querySelectorAll('.fm-emb-entry'), (t) => ({
  name: t.querySelector('.fm-emb-name').textContent,
  circle: t.querySelector('.fm-emb-mark').classList.contains('fm-emb-circle')
    && getComputedStyle(t.querySelector('.fm-emb-mark')).borderRadius === '50%',
}))"""
# The first trace's z (the channel map) as rows of numbers.
HEATMAP_Z = "(el) => Array.from(el.querySelector('.js-plotly-plot')._fullData[0].z, (row) => Array.from(row))"


@pytest.fixture(scope="module")
def sessions(chromium_browser: Browser) -> Iterator[dict[str, Page]]:
    """One browser session per colour scheme, shared by the module's tests."""
    with scheme_pages(chromium_browser, SCHEMES, WIDTHS[0], HEIGHT) as pages:
        yield pages


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
        expect(spec_box).not_to_have_value("")  # the box can be drawn a moment before its text (one full run: empty)
        network = json.loads(spec_box.input_value())
        assert len(network["conv"]) == 2
        assert not cut_at_each_width(page, "train-custom")

        at_width(page, WIDTHS[0])
        trained_runs.append(train_on_page(page, app_server, images=600, epochs=1))

        expect(spec_box).not_to_have_value("")
        assert json.loads(spec_box.input_value()) == network
        kernels = page.get_by_role("combobox", name="Kernel")
        expect(kernels).to_have_count(2)
        expect(kernels.first).to_have_value("3x3")
        assert not cut_at_each_width(page, "train-custom-after")
    finally:
        context.close()


# --- item 8: explanations that read -------------------------------------------------------------------------
def assert_explanations_read(page: Page, where: Locator, width: int) -> None:
    """Grad-CAM and saliency: images of at least 200 px drawn sharp, colour bars no longer than the image, titles
    clear."""
    for method in ("Grad-CAM", "Saliency"):
        figure = where.locator("figure.fm-map").filter(has=page.locator("figcaption", has_text=method))
        expect(figure).to_have_count(1)
        figure.scroll_into_view_if_needed()
        parts = figure.evaluate(MAP_PARTS)
        image, bar, title = parts["image"], parts["bar"], parts["title"]
        assert image["w"] >= 200, f"{method} at {width} px: the image is {image['w']:.0f} px wide"
        assert parts["sharp"], f"{method} at {width} px: the 28x28 picture is not drawn with sharp pixels"
        assert max(bar["w"], bar["h"]) <= 1.1 * max(image["w"], image["h"]), (method, width, image, bar)
        assert bar["y"] >= image["y"] + image["h"], f"{method} at {width} px: the colour bar overlaps the image"
        assert title["y"] + title["h"] <= image["y"] + 1, f"{method} at {width} px: the image covers its title"


def test_explanations_are_large_and_clear_of_their_titles(
    app_server: AppServer, sessions: dict[str, Page], tmp_path: Path
) -> None:
    page = sessions["light"]
    goto(page, app_server, "/test_images?image=0")
    test_set = page.get_by_role("tabpanel", name="Test set")
    explain_answer(page, app_server, within=test_set)
    for width in WIDTHS:
        at_width(page, width)
        assert_explanations_read(page, test_set, width)

    page.get_by_role("tab", name="Your image").click()
    panel = page.get_by_role("tabpanel", name="Your image")
    uploader = page.get_by_test_id("stFileUploader").locator("input[type='file']")
    uploader.set_input_files(str(png_of(load_test_set().images[0], tmp_path / "boot.png")))
    wait_for_app(page, server=app_server)
    expect(panel.get_by_text(re.compile(r"^Predicted: "))).to_be_visible(timeout=30_000)
    explain_answer(page, app_server, within=panel)
    for width in WIDTHS:
        at_width(page, width)
        page.wait_for_timeout(500)
        screenshot(page, f"your-image-{width}")
        assert_explanations_read(page, panel, width)
        assert not cut_texts(page, "[data-testid='stMain']")


def test_the_probability_chart_names_the_predicted_and_the_actual_class(
    app_server: AppServer, sessions: dict[str, Page]
) -> None:
    page = sessions["light"]
    goto(page, app_server, "/test_images?image=0&wrong=1")  # the first misclassified image
    predicted = page.get_by_text(re.compile(r"^Predicted: ")).first.inner_text().split(": ", 1)[1].strip()
    actual = page.get_by_text(re.compile(r"^Actual: ")).first.inner_text().split(": ", 1)[1].strip()
    assert predicted != actual
    ticks = chart_titled(page, "Class probabilities").evaluate(Y_TICKS)
    assert not [t for t in ticks if "✓" in t], ticks  # no mark that needs a legend
    assert f"{actual} (actual)" in ticks, ticks
    assert f"{predicted} (predicted)" in ticks, ticks
    assert sum(t.endswith(")") for t in ticks) == 2, ticks


# Each bar of a horizontal bar chart: its value label's text, colour and box, its bar's colour and box, and the colour
# behind the chart (the first non-transparent background: plotly's own, else the page's).
BAR_LABELS = """(el) => {
  const box = (node) => {
    const r = node.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height};
  };
  const layout = el.querySelector('.js-plotly-plot')._fullLayout;
  let behind = [layout.plot_bgcolor, layout.paper_bgcolor].find((c) => c && !/rgba\\(.*,\\s*0\\)$/.test(c));
  for (let node = el; !behind && node; node = node.parentElement) {
    const c = getComputedStyle(node).backgroundColor;
    if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') behind = c;
  }
  const chart = box(el);
  return Array.from(el.querySelectorAll('.trace.bars .point'), (point) => {
    const text = point.querySelector('text.bartext');
    const bar = point.querySelector('path');
    return {
      text: text ? text.textContent : null,
      colour: text ? getComputedStyle(text).fill : null,
      box: text ? box(text) : null,
      bar: getComputedStyle(bar).fill,
      barBox: box(bar),
      behind,
      chart,
    };
  });
}"""


def luminance(colour: str) -> float:
    """WCAG relative luminance of a CSS colour "rgb(r, g, b)" or "rgba(r, g, b, a)" (alpha ignored) or "#rrggbb"."""
    if colour.startswith("#"):
        channels = [int(colour[k : k + 2], 16) for k in (1, 3, 5)]
    else:
        channels = [float(v) for v in re.findall(r"[\d.]+", colour)[:3]]
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def overlap(a: dict, b: dict) -> bool:
    """Two page boxes ({x, y, w, h}) share some area."""
    return (
        a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_probability_bar_carries_a_readable_value(
    app_server: AppServer, sessions: dict[str, Page], scheme: str
) -> None:
    """Each of the 10 bars shows its value, in the same format, whole inside the chart, at 4.5:1 contrast (WCAG AA)
    against what lies under it: its bar where they overlap, else the chart's background."""
    page = sessions[scheme]
    goto(page, app_server, "/test_images?image=21")  # 56% Sandal, 44% Sneaker: a long grey bar, a short blue one
    chart = chart_titled(page, "Class probabilities")
    unread = []
    for width in WIDTHS:
        at_width(page, width)
        chart.scroll_into_view_if_needed()
        labels = chart.evaluate(BAR_LABELS)
        assert len(labels) == 10, labels
        for k, label in enumerate(labels):
            if not label["text"]:
                unread.append(f"{width} px: bar {k} carries no value")
                continue
            text, chart_box, shown = label["box"], label["chart"], label["text"]
            if not re.fullmatch(r"<0\.1%|\d{1,3}\.\d%", shown):
                unread.append(f"{width} px: {shown!r} is not a percentage with one decimal")
            if text["x"] < chart_box["x"] or text["x"] + text["w"] > chart_box["x"] + chart_box["w"] + 1:
                unread.append(f"{width} px: {shown} is cut at the chart's edge")
            under = label["bar"] if overlap(text, label["barBox"]) else label["behind"]
            if (ratio := contrast(label["colour"], under)) < 4.5:
                unread.append(f"{width} px: {shown} in {label['colour']} on {under}: {ratio:.1f}:1")
    assert not unread, f"{scheme}: {unread}"


# --- item 10: Feature maps details --------------------------------------------------------------------------
def test_feature_map_figures_have_no_stray_ticks_and_products_in_fixed_decimals(
    app_server: AppServer, sessions: dict[str, Page]
) -> None:
    page = sessions["light"]
    goto(page, app_server, FEATURE_MAPS)
    matrix = page.locator("figure").filter(has=page.locator("figcaption", has_text=re.compile(r"^Products$")))
    expect(matrix).to_have_count(1)
    expect(matrix.locator("td")).to_have_count(9)
    assert page.locator(".js-plotly-plot path.ticks").count() == 0  # every figure here is an image or a map
    for title in ("Input patch", "Kernel", "Products"):
        table = page.locator("figure").filter(has=page.locator("figcaption", has_text=re.compile(rf"^{title}$")))
        texts = table.locator("td").all_inner_texts()
        assert len(texts) == 9, (title, texts)
        assert table.locator("td").first.evaluate("(td) => getComputedStyle(td).backgroundColor") != (
            "rgba(0, 0, 0, 0)"
        )  # coloured by value, as the heatmaps are
        assert all(re.fullmatch(r"-?\d+\.\d+", t) for t in texts), (title, texts)  # never 6.1e-05
        decimals = {len(t.split(".")[1]) for t in texts}
        assert len(decimals) == 1, (title, texts)


def test_a_layer_change_explains_the_channels_strongest_cell(app_server: AppServer, sessions: dict[str, Page]) -> None:
    page = sessions["light"]
    goto(page, app_server, FEATURE_MAPS)
    for layer, size in (("conv2d", 26), ("max_pooling2d", 13)):
        if layer != "conv2d":
            choose(page, "Layer", re.compile(rf"^{layer} \("), server=app_server)
        z = np.array(chart_titled(page, f"{layer} · channel 1 · {size}×{size}").evaluate(HEATMAP_Z), dtype=float)
        row, col = (int(v) for v in np.unravel_index(int(np.nanargmax(z)), z.shape))
        shown = page.get_by_text(re.compile(rf"^{layer}, channel 1, row \d+, column \d+ of #0: "))
        expect(shown).to_have_text(re.compile(rf"row {row}, column {col} of #0: {z.max():.4f}$"))


def test_the_embedding_selection_reads_whole(app_server: AppServer, sessions: dict[str, Page]) -> None:
    """The selected images' captions and links under their thumbnails read whole at 1400 and 800 px: in eight
    columns a word was split ("Sneake|r") and a four-digit link cut ("#109" of #1090)."""
    page = sessions["light"]
    at_width(page, WIDTHS[0])
    goto(page, app_server, "/embedding?method=PCA&colour=actual")
    root = page.locator(".fm-emb")
    expect(root).to_have_attribute("data-shown", "10000", timeout=60_000)
    root.scroll_into_view_if_needed()
    area = page.locator(".fm-emb-overlay").bounding_box()
    x0, y0 = area["x"] + area["width"] * 0.45, area["y"] + area["height"] * 0.3  # shoes: Sandal, Sneaker, Ankle boot
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + area["width"] * 0.2, y0 + area["height"] * 0.3, steps=8)
    page.mouse.up()
    wait_for_app(page, server=app_server)
    expect(page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected images$"))).to_be_visible()
    links = page.get_by_role("link", name=re.compile(r"^#\d+$"))
    expect(links).to_have_count(40)
    assert any(len(label) == 5 for label in links.all_inner_texts()), "no four-digit link to check"
    cut = {}
    for width in WIDTHS:
        at_width(page, width)
        screenshot(page, f"embedding-selection-light-{width}")
        if found := cut_texts(page, "[data-testid='stMain']"):
            cut[width] = found
    assert not cut


# Where a plotly chart's legend, plot area and points are on the page, its y range and its y values.
CHART_PARTS = """(el) => {
  const box = (node) => {
    const r = node.getBoundingClientRect();
    return {x: r.left, y: r.top, w: r.width, h: r.height};
  };
  const gd = el.querySelector('.js-plotly-plot');
  return {
    legend: box(el.querySelector('.legend')),
    plot: box(el.querySelector('.nsewdrag')),
    points: Array.from(el.querySelectorAll('.scatterlayer .point'), box),
    range: gd._fullLayout.yaxis.range,
    values: gd._fullData.flatMap((trace) => Array.from(trace.y)),
  };
}"""


def test_compare_runs_legend_covers_nothing_and_accuracy_fits_its_values(
    app_server: AppServer, sessions: dict[str, Page]
) -> None:
    """The Compare runs charts: the legend lies clear of the plot and its points (at 800 px it lay over them), and the
    accuracy axis spans the values within 0..1 (it ran from -0.5 to 1)."""
    page = sessions["dark"]
    goto(page, app_server, "/model")
    for width in WIDTHS:
        at_width(page, width)
        for title in ("Test accuracy per epoch", "Test loss per epoch"):
            chart = chart_titled(page, title)
            chart.scroll_into_view_if_needed()
            parts = chart.evaluate(CHART_PARTS)
            legend = parts["legend"]
            assert len(parts["values"]) >= 2, parts["values"]  # two runs compared
            assert not overlap(legend, parts["plot"]), f"{title} at {width} px: the legend lies over the plot"
            assert not [p for p in parts["points"] if overlap(legend, p)], f"{title} at {width} px"
            if title.startswith("Test accuracy"):
                low, high = parts["range"]
                assert 0 <= low <= min(parts["values"]) and max(parts["values"]) <= high <= 1, (width, parts["range"])
                assert high - low <= max(parts["values"]) - min(parts["values"]) + 0.1, (width, parts["range"])


def test_the_outlined_tile_moves_with_the_slider_in_sight_of_it(
    app_server: AppServer, sessions: dict[str, Page]
) -> None:
    """Moving the Channel slider moves the outline on the mosaic; the outlined tile lies under the slider, close
    enough to see both at once (at 800 px the mosaic came after the input and the channel, some 800 px below)."""
    page = sessions["light"]
    goto(page, app_server, FEATURE_MAPS)
    slider = page.get_by_role("slider", name="Channel")
    outline = chart_titled(page, re.compile(r"^All \d+ channels of conv2d")).locator(".shapelayer path").first
    for width in WIDTHS:
        at_width(page, width)
        before = outline.bounding_box()
        slider.focus()
        page.keyboard.press("ArrowRight")
        wait_for_app(page, server=app_server)
        page.wait_for_timeout(500)  # plotly moves the outline after the run
        tile, bar = outline.bounding_box(), slider.bounding_box()
        assert tile["x"] > before["x"] + 5, f"at {width} px the outline did not move with the slider: {before} {tile}"
        below = tile["y"] + tile["height"] - bar["y"]
        assert tile["y"] > bar["y"] and below <= 500, f"at {width} px the tile ends {below:.0f} px below the slider"


# --- item 8, last: it switches the light session to the custom-trained model -------------------------------
def test_the_embedding_legend_draws_every_class_as_a_dot(app_server: AppServer, sessions: dict[str, Page]) -> None:
    """Crosses mark misclassified images; the legend's class entries must not look like them (plotly drew an entry
    with its trace's first marker, a cross when a weak model got a class's first image wrong), so this runs on the
    weak model the custom-network test trained."""
    if not trained_runs:
        pytest.skip("the custom-network test did not train a run")
    page = sessions["light"]
    at_width(page, 1400)
    goto(page, app_server, f"/embedding?method=PCA&colour=actual&model={trained_runs[0]}")
    try:
        for colour in ("Actual class", "Predicted class"):
            choose(page, "Colour by", colour, server=app_server)
            chart = page.locator(".fm-emb")
            expect(chart.locator(".fm-emb-entry")).to_have_count(len(CLASS_NAMES))
            legend = chart.evaluate(LEGEND)
            assert [entry["name"] for entry in legend] == list(CLASS_NAMES)
            crosses = [entry["name"] for entry in legend if not entry["circle"]]
            assert not crosses, f"{colour}: drawn as crosses (the mark of misclassified) in the legend: {crosses}"
        screenshot(page, "embedding-trained-light-1400")
    finally:
        goto(page, app_server, "/embedding?model=default")
