"""Test images page: the address, filters and their count, the selection following the filters, the why panel,
values kept across pages, uploads."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.data import fashion_mnist
from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.explain import attributions, flip, gradients, occlusion
from fmnist_core.runs import importer, paths
from page_helpers import PAGE_FILES, exceptions, open_page, rerun, texts

SHIRT, TSHIRT, PULLOVER, COAT = 6, 0, 2, 4
EXPLAINING = {"ti_why_on": True, "ti_upload_why_on": True}  # "Explain this answer" switched on in both tabs


def explain_box(at):
    boxes = [b for b in at.selectbox if b.label == "Explain class"]
    assert boxes, "no 'Explain class' box"
    return boxes[0]


def test_test_images_image_param_selects_image(make_app) -> None:
    at = open_page(make_app, "test_images", {"image": "110"})
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)
    assert "Test image #110" in texts(at.subheader)
    assert "**Actual: Pullover**" in texts(at.markdown)
    assert at.query_params["image"] == "110"
    assert at.number_input(key="ti_page").value == 2  # image 110 sits on the second page of 100


def test_filters_count_and_the_selection_follows_them(make_app, default_predictions) -> None:
    predicted, actual = default_predictions
    at = open_page(make_app, "test_images", {"image": "0"})
    at.selectbox(key="ti_actual").set_value(CLASS_NAMES[SHIRT])
    at.selectbox(key="ti_predicted").set_value(CLASS_NAMES[TSHIRT])
    at.checkbox(key="ti_wrong").check()
    rerun(at)
    assert not at.exception, exceptions(at)
    matches = np.flatnonzero((actual == SHIRT) & (predicted == TSHIRT))
    assert len(matches) > 0
    assert any(f"**{len(matches):,}** of 10,000 images match" in c for c in texts(at.caption)), texts(at.caption)
    first = int(matches[0])
    assert f"Test image #{first}" in texts(at.subheader)  # not image 0, which is outside the filter
    assert any("Image #0 is outside these filters" in i for i in texts(at.info)), texts(at.info)
    assert "**Actual: Shirt**" in texts(at.markdown) and "**Predicted: T-shirt/top**" in texts(at.markdown)
    assert at.query_params["actual"] == str(SHIRT) and at.query_params["predicted"] == str(TSHIRT)

    at.button[[b.label for b in at.button].index("Next ▶")].click()
    rerun(at)
    assert f"Test image #{int(matches[1])}" in texts(at.subheader)


def test_confusion_cell_link_shows_exactly_that_cell(make_app, default_predictions) -> None:
    predicted, actual = default_predictions
    at = open_page(make_app, "test_images", {"actual": str(SHIRT), "predicted": str(TSHIRT)})
    assert not at.exception, exceptions(at)
    assert at.selectbox(key="ti_actual").value == "Shirt"
    assert at.selectbox(key="ti_predicted").value == "T-shirt/top"
    cell = int(((actual == SHIRT) & (predicted == TSHIRT)).sum())
    assert any(f"**{cell:,}** of 10,000 images match" in c for c in texts(at.caption)), texts(at.caption)


@pytest.mark.parametrize("params", [{"actual": "10"}, {"predicted": "x"}, {"actual": "-1"}])
def test_bad_class_params_warn_and_show_all(make_app, params: dict[str, str]) -> None:
    at = open_page(make_app, "test_images", params)
    assert not at.exception, exceptions(at)
    assert any("a class index 0..9" in w for w in texts(at.warning)), texts(at.warning)
    assert at.selectbox(key="ti_actual").value == "All" and at.selectbox(key="ti_predicted").value == "All"


def test_why_panel_waits_for_its_switch_then_follows_the_image(make_app, default_predictions, monkeypatch) -> None:
    predicted, _ = default_predictions
    computed: list[int] = []
    real_attribute_all = attributions.attribute_all
    monkeypatch.setattr(
        attributions, "attribute_all", lambda *a, **k: computed.append(1) or real_attribute_all(*a, **k)
    )
    at = open_page(make_app, "test_images", {"image": "0"})
    assert "Why the model decided" in texts(at.subheader)
    assert not [b for b in at.selectbox if b.label == "Explain class"] and not computed  # nothing computed yet
    assert any(c.startswith("Turn on to see which parts of the image") for c in texts(at.caption))
    at.toggle(key="ti_why_on").set_value(True)
    rerun(at)
    assert computed and explain_box(at).value == predicted[0]
    explain_box(at).set_value(int(PULLOVER))
    rerun(at)
    assert any("Grad-CAM · Pullover<br>(not the prediction)" in t for t in _titles(at)), _titles(at)
    at.button[[b.label for b in at.button].index("Next ▶")].click()
    rerun(at)
    assert "Test image #1" in texts(at.subheader)
    assert explain_box(at).value == predicted[1]  # starts again from image 1's own prediction
    assert any(f"Grad-CAM · {CLASS_NAMES[predicted[1]]}<br>(the prediction)" in t for t in _titles(at)), _titles(at)
    assert any("last conv block" in c for c in texts(at.caption)), texts(at.caption)
    assert at.toggle(key="ti_why_on").value  # the switch stays on for the next image


def test_filters_and_page_survive_a_visit_elsewhere(make_app) -> None:
    at = open_page(make_app, "test_images")
    at.selectbox(key="ti_actual").set_value("Coat")
    rerun(at)
    at.number_input(key="ti_page").set_value(3)
    rerun(at)
    at.switch_page(PAGE_FILES["home"]).run()
    at.switch_page(PAGE_FILES["test_images"]).run()
    assert not at.exception, exceptions(at)
    assert at.selectbox(key="ti_actual").value == "Coat"
    assert at.number_input(key="ti_page").value == 3


def test_the_upload_tab_shows_the_kept_upload(make_app) -> None:
    """AppTest cannot send files; the browser suite uploads real ones (and a bad one that clears this)."""
    from ui.components.upload import UPLOAD_KEY

    test = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR)
    at = open_page(make_app, "test_images", session=EXPLAINING)
    at.session_state[UPLOAD_KEY] = {
        "name": "boot.png",
        "digest": "d0",
        "image": test.images[0],
        "original": test.images[0],
        "notes": [],
    }
    rerun(at)
    assert not at.exception, exceptions(at)
    assert [t.label for t in at.tabs] == ["Test set", "Your image"]
    upload_tab = at.tabs[1]
    assert any(m.value.startswith("**Predicted: Ankle boot**") for m in upload_tab.markdown)
    for method in METHOD_TITLES:  # the why panel explains the upload too
        assert sum(f"{method} · Ankle boot<br>(the prediction)" in t for t in _titles(at)) == 2, _titles(at)


def _titles(at) -> list[str]:
    """Every chart's and every attribution map's title."""
    from page_helpers import map_figures, plotly_titles

    return plotly_titles(at) + [title for title, _ in map_figures(at)]


# --- explanations a learner can test ---------------------------------------------------------------------------
METHOD_TITLES = ("Grad-CAM", "Saliency", "Integrated gradients", "Occlusion")


@pytest.fixture(scope="module")
def shipped_model():
    from fmnist_core.runs import store

    return store.load_model(paths.DEFAULT_RUN_ID)


def test_why_panel_shows_four_methods_their_completeness_and_agreement(make_app, shipped_model) -> None:
    import re

    from page_helpers import map_figures, map_picture, plotly_array, plotly_figure
    from ui.figures.explanations import attribution_picture

    image = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR).images[0]
    at = open_page(make_app, "test_images", {"image": "0"}, session=EXPLAINING)
    assert not at.exception, exceptions(at)
    for method in METHOD_TITLES:
        assert any(f"{method} · Ankle boot<br>(the prediction)" in t for t in _titles(at)), (method, _titles(at))
    captions = texts(at.caption)
    for line in ("Saliency: how strongly", "Integrated gradients: each pixel's share", "Occlusion: how much p"):
        assert any(c.startswith(line) for c in captions), (line, captions)
    found = [re.search(r"add up to (-?[\d.]+); p\(image\) − p\(black image\) = (-?[\d.]+)", c) for c in captions]
    total, difference = next(m.groups() for m in found if m)
    ig = gradients.integrated_gradients(shipped_model, image, 9)
    assert float(total) == pytest.approx(ig.total, abs=1e-3) and float(difference) == pytest.approx(
        ig.difference, abs=1e-3
    )
    agree = plotly_figure(at, "Do they agree?")
    maps = {m: attributions.attribute(shipped_model, image, 9, m).map for m in attributions.METHODS}
    np.testing.assert_allclose(plotly_array(agree["data"][0]["z"]), attributions.agreement(maps), atol=1e-6)

    patch = [s for s in at.slider if s.label == "Occlusion patch (px)"][0]
    patch.set_value(4)
    rerun(at)
    # The picture shown is the 4-px occlusion map's (to the rounding of a colour level), and its bar says its scale.
    occluded = occlusion.occlusion(shipped_model, image, 9, patch=4, stride=2).map
    want, top = attribution_picture(image, occluded, signed=True)
    shown = map_picture(at, "Occlusion · Ankle boot")
    assert shown.shape == want.shape == (28, 28, 3)
    assert np.abs(shown.astype(int) - want.astype(int)).max() <= 1
    six, _ = attribution_picture(image, occlusion.occlusion(shipped_model, image, 9, patch=6, stride=2).map, True)
    assert np.abs(six.astype(int) - want.astype(int)).max() > 10  # the check above tells the two patches apart
    figure = next(body for t, body in map_figures(at) if t.startswith("Occlusion · Ankle boot"))
    assert f"<span>+{top:.2g}</span>" in figure and "drop in p" in figure

    [s for s in at.slider if s.label == "Occlusion stride (px)"][0].set_value(4)
    rerun(at)
    [s for s in at.slider if s.label == "Occlusion patch (px)"][0].set_value(3)  # now smaller than the stride
    rerun(at)
    assert not at.exception, exceptions(at)
    stride = [s for s in at.slider if s.label == "Occlusion stride (px)"][0]
    assert 1 <= stride.value <= 3 and stride.max == 3


def test_randomisation_and_flip_on_the_page(make_app, shipped_model) -> None:
    from page_helpers import button, plotly_figure

    at = open_page(make_app, "test_images", {"image": "0"}, session=EXPLAINING)
    button(at, "Randomise the model").click()
    rerun(at)
    assert not at.exception, exceptions(at)
    grid = plotly_figure(at, "Maps as the model is destroyed")
    assert grid["layout"]["xaxis"]["ticktext"] == ["trained", "+dense_1", "+dense", "+conv2d_1", "+conv2d"]
    assert grid["layout"]["yaxis"]["ticktext"] == list(METHOD_TITLES)
    curve = plotly_figure(at, "Same map as the trained model's?")
    assert [trace["name"] for trace in curve["data"]] == list(METHOD_TITLES)
    assert any("is not explaining the model" in c for c in texts(at.caption)), texts(at.caption)

    image = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR).images[0]
    found = flip.smallest_flip(shipped_model, image)
    button(at, "Find the smallest change").click()
    rerun(at)
    assert not at.exception, exceptions(at)
    said = [m for m in texts(at.markdown) if m.startswith("Every pixel moved by at most")]
    assert said and f"**{found.levels}/255 = {found.epsilon:.3f}**" in said[0], said
    assert f"now says **{CLASS_NAMES[found.predicted_after]}**" in said[0]
    assert any(f"Changed image<br>{CLASS_NAMES[found.predicted_after]}" in t for t in _titles(at)), _titles(at)
    plotly_figure(at, "Probabilities before and after")
    grid_still = plotly_figure(at, "Maps as the model is destroyed")  # the randomisation result stays
    assert grid_still["layout"]["xaxis"]["ticktext"][0] == "trained"

    at.selectbox(key="ti_why_default_" + _digest(image) + "_target").set_value(0)
    button(at, "Find the smallest change").click()
    rerun(at)
    said = [m for m in texts(at.markdown) if m.startswith("Every pixel moved by at most")]
    assert said and "now says **T-shirt/top**" in said[0], said


def _digest(image: np.ndarray) -> str:
    from ui.sections.shared.why import image_digest

    return image_digest(image)


def test_an_imported_network_without_conv_gets_every_other_method(make_app, fmnist_home, tmp_path) -> None:
    """A dense-only import (the importer adds its own softmax layer): no Grad-CAM, and the rest still works."""
    import keras

    from page_helpers import button, plotly_figure

    keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(10, name="logits"),
        ]
    ).save(tmp_path / "flat.keras")
    importer.import_model(tmp_path / "flat.keras", name="flat", actor=people.LOCAL)
    at = open_page(make_app, "test_images", {"image": "0"}, model_id="flat", session=EXPLAINING)
    assert not at.exception, exceptions(at)
    titles = _titles(at)
    assert not any(t.startswith("Grad-CAM") for t in titles), titles
    for method in METHOD_TITLES[1:]:
        assert any(t.startswith(f"{method} · ") for t in titles), (method, titles)
    assert any("Grad-CAM needs a conv layer" in i for i in texts(at.info)), texts(at.info)
    button(at, "Randomise the model").click()
    rerun(at)
    assert not at.exception, exceptions(at)
    grid = plotly_figure(at, "Maps as the model is destroyed")
    assert grid["layout"]["yaxis"]["ticktext"] == list(METHOD_TITLES[1:])
    assert len(grid["layout"]["xaxis"]["ticktext"]) == 3  # trained, then the two dense layers
    button(at, "Find the smallest change").click()
    rerun(at)
    assert not at.exception, exceptions(at)
    said = [m for m in texts(at.markdown) if m.startswith("Every pixel moved by at most")]
    warned = [w for w in texts(at.warning) if w.startswith("No change up to")]
    assert said or warned


def test_an_attribution_picture_colours_by_sign_over_the_image() -> None:
    """Signed: red where the map is positive, blue where negative, the image untouched at zero, the scale +-max|v|.
    Unsigned (0..1): plotly's Hot at 0.55 over the image, as the overlay charts drew it."""
    from ui.figures.explanations import attribution_html, attribution_picture

    image = np.full((28, 28), 100, dtype=np.uint8)
    image[0, 0] = 0  # the image is stretched to its own range: 100 of 0..100 becomes white
    values = np.zeros((28, 28))
    values[5, 5], values[6, 6] = 0.2, -0.1
    rgb, top = attribution_picture(image, values, signed=True)
    assert rgb.shape == (28, 28, 3) and rgb.dtype == np.uint8 and top == pytest.approx(0.2)
    assert tuple(rgb[10, 10]) == (255, 255, 255) and tuple(rgb[0, 0]) == (0, 0, 0)  # zero: the image itself
    red, blue = rgb[5, 5].astype(int), rgb[6, 6].astype(int)
    assert red[0] > red[2] + 100 and blue[2] > blue[0] + 50  # the full +top is deep red; -top/2 is pale blue
    hot, one = attribution_picture(image, np.full((28, 28), 2.0), signed=False)
    assert one == 1.0 and tuple(hot[10, 10]) == (255, 255, 255)  # clipped to 1: white over white
    cold, _ = attribution_picture(image, np.zeros((28, 28)), signed=False)
    assert tuple(cold[10, 10]) == (115, 115, 115)  # 0.45 of white under 0.55 of black

    page = attribution_html(rgb, ["Occlusion · <Bag>", "(the prediction)"], 'map "x"', True, top, "drop in p")
    assert "Occlusion · &lt;Bag&gt;<br>(the prediction)" in page and 'alt="map &quot;x&quot;"' in page
    assert "image-rendering:pixelated" in page and "<span>−0.2</span>" in page and "<span>+0.2</span>" in page
