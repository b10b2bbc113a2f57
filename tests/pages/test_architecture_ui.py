"""The network editor (ui.sections.train.network_editor), the network diagram (ui.figures.network_diagram) and the
import widget (ui.sections.model.import_model) with AppTest: the spec editor (add and remove blocks, JSON and widgets
in sync, invalid specs shown with their reason and Train disabled), the diagram, and the import widget's first
render."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_core import people
from fmnist_core.nets import architecture as a
from fmnist_core.nets.keras_models import NOTEBOOK_LAYER_NAMES, build
from fmnist_core.runs import importer
from helpers import REAL_DATA_DIR, requires_real_data

EDITOR_SCRIPT = """
import streamlit as st
from ui.sections.train.network_editor import spec_editor
from ui.figures.network_diagram import architecture_diagram

spec = spec_editor("ed")
st.button("Train", key="train", disabled=spec is None)
if spec is not None:
    st.graphviz_chart(architecture_diagram(spec))
"""


@pytest.fixture
def editor(tmp_path: Path) -> AppTest:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT)
    at = AppTest.from_file(str(script), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _spec_json(at: AppTest) -> dict:
    return json.loads(at.text_area(key="ed.json").value)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _labelled(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _train_disabled(at: AppTest) -> bool:
    return at.button(key="train").disabled


def test_editor_starts_with_the_notebook_network(editor: AppTest) -> None:
    assert _spec_json(editor) == a.to_dict(a.NOTEBOOK_SPEC)
    assert _metric(editor, "Parameters") == "243,786"
    assert _metric(editor, "MFLOP per image") == "10.1"
    assert _metric(editor, "MFLOP per training image") == "29.6"
    assert not any("Estimated time" in m.label for m in editor.metric)  # the Train page estimates, from runs here
    assert [w.label for w in editor.number_input] == ["Block 1 filters", "Block 2 filters"]
    assert not _errors(editor) and not _train_disabled(editor)
    table = editor.dataframe[0].value
    assert list(table["layer"]) == list(NOTEBOOK_LAYER_NAMES)


def test_add_and_remove_blocks_keep_widgets_json_and_cost_in_sync(editor: AppTest) -> None:
    editor.button(key="ed.add").click().run()
    assert [w.label for w in editor.number_input] == ["Block 1 filters", "Block 2 filters", "Block 3 filters"]
    three = {"conv": [{"filters": 64, "kernel": 3}] * 3, "dense": [128]}
    assert _spec_json(editor) == a.to_dict(a.parse_spec(three))
    assert _metric(editor, "Parameters") == f"{a.describe(a.parse_spec(three)).params:,}"
    # The new block's filters set by its widget reach the JSON and the cost.
    _labelled(editor.number_input, "Block 3 filters").set_value(16).run()
    assert _spec_json(editor)["conv"][2]["filters"] == 16
    # Remove the first block: the others move up, the widgets show them.
    removes = [b for b in editor.button if b.label == "Remove"]
    assert len(removes) == 3 and not any(b.disabled for b in removes)
    removes[0].click().run()
    assert [b["filters"] for b in _spec_json(editor)["conv"]] == [64, 16]
    assert [w.value for w in editor.number_input] == [64, 16]
    [b for b in editor.button if b.label == "Remove"][0].click().run()
    assert [w.value for w in editor.number_input] == [16]
    only = [b for b in editor.button if b.label == "Remove"]
    assert len(only) == 1 and only[0].disabled  # a network keeps at least one block
    assert not editor.exception and not _errors(editor)


def test_four_blocks_are_the_limit_and_a_vanishing_map_is_named(editor: AppTest) -> None:
    editor.button(key="ed.add").click().run()
    editor.button(key="ed.add").click().run()
    assert editor.button(key="ed.add").disabled
    # 28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1: block 4's 3x3 'valid' conv gets 1x1 maps.
    assert _errors(editor) == [
        "This network can't be built: conv block 4 gets 1x1 maps, too small for its 3x3 'valid' conv "
        "(it would give 0x0); use 'same' padding, a smaller kernel or fewer pools."
    ]
    assert _train_disabled(editor) and not editor.metric
    # 'same' padding on block 4 keeps its 1x1 maps, and then its pool is the problem, named as such.
    padding_boxes = [w for w in editor.selectbox if w.label == "Padding"]
    padding_boxes[3].set_value("same").run()
    assert _errors(editor) == [
        "This network can't be built: conv block 4's max pool gets 1x1 maps and would shrink them to 0x0; "
        "use 'same' padding, pool 'none' or fewer blocks."
    ]
    [w for w in editor.selectbox if w.label == "Pool"][3].set_value("none").run()
    assert not _errors(editor) and not _train_disabled(editor)
    assert _spec_json(editor)["conv"][3] == {
        "filters": 64,
        "kernel": 3,
        "padding": "same",
        "batch_norm": False,
        "pool": "none",
    }


def test_json_edits_update_the_widgets_and_invalid_json_shows_the_reason(editor: AppTest) -> None:
    editor.text_area(key="ed.json").set_value('{"conv": [{"filters": 64, "kernel": 4}]}').run()
    assert _errors(editor) == ["This network can't be built: conv block 1: kernel must be odd (1, 3, 5 or 7), not 4."]
    assert _train_disabled(editor)
    editor.text_area(key="ed.json").set_value('{"conv": [{"filters": 64, "kernel": 3}], "dense": [32],').run()
    assert _errors(editor)[0].startswith("This network can't be built: the spec is not valid JSON")
    good = {"conv": [{"filters": 16, "kernel": 5, "padding": "same", "batch_norm": True, "pool": "avg"}], "dense": []}
    editor.text_area(key="ed.json").set_value(json.dumps(good)).run()
    assert not _errors(editor) and not _train_disabled(editor)
    assert [w.value for w in editor.number_input] == [16]
    assert _labelled(editor.selectbox, "Kernel").value == 5 and _labelled(editor.selectbox, "Pool").value == "avg"
    assert _labelled(editor.checkbox, "Batch norm").value is True
    assert editor.text_input[0].value == ""
    assert _metric(editor, "Parameters") == f"{a.describe(a.parse_spec(good)).params:,}"
    # Widgets then rewrite the JSON: dense layers typed as text, one not a number.
    editor.text_input[0].set_value("64, abc").run()
    assert _errors(editor) == [
        "This network can't be built: dense layer 2 must have a whole number of units from 8 to 2048, not 'abc'."
    ]
    assert _spec_json(editor)["dense"] == [64, "abc"]
    editor.text_input[0].set_value("64, 32").run()
    assert _spec_json(editor)["dense"] == [64, 32] and not _errors(editor)
    _labelled(editor.selectbox, "Activation").set_value("tanh").run()
    _labelled(editor.slider, "Dropout").set_value(0.25).run()
    assert a.parse_spec(_spec_json(editor)) == a.parse_spec(dict(good, dense=[64, 32], activation="tanh", dropout=0.25))


def test_diagram_from_a_spec_and_from_its_model_agree() -> None:
    from fmnist_core.nets.keras_models import build_model
    from ui.figures.network_diagram import architecture_diagram

    spec_dot = architecture_diagram(a.EARLY_IMPROVED_SPEC)
    model_dot = architecture_diagram(build_model("improved_cnn", seed=1))
    assert spec_dot.startswith("digraph network {") and spec_dot.endswith("}")
    assert spec_dot.count(" -> ") == len(a.describe(a.EARLY_IMPROVED_SPEC).layers)
    assert 'n0 [label="conv2d (Conv2D)\\n3x3 conv, 32 filters, same, relu\\n28 x 28 x 32"' in spec_dot
    assert 'n10 [label="dense_1 (Dense)\\n10 units, softmax\\n10"' in spec_dot
    # The shipped improved preset names its Activation layer "relu"; everything else is the same.
    assert model_dot == spec_dot.replace('"activation (Activation)', '"relu (Activation)')
    four = {"conv": [{"filters": 8, "kernel": 3, "padding": "same", "pool": "avg"}] * 4, "dense": []}
    assert architecture_diagram(four) == architecture_diagram(build(four))
    assert "2x2 average pool" in architecture_diagram(four)
    # An imported model may hold layers no spec makes: they are drawn with their name, type and shape.
    import keras

    other = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Reshape((28, 28), name="squeeze"),
            keras.layers.Reshape((28, 28, 1), name="unsqueeze"),
            keras.layers.Conv2D(4, 3, name="c"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(10, name="logits"),
            keras.layers.Softmax(name="probs"),
        ]
    )
    dot = architecture_diagram(other)
    assert 'n0 [label="squeeze (Reshape)\\n28 x 28"' in dot
    assert 'n3 [label="gap (GlobalAveragePooling2D)\\n4"' in dot
    assert 'n4 [label="logits (Dense)\\n10 units, linear\\n10"' in dot and dot.count(" -> ") == 6


def test_import_widget_renders_and_waits_for_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "home"))
    script = tmp_path / "import.py"
    script.write_text("from ui.sections.model.import_model import import_model_widget\nimport_model_widget()\n")
    at = AppTest.from_file(str(script), default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.button(key="import_model.go").disabled
    assert "50 MB" in at.caption[0].value and "0..1" in at.caption[0].value
    assert not at.error and not at.success


IMPORT_SCRIPT = """
import streamlit as st
from ui.sections.model import import_model as ua

class Upload:
    name = {name!r}
    file_id = {name!r}

    def getvalue(self):
        return open({path!r}, "rb").read()

# AppTest cannot drive a file uploader: stand one in for this script run only.
original = st.file_uploader
st.file_uploader = lambda *args, **kwargs: Upload()
try:
    ua.import_model_widget()
finally:
    st.file_uploader = original
"""


@requires_real_data
def test_import_widget_imports_a_good_file_and_refuses_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    from fmnist_core.runs import store

    home = tmp_path / "home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    monkeypatch.setenv("FMNIST_DATA_DIR", str(REAL_DATA_DIR))
    good = tmp_path / "small.keras"
    build({"conv": [{"filters": 4, "kernel": 3}], "dense": []}, seed=1).save(good)
    bad = tmp_path / "lambda.keras"
    keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x), keras.layers.Flatten(), keras.layers.Dense(10)]
    ).save(bad)

    script = tmp_path / "import_bad.py"
    script.write_text(IMPORT_SCRIPT.format(name="lambda.keras", path=str(bad)))
    at = AppTest.from_file(str(script), default_timeout=120).run()
    assert not at.button(key="import_model.go").disabled
    at.button(key="import_model.go").click().run()
    assert [e.value for e in at.error] == [
        "**lambda.keras** was not imported: lambda.keras contains layers this app does not load: Lambda"
    ]
    assert not home.exists() or not list(home.iterdir())

    script = tmp_path / "import_good.py"
    script.write_text(IMPORT_SCRIPT.format(name="small.keras", path=str(good)))
    at = AppTest.from_file(str(script), default_timeout=120).run()
    # A bad name is refused as it is typed, before Import is pressed.
    at.text_input(key="import_model.name").set_value("small one/..").run()
    assert [e.value for e in at.error] == ["“small one/..” can't be a run id: use letters, digits, '_' and '-' only."]
    assert at.button(key="import_model.go").disabled
    at.text_input(key="import_model.name").set_value("default").run()
    assert [e.value for e in at.error] == ["A run named default exists already; choose another name."]
    at.text_input(key="import_model.name").set_value("small-one").run()
    assert not at.error and not at.button(key="import_model.go").disabled
    at.button(key="import_model.go").click().run()
    assert not at.exception and not at.error
    info = store.get_run("small-one")
    assert info.status == "imported"
    assert [s.value for s in at.success] == [
        f"Imported **{info.label()}** (id small-one): test accuracy {info.test_accuracy:.2%} on the 10,000 test images."
    ]
    at.button(key="import_model.use").click().run()
    assert at.session_state["model_id"] == "small-one"
    # Once the run is deleted the panel no longer offers it.
    store.delete_run("small-one", actor=people.LOCAL)
    at.run()
    assert not at.success and not [b for b in at.button if b.key == "import_model.use"]


# --- the pages follow a custom network --------------------------------------------------------------------
FOUR_BLOCKS = {
    "conv": [
        {"filters": 8, "kernel": 5, "padding": "same", "batch_norm": True, "pool": "avg"},
        {"filters": 12, "kernel": 3, "padding": "same", "pool": "none"},
        {"filters": 16, "kernel": 3, "padding": "valid", "pool": "max"},
        {"filters": 16, "kernel": 1, "padding": "same", "batch_norm": True, "pool": "max"},
    ],
    "dense": [32],
    "dropout": 0.1,
    "activation": "gelu",
}


def _open_pages(run_id: str) -> Iterator[tuple[str, AppTest]]:
    """Run app.py, then Feature maps, Test images and Model with `run_id` active; no exception, nothing red."""
    from helpers import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["model_id"] = run_id
    at.run()
    assert not at.exception, at.exception
    for page in ("pages/feature_maps.py", "pages/test_images.py", "pages/model.py"):
        at.switch_page(page)
        at.session_state["model_id"] = run_id  # a page run alone does not run app.py's sidebar
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        # Test images marks wrong predictions with an error-styled "Misclassified" badge; nothing else may be red.
        assert {e.value for e in at.error} <= {"Misclassified"}, (page, [e.value for e in at.error])
        yield page, at


@pytest.fixture
def page_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import streamlit as st

    home = tmp_path / "home"
    monkeypatch.setenv("FMNIST_HOME", str(home))
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield home
    st.cache_data.clear()
    st.cache_resource.clear()


@requires_real_data
def test_pages_follow_a_four_block_custom_network(page_store: Path) -> None:
    """A saved 4-block run: every conv and pool layer listed on Feature maps, the first conv's 5x5 kernels drawn."""
    from fmnist_core.runs import store

    spec = a.parse_spec(FOUR_BLOCKS)
    store.save_run(build(spec, seed=1), {"preset": "custom", "arch": a.to_dict(spec)}, run_id="four-blocks")
    described = {r.name: r for r in a.describe(spec).layers}
    spatial = [name for name, row in described.items() if row.type.endswith(("Conv2D", "Pooling2D"))]
    assert spatial == [
        "conv2d",
        "average_pooling2d",
        "conv2d_1",
        "conv2d_2",
        "max_pooling2d",
        "conv2d_3",
        "max_pooling2d_1",
    ]
    for page, at in _open_pages("four-blocks"):
        if page.endswith("feature_maps.py"):
            options = at.selectbox(key="fm_layer").options
            assert options == [f"{name} {described[name].output_shape}" for name in spatial]
        if page.endswith("model.py"):
            assert list(at.dataframe[0].value["layer"]) == list(described)
            assert any("the 8 5×5 kernels of conv2d" in m.value for m in at.markdown)


@requires_real_data
def test_pages_follow_an_imported_model_with_its_own_layer_names(page_store: Path, tmp_path: Path) -> None:
    import keras

    keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Reshape((28, 28, 1), name="add_channel"),
            keras.layers.Conv2D(6, 5, activation="relu", name="edges"),
            keras.layers.MaxPooling2D(name="shrink"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, name="logits"),
        ]
    ).save(tmp_path / "theirs.keras")
    importer.import_model(tmp_path / "theirs.keras", name="theirs", actor=people.LOCAL)
    for page, at in _open_pages("theirs"):
        if page.endswith("feature_maps.py"):
            assert at.selectbox(key="fm_layer").options == ["conv2d (24, 24, 6)", "max_pooling2d (12, 12, 6)"]
        if page.endswith("model.py"):
            assert list(at.dataframe[0].value["layer"]) == [
                "reshape",
                "reshape_1",
                "conv2d",
                "max_pooling2d",
                "flatten",
                "dense",
                "softmax",
            ]
            assert any("the 6 5×5 kernels of conv2d" in m.value for m in at.markdown)
