"""AppTest of the lab: the Embedding page, and the "What excites this channel" and "Explain a cell" sections run
from small scripts (the Feature maps page that will call them belongs to another change).

Each script lives in tmp_path beside a link to the repo's pages/ folder, so st.page_link("pages/test_images.py")
resolves as it does under app.py.
"""

from __future__ import annotations

import base64
import html
import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fmnist_core.data import fashion_mnist
from fmnist_core.runs import store
from helpers import REPO_ROOT, requires_real_data

pytestmark = requires_real_data
TIMEOUT = 180  # seconds per script run: TensorFlow, a model, and all 10,000 test images on a busy CPU


def _lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "pages").symlink_to(REPO_ROOT / "pages")
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield tmp_path
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def lab_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shipped_run_cache: Callable[[Path], None]
) -> Iterator[Path]:
    """tmp_path with pages/ linked to the repo's, an empty store (its shipped runs' cache shared by the session:
    tests/conftest.py), the real data and Streamlit's caches cleared."""
    shipped_run_cache(tmp_path / "home")
    yield from _lab_dir(tmp_path, monkeypatch)


@pytest.fixture
def fresh_lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """lab_dir with a run cache of its own, for a test whose point is that the page computes something."""
    yield from _lab_dir(tmp_path, monkeypatch)


def script(folder: Path, name: str, body: str) -> AppTest:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return AppTest.from_file(str(path), default_timeout=TIMEOUT)


def specs(at: AppTest) -> dict[str, dict]:
    """Every plotly chart's figure JSON, by its element key's suffix (the key we gave it)."""
    out = {}
    for chart in at.get("plotly_chart"):
        key = chart.proto.id.rsplit("-", 1)[-1] if chart.proto.id else ""
        out[key] = json.loads(chart.proto.spec)
    return out


def values(field: object) -> np.ndarray:
    """A trace's array as numpy: plotly writes numpy arrays as {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(field, dict) and "bdata" in field:
        raw = np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
        shape = field.get("shape")
        return raw.reshape([int(n) for n in str(shape).split(",")]) if shape else raw
    return np.asarray(field)


def figure_titles(at: AppTest) -> list[str]:
    titles = []
    for spec in specs(at).values():
        title = spec.get("layout", {}).get("title", {})
        titles.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return titles


def matrices(at: AppTest) -> dict[str, list[list[str]]]:
    """The small matrices "Explain a cell" wrote as HTML tables: title -> the numbers shown, row by row."""
    import re

    found = {}
    for element in at.html:
        caption = re.search(r"<figcaption[^>]*>(.*?)</figcaption>", element.value)
        if caption is None:
            continue
        rows = re.findall(r"<tr>(.*?)</tr>", element.value)
        found[html.unescape(caption[1])] = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    return found


def url_value(at: AppTest, name: str) -> str:
    """A query parameter as the script left it (AppTest keeps what the test set as a string, a script's as a list)."""
    value = at.query_params[name]
    return value[-1] if isinstance(value, list) else value


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def test_images() -> fashion_mnist.Split:
    return fashion_mnist.load_test_set()


# --- the Embedding page ---------------------------------------------------------------------------------
EMBEDDING_APP = """
import streamlit as st
st.navigation([
    st.Page("pages/embedding.py", url_path="embedding", title="Embedding", default=True),
    st.Page("pages/test_images.py", url_path="test_images", title="Test images"),
]).run()
"""


def map_of(at: AppTest) -> dict:
    """What the page sent the Embedding map (ui/components/embedding_map.py's map_data)."""
    maps = [e for e in at.get("bidi_component") if e.proto.component_name == "fmnist_embedding_map"]
    assert len(maps) == 1, f"{len(maps)} maps on the page"
    return json.loads(maps[0].proto.json)


def test_embedding_page_renders_the_map(lab_dir: Path) -> None:
    at = script(lab_dir, "app.py", EMBEDDING_APP).run()
    no_exception(at)
    assert [t.value for t in at.title] == ["Embedding"]
    assert at.radio(key="emb_method").value == "PCA"
    assert "t-SNE" in at.radio(key="emb_method").options
    assert at.selectbox(key="emb_colour").value == "Actual class"
    assert at.selectbox(key="emb_colour").options == ["Actual class", "Predicted class", "Correct or not", "Confidence"]
    drawn = map_of(at)
    assert len(drawn["x"]) == len(drawn["y"]) == len(drawn["c"]) == len(drawn["g"]) == len(drawn["m"]) == 10_000
    # Per class a legend group drawn as a dot; the colour of each point is its actual class.
    assert [g["name"] for g in drawn["groups"]] == list(fashion_mnist.CLASS_NAMES)
    assert {g["symbol"] for g in drawn["groups"]} == {"circle"}
    test = fashion_mnist.load_test_set()
    assert drawn["c"] == drawn["g"] == test.labels.astype(int).tolist()
    crosses = sum(drawn["m"])
    assert crosses == 10_000 - round(10_000 * store.get_run("default").test_accuracy)  # the misclassified ones
    hover = drawn["hover"]
    assert [hover["actual"][i] != hover["predicted"][i] for i in range(10_000)] == [bool(m) for m in drawn["m"]]
    assert "dense" in drawn["title"] and drawn["selected"] == []
    assert any("misclassified" in c.value for c in at.caption)

    at.selectbox(key="emb_colour").set_value("Correct or not").run()
    no_exception(at)
    drawn = map_of(at)
    assert [g["name"] for g in drawn["groups"]] == ["correct", "misclassified"]
    assert [g["symbol"] for g in drawn["groups"]] == ["circle", "x"]
    assert sum(drawn["g"]) == crosses

    at.selectbox(key="emb_colour").set_value("Confidence").run()
    drawn = map_of(at)
    confidence = np.asarray(drawn["hover"]["confidence"])
    assert len(drawn["groups"]) == 1 and drawn["colourbar"]["title"] == "confidence"
    assert 0.1 <= confidence.min() and confidence.max() <= 1.0
    # The colour steps follow the confidence: the least confident image is in the lowest step drawn.
    steps = np.asarray(drawn["c"])
    assert steps[confidence.argmin()] == steps.min() and steps[confidence.argmax()] == len(drawn["palette"]) - 1


def test_a_selection_on_the_map_lists_those_images(lab_dir: Path) -> None:
    """What the browser sends back (the map's "selection" state) becomes the listed images; indices out of range
    or not whole numbers are dropped, and the map is told what is selected so it highlights them."""
    at = script(lab_dir, "app.py", EMBEDDING_APP).run()
    key = f"emb_map:default:{store.get_run('default').created}:PCA:actual"  # the page's key for this view
    at.session_state[key] = {"selection": [7, 3, 3, 12, 10_000, -1, "5", True]}
    at.run()
    no_exception(at)
    assert [s.value for s in at.subheader] == ["3 selected images"]
    assert map_of(at)["selected"] == [3, 7, 12]
    links = [e.proto.label for e in at.get("page_link")]
    assert links == ["#3", "#7", "#12"]

    at.selectbox(key="emb_colour").set_value("Correct or not").run()  # another view starts with nothing selected
    assert not at.subheader and map_of(at)["selected"] == []


def test_our_component_scripts_write_text_never_html() -> None:
    """Titles and class names reach our component scripts (a run's name is the person's words): they must set
    them as text. A guard on the scripts' source, beside the browser tests that drive them."""
    from ui.components.scripts import SCRIPTS, component_script

    for name in SCRIPTS:
        source = component_script(name)
        for writer in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
            assert writer not in source, (name, writer)
        assert "node.textContent = text" in source and "export default function" in source
    with pytest.raises(ValueError, match="no component script"):
        component_script("../app.py")


def test_map_data_rejects_what_it_cannot_draw() -> None:
    from ui.components.embedding_map import map_data, selection_of

    one = np.zeros(3, dtype=int)
    with pytest.raises(ValueError, match="one \\(x, y\\) per image"):
        map_data(np.zeros((3, 3)), "actual", one, one, np.ones(3), fashion_mnist.CLASS_NAMES, "t")
    with pytest.raises(ValueError, match="unknown colouring 'rainbow'"):
        map_data(np.zeros((3, 2)), "rainbow", one, one, np.ones(3), fashion_mnist.CLASS_NAMES, "t")
    assert selection_of(None, 10) == [] and selection_of({"0": 1}, 10) == []
    assert selection_of([9, 2, 2, 10, 1.5], 10) == [2, 9]


def open_embedding(lab_dir: Path, **params: str) -> AppTest:
    """The Embedding page opened with these query parameters, as from a pasted link."""
    at = script(lab_dir, "app.py", EMBEDDING_APP)
    at.query_params.update(params)
    at.run()
    no_exception(at)
    return at


def test_embedding_address_sets_the_view_and_follows_it(lab_dir: Path) -> None:
    at = open_embedding(lab_dir, method="pca", colour="correct")
    assert not at.warning, [w.value for w in at.warning]
    assert (at.radio(key="emb_method").value, at.selectbox(key="emb_colour").value) == ("PCA", "Correct or not")
    assert [g["name"] for g in map_of(at)["groups"]] == ["correct", "misclassified"]

    at.selectbox(key="emb_colour").set_value("Confidence").run()
    assert (url_value(at, "method"), url_value(at, "colour")) == ("PCA", "confidence")


def test_embedding_bad_address_says_so_and_shows_the_defaults(lab_dir: Path) -> None:
    at = open_embedding(lab_dir, method="umap", colour="rainbow")
    warnings = " ".join(w.value for w in at.warning)
    assert "`method=umap` in the address is not one of PCA, t-SNE; showing PCA." in warnings
    assert "`colour=rainbow` in the address is not one of actual, predicted, correct, confidence" in warnings
    assert (at.radio(key="emb_method").value, at.selectbox(key="emb_colour").value) == ("PCA", "Actual class")
    assert (url_value(at, "method"), url_value(at, "colour")) == ("PCA", "actual")


# --- What excites this channel ------------------------------------------------------------------------
EXEMPLARS_SCRIPT = """
from fmnist_core.runs import store
from ui.sections.feature_maps.exemplars import exemplars_section

exemplars_section(store.get_run("{run}"), "{layer}", {channel})
"""


@pytest.mark.slow
@pytest.mark.parametrize(("run", "layer", "channel"), [("default", "conv2d_1", 5), ("improved", "max_pooling2d", 3)])
def test_exemplars_section_shows_the_top_nine_and_filters_by_class(
    lab_dir: Path, test_images: fashion_mnist.Split, run: str, layer: str, channel: int
) -> None:
    from fmnist_core.analysis import activations

    model = store.load_model(run)
    maxima = activations.channel_maxima(model, test_images.images, layer)
    want = activations.top_exemplars(maxima, channel)
    at = script(lab_dir, "exemplars.py", EXEMPLARS_SCRIPT.format(run=run, layer=layer, channel=channel)).run()
    no_exception(at)
    assert [s.value for s in at.subheader] == ["What excites this channel"]
    assert at.selectbox(key="lab_ex_class").value == "All"
    # Each exemplar: its own picture (the image and its map), then its class and value, then its link.
    assert specs(at) == {}  # pictures, not charts
    pictures = at.get("image")
    assert len(pictures) == 9
    assert all(p.proto.imgs[0].url.endswith(".png") for p in pictures)  # sharp pixels, no JPEG blur
    assert exemplar_captions(at) == [
        f"{fashion_mnist.CLASS_NAMES[test_images.labels[e.index]]} · {e.value:.3f}" for e in want
    ]
    assert exemplar_links(at) == [f"#{e.index}" for e in want]

    at.selectbox(key="lab_ex_class").set_value("Sandal").run()
    no_exception(at)
    sandals = activations.top_exemplars(maxima, channel, labels=test_images.labels, class_index=5)
    assert exemplar_links(at) == [f"#{e.index}" for e in sandals]
    assert exemplar_captions(at) == [f"Sandal · {e.value:.3f}" for e in sandals]


def test_an_exemplar_picture_lays_the_map_over_the_pixels_it_sees() -> None:
    """A pooled map (cells 2 input pixels apart, cell 0 centred between pixels 1 and 2): a cell at the top of the
    scale colours exactly its two-by-two pixels, yellow at 0.9 over the image; silent cells leave the image as it is."""
    from ui.figures.cells import EXEMPLAR_SCALE, OVERLAY_RGBA, exemplar_image

    image = np.full((28, 28), 100, dtype=np.uint8)
    channel_map = np.zeros((13, 13))
    channel_map[3, 5] = 2.0
    channel_map[4, 4] = -1.0  # negative: transparent, like zero
    rgb = exemplar_image(image, channel_map, grid=(1.5, 2.0), top=2.0)
    s = EXEMPLAR_SCALE
    assert rgb.shape == (28 * s, 28 * s, 3) and rgb.dtype == np.uint8
    lit = np.zeros((28, 28), dtype=bool)
    lit[7:9, 11:13] = True  # cell (3, 5) sees input rows 1 + 2*3 ± 0.5 -> 7..8, columns 11..12
    per_pixel = rgb[s // 2 :: s, s // 2 :: s]  # one screen pixel from the middle of each input pixel
    yellow, alpha = np.array(OVERLAY_RGBA[-1][1][:3]), OVERLAY_RGBA[-1][1][3]
    assert np.array_equal(per_pixel[lit], np.tile(np.rint(100 * (1 - alpha) + yellow * alpha), (4, 1)))
    assert (per_pixel[~lit] == 100).all()


def exemplar_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if " · " in c.value]


def exemplar_links(at: AppTest) -> list[str]:
    return [link.proto.label for link in at.get("page_link")]


# --- Explain a cell -----------------------------------------------------------------------------------
EXPLAIN_SCRIPT = """
import streamlit as st
from fmnist_core.data import fashion_mnist
from fmnist_core.runs import store
from ui.loaders import cached_model, image_activations
from ui.sections.feature_maps.explain_cell import explain_cell_section

info = store.get_run("{run}")
model = cached_model(info.id, info.created)
maps = image_activations(info.id, info.created, {index})["{layer}"]
cell = explain_cell_section(info, model, fashion_mnist.load_test_set().images[{index}], {index}, "{layer}", {channel}, maps)
st.query_params["cell"] = cell  # what the Feature maps page's write_url does
"""


def explain_app(folder: Path, run: str, layer: str, channel: int, index: int = 0) -> AppTest:
    body = EXPLAIN_SCRIPT.format(run=run, layer=layer, channel=channel, index=index)
    return script(folder, "explain.py", body)


def shown_value(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**") and " of #" in m.value)


@pytest.mark.parametrize(
    ("run", "layer", "channel", "cell"),
    [
        ("default", "conv2d", 1, (10, 12)),
        ("default", "conv2d_1", 5, (3, 4)),
        ("improved", "conv2d_1", 5, (0, 6)),
        ("default", "max_pooling2d", 1, (6, 6)),
        ("improved", "max_pooling2d_1", 2, (6, 0)),
    ],
)
def test_explain_cell_section_follows_the_address_and_shows_the_models_number(
    lab_dir: Path, test_images: fashion_mnist.Split, run: str, layer: str, channel: int, cell: tuple[int, int]
) -> None:
    from fmnist_core.explain.cells import explain_cell

    at = explain_app(lab_dir, run, layer, channel)
    at.query_params["cell"] = f"{cell[0]},{cell[1]}"
    at.run()
    no_exception(at)
    assert [s.value for s in at.subheader] == ["Explain a cell"]
    assert (at.number_input(key="lab_row").value, at.number_input(key="lab_col").value) == cell
    assert not at.warning
    want = explain_cell(store.load_model(run), test_images.images[0], layer, channel, *cell)
    assert shown_value(at).endswith(f": {want.value:.4f}**")
    charts = specs(at)
    top, left, bottom, right = want.receptive_field
    assert f"Receptive field: rows {top}–{bottom}, columns {left}–{right}" in figure_titles(at)
    picker = next(s for s in charts.values() if "click a cell" in s["layout"]["title"]["text"])
    rect = picker["layout"]["shapes"][0]
    assert (rect["y0"] + 0.5, rect["x0"] + 0.5) == cell  # the chosen cell outlined
    assert len(values(picker["data"][1]["x"])) == picker_cells(picker)  # one clickable marker per cell
    shown = matrices(at)
    if want.kind == "conv" and want.source_shape[2] == 1:
        assert list(shown) == ["Input patch", "Kernel", "Products"]
        # the numbers written in are the cell's own arithmetic, to the decimals shown
        for numbers, array in zip(shown.values(), (want.patch, want.kernel, want.products), strict=True):
            places = len(numbers[0][0].split(".")[1])
            np.testing.assert_allclose(np.array(numbers, dtype=float), array[:, :, 0], atol=0.51 * 10**-places)
    elif want.kind == "conv":
        assert any(t.startswith("Contribution of each input channel") for t in figure_titles(at))
        assert sum(t.startswith("products: ") for t in shown) == 3
        assert len(shown) == 9 and all(len(rows) == 3 and len(rows[0]) == 3 for rows in shown.values())
    else:
        (title,) = shown
        assert title == f"{want.source_layer} window"
        assert "outline:3px" in next(e.value for e in at.html if "window" in e.value)  # the winner marked
        assert any("wins" in m.value for m in at.markdown)
    if want.note:
        assert any("batch_normalization" in c.value for c in at.caption)
    assert url_value(at, "cell") == f"{cell[0]},{cell[1]}"


def picker_cells(picker: dict) -> int:
    z = values(picker["data"][0]["z"])
    return z.shape[0] * z.shape[1]


def test_explain_cell_inputs_move_the_cell(lab_dir: Path, test_images: fashion_mnist.Split) -> None:
    from fmnist_core.analysis.activations import layer_outputs
    from fmnist_core.explain.cells import explain_cell

    model = store.load_model("default")
    at = explain_app(lab_dir, "default", "conv2d", 7, index=10).run()
    no_exception(at)
    channel_map = layer_outputs(model, test_images.images[10])["conv2d"][:, :, 7]
    strongest = tuple(int(v) for v in np.unravel_index(int(channel_map.argmax()), channel_map.shape))
    assert (at.number_input(key="lab_row").value, at.number_input(key="lab_col").value) == strongest  # the default
    at.number_input(key="lab_row").set_value(2).run()
    at.number_input(key="lab_col").set_value(25).run()
    no_exception(at)
    want = explain_cell(model, test_images.images[10], "conv2d", 7, 2, 25)
    assert shown_value(at).endswith(f": {want.value:.4f}**")
    assert url_value(at, "cell") == "2,25"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "`cell=x` in the address is not ROW,COL (two whole numbers)"),
        ("3", "is not ROW,COL"),
        ("1,2,3", "is not ROW,COL"),
        ("26,0", "`cell=26,0` in the address is outside the 26×26 map"),
        ("-1,4", "is outside the 26×26 map"),
    ],
)
def test_bad_cell_values_show_a_message_and_fall_back(lab_dir: Path, raw: str, message: str) -> None:
    at = explain_app(lab_dir, "default", "conv2d", 1)
    at.query_params["cell"] = raw
    at.run()
    no_exception(at)
    assert len(at.warning) == 1 and message in at.warning[0].value
    assert "explaining the channel's strongest cell" in at.warning[0].value
    assert [s.value for s in at.subheader] == ["Explain a cell"]
    row, col = at.number_input(key="lab_row").value, at.number_input(key="lab_col").value
    assert 0 <= row < 26 and 0 <= col < 26
    at.run()  # the fallback is now the address; the message does not repeat
    assert not at.warning


def test_click_events_become_cells() -> None:
    """The shapes the browser sends (seen in Chromium): a click on the picker's marker trace."""
    from ui.sections.feature_maps.explain_cell import _clicked_cell, parse_cell

    click = {"selection": {"points": [{"curve_number": 1, "point_index": 100, "customdata": {"0": 3, "1": 22}}]}}
    assert _clicked_cell(click, 26) == (3, 22)
    assert _clicked_cell({"selection": {"points": [{"curve_number": 0, "point_index": 5}]}}, 26) is None
    assert _clicked_cell({"selection": {"points": []}}, 26) is None
    assert _clicked_cell(None, 26) is None
    assert parse_cell("10,12", 26, 26) == ((10, 12), None)
    assert parse_cell(" 3 , 4 ", 11, 11) == ((3, 4), None)
    assert parse_cell("10,12", 5, 5)[0] is None


SWITCH_SCRIPT = """
import streamlit as st
from fmnist_core.data import fashion_mnist
from fmnist_core.runs import store
from ui.loaders import cached_model, image_activations
from ui.sections.feature_maps.explain_cell import explain_cell_section

info = store.get_run("default")
layer = st.selectbox("Layer", ["conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1"], key="layer")
maps = image_activations(info.id, info.created, 0)[layer]
explain_cell_section(info, cached_model(info.id, info.created), fashion_mnist.load_test_set().images[0], 0, layer, 3, maps)
"""


def test_another_layer_starts_at_its_channels_strongest_cell(lab_dir: Path, test_images: fashion_mnist.Split) -> None:
    """A cell typed or linked for one map means nothing on another: a layer change explains the new channel's
    strongest cell, as the first view does (the old cell, clamped, used to land on a 0.0000 one)."""
    from fmnist_core.analysis.activations import layer_outputs

    outputs = layer_outputs(store.load_model("default"), test_images.images[0])

    def strongest(layer: str) -> tuple[int, int]:
        channel_map = outputs[layer][:, :, 3]
        row, col = np.unravel_index(int(channel_map.argmax()), channel_map.shape)
        return int(row), int(col)

    at = script(lab_dir, "switch.py", SWITCH_SCRIPT)
    at.query_params["cell"] = "20,25"
    at.run()
    no_exception(at)
    assert (at.number_input(key="lab_row").value, at.number_input(key="lab_col").value) == (20, 25)
    for layer in ("conv2d_1", "max_pooling2d_1"):  # 11x11, then 5x5
        at.selectbox(key="layer").set_value(layer).run()
        no_exception(at)
        row, col = strongest(layer)
        assert (at.number_input(key="lab_row").value, at.number_input(key="lab_col").value) == (row, col)
        value = float(outputs[layer][row, col, 3])
        assert shown_value(at) == f"**{layer}, channel 3, row {row}, column {col} of #0: {value:.4f}**"
    assert not at.warning


@pytest.mark.slow
@pytest.mark.slow
def test_embedding_page_draws_the_tsne_map(fresh_lab_dir: Path) -> None:
    """t-SNE of all 10,000 images through the page's cache (13-15 s of CPU here), computed by this test."""
    at = script(fresh_lab_dir, "app.py", EMBEDDING_APP).run()
    at.radio(key="emb_method").set_value("t-SNE").run()
    no_exception(at)
    drawn = map_of(at)
    assert drawn["title"] == f"t-SNE of dense · {store.get_run('default').label()}"
    points = np.stack([drawn["x"], drawn["y"]], axis=1)
    assert points.shape == (10_000, 2) and np.isfinite(points).all()
    assert points.std(axis=0).min() > 1  # spread out, not collapsed
