"""Model page: summary, metrics, confusion matrix and per-class table, compare runs, delete with confirmation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.nets.presets import PRESETS
from fmnist_core.runs import paths, store
from page_helpers import exceptions, open_page, plotly_array, plotly_figure, rerun, texts


def _button(at, key: str):
    return at.button(key=key)


def test_a_clicked_cell_is_checked_before_it_opens_anything() -> None:
    """The browser's word for a click, checked: two whole numbers in range, or nothing happens."""
    from ui.components.confusion_grid import clicked_cell, grid_data

    assert clicked_cell([6, 0], 10) == (6, 0)
    for bad in (None, [6], [6, 0, 1], [10, 0], [-1, 2], ["6", "0"], [True, 0], {"0": 6, "1": 0}, [6.0, 0]):
        assert clicked_cell(bad, 10) is None, bad
    with pytest.raises(ValueError, match="expected a 10x10 matrix"):
        grid_data(np.zeros((3, 3)), list(CLASS_NAMES))


def test_model_page_summary_and_metrics(make_app) -> None:
    at = open_page(make_app, "model", model_id="default")
    assert not at.exception, exceptions(at)
    assert store.get_run("default").label() in texts(at.subheader)
    assert any("243,786" in m for m in texts(at.markdown)), "no 'Total parameters: 243,786'"
    metrics = {m.label: m.value for m in at.metric}
    shipped = json.loads((paths.ASSETS_DIR / "default.json").read_text())["test_accuracy"]
    assert metrics["Test accuracy"] == f"{shipped:.2%}"
    assert metrics["Parameters"] == "243,786"


def test_a_run_with_mirror_accuracy_shows_it_beside_the_plain_one(make_app, fmnist_home: Path) -> None:
    """Test-time augmentation is reported as such: the plain accuracy stays "Test accuracy", the mirrored one has
    its own metric; a run without it shows none."""
    import shutil

    at = open_page(make_app, "model", model_id="default")
    assert "With mirror images" not in {m.label for m in at.metric}
    shutil.copy2(paths.ASSETS_DIR / "default.keras", fmnist_home / "mirrored.keras")
    meta = json.loads((paths.ASSETS_DIR / "default.json").read_text())
    meta.update(id="mirrored", name=None, created="2026-11-29T10:00:00+00:00", mirror_accuracy=0.9345)
    (fmnist_home / "mirrored.json").write_text(json.dumps(meta))
    rerun(at, "mirrored")
    assert not at.exception, exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{meta['test_accuracy']:.2%}"
    assert metrics["With mirror images"] == "93.45%"


def confusion_of(at) -> dict:
    """What the Model page sent its confusion matrix (ui/components/confusion_grid.py's grid_data)."""
    grids = [e for e in at.get("bidi_component") if e.proto.component_name == "fmnist_confusion_matrix"]
    assert len(grids) == 1, f"{len(grids)} confusion matrices on the page"
    return json.loads(grids[0].proto.json)


def test_training_curves_are_one_chart_of_the_runs_history(make_app) -> None:
    """Loss and accuracy side by side in one figure (one chart to build when the model changes, not two)."""
    at = open_page(make_app, "model", model_id="default")
    history = store.get_run("default").metadata.history
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    pairs = [
        c
        for c in charts
        if [a.get("text") for a in c["layout"].get("annotations", [])][:2]
        == [
            "Loss per epoch",
            "Accuracy per epoch",
        ]
    ]
    assert len(pairs) == 1, [c["layout"].get("annotations") for c in charts]
    traces = {(t["name"], t.get("xaxis", "x")): plotly_array(t["y"]) for t in pairs[0]["data"]}
    np.testing.assert_allclose(traces[("train", "x")], [row.loss for row in history])
    np.testing.assert_allclose(traces[("test", "x")], [row.test_loss for row in history])
    np.testing.assert_allclose(traces[("train", "x2")], [row.accuracy for row in history])
    np.testing.assert_allclose(traces[("test", "x2")], [row.test_accuracy for row in history])


def test_a_run_whose_train_accuracy_ends_below_test_says_why(make_app, fmnist_home: Path) -> None:
    """The shipped default ends at 96% train, 92% test: no sentence. A run of its files whose last epoch reads 88%
    train, 91% test (dropout and flips can do that) gets the sentence under its curves."""
    import shutil

    from fmnist_core.runs.records import why_train_below_test

    at = open_page(make_app, "model", model_id="default")
    assert not at.exception, exceptions(at)
    assert not [c for c in texts(at.caption) if c.startswith("Train accuracy (")], texts(at.caption)

    shutil.copy2(paths.ASSETS_DIR / "default.keras", fmnist_home / "below.keras")
    meta = json.loads((paths.ASSETS_DIR / "default.json").read_text())
    meta.update(id="below", name=None, created="2026-11-29T10:00:00+00:00")
    meta["history"][-1].update(accuracy=0.88, test_accuracy=0.91)
    (fmnist_home / "below.json").write_text(json.dumps(meta))
    expected = why_train_below_test(store.get_run("below").metadata.history[-1])
    assert expected is not None and expected.startswith("Train accuracy (88%) is below test accuracy (91%)")
    rerun(at, "below")
    assert not at.exception, exceptions(at)
    assert expected in texts(at.caption), texts(at.caption)


def test_confusion_matrix_and_per_class_table_agree(make_app) -> None:
    at = open_page(make_app, "model", model_id="default")
    grid = confusion_of(at)
    z = np.asarray(grid["z"])
    assert grid["names"] == list(CLASS_NAMES)
    # The darkest fill is the largest count, and its text is white; a zero cell is the palest, with dark text.
    assert grid["fill"][int(z.argmax() // 10)][int(z.argmax() % 10)] == "rgb(8, 48, 107)"
    assert grid["ink"][int(z.argmax() // 10)][int(z.argmax() % 10)] == "#ffffff"
    zero = np.argwhere(z == 0)[0]
    assert grid["fill"][zero[0]][zero[1]] == "rgb(247, 251, 255)" and grid["ink"][zero[0]][zero[1]] != "#ffffff"
    assert z.shape == (10, 10) and z.sum() == 10_000
    shipped = json.loads((paths.ASSETS_DIR / "default.json").read_text())["test_accuracy"]
    assert np.trace(z) == round(shipped * 10_000)
    table = next(df.value for df in at.dataframe if "recall" in df.value.columns)
    assert len(table) == 10
    np.testing.assert_allclose(table["recall"].to_numpy(), np.diag(z) / z.sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(table["precision"].to_numpy(), np.diag(z) / z.sum(axis=0), atol=1e-9)
    assert table["support"].tolist() == [1000] * 10


def test_delete_asks_first_and_cancel_keeps_the_run(make_app, tiny_run: str, fmnist_home: Path) -> None:
    at = open_page(make_app, "model", model_id="default")
    assert at.selectbox(key="del_target").options == [store.get_run(tiny_run).label()]  # shipped ones are not offered
    _button(at, "del_ask").click()
    rerun(at, "default")
    label = store.get_run(tiny_run).label()
    assert any(f"Delete run **{label}** (id {tiny_run})?" in w for w in texts(at.warning)), texts(at.warning)
    assert (fmnist_home / f"{tiny_run}.json").exists()
    _button(at, "del_cancel").click()
    rerun(at, "default")
    assert not at.warning and (fmnist_home / f"{tiny_run}.json").exists()

    _button(at, "del_ask").click()
    rerun(at, "default")
    _button(at, "del_confirm").click()
    rerun(at, "default")
    assert not at.exception, exceptions(at)
    assert any(f"Deleted run {tiny_run}" in s for s in texts(at.success)), texts(at.success)
    assert not (fmnist_home / f"{tiny_run}.json").exists()
    assert not (fmnist_home / f"{tiny_run}.keras").exists()


def test_saved_runs_table_has_headers_and_readable_times(make_app, tiny_run: str) -> None:
    at = open_page(make_app, "model", model_id="default")
    table = next(df.value for df in at.dataframe if "created" in df.value.columns)
    assert list(table.columns) == ["run", "id", "test accuracy", "status", "preset", "created", "kind"]
    row = table[table["id"] == tiny_run].iloc[0]
    assert row["test accuracy"] == "10.00%"
    created = store.get_run(tiny_run).created
    assert row["created"] == f"{created[:10]} {created[11:16]} UTC", (row["created"], created)


def test_delete_active_run_falls_back_to_default(make_app, tiny_run: str) -> None:
    at = open_page(make_app, "model", model_id=tiny_run)
    assert store.get_run(tiny_run).label() in texts(at.subheader)
    _button(at, "del_ask").click().run()
    _button(at, "del_confirm").click().run()
    assert not at.exception, exceptions(at)
    assert at.session_state["model_id"] == "default"
    assert store.get_run("default").label() in texts(at.subheader)
    assert tiny_run not in [r.id for r in store.list_runs()]


@pytest.mark.slow
def test_compare_runs_short_labels_colours_and_smoothing_note(make_app, trained_runs: list[str]) -> None:
    at = open_page(make_app, "model", model_id="default")
    assert not at.exception, exceptions(at)
    picker = at.multiselect(key="cmp_runs")
    assert set(picker.value) == set(trained_runs)  # the two newest comparable runs by default
    spec = plotly_figure(at, "Test accuracy per epoch")
    names = [trace["name"] for trace in spec["data"]]
    assert all(n.startswith(("fast · ", "improved · ")) and len(n) <= 34 for n in names), names
    colours = [trace["line"]["color"] for trace in spec["data"]]
    assert len(set(colours)) == len(colours)
    # The note appears exactly when a compared preset trains with label smoothing (improved does).
    smoothing = any(PRESETS[preset].label_smoothing for preset in ("fast", "improved"))
    assert any("label smoothing" in c for c in texts(at.caption)) == smoothing, texts(at.caption)
    table = next(df.value for df in at.dataframe if "images/s" in df.value.columns)
    assert all(isinstance(v, int | np.integer) for v in table["images/s"]), table["images/s"].tolist()
    assert all(v == round(v, 1) for v in table["seconds"])
    assert all(str(v).endswith("%") for v in table["test accuracy"])


def test_compare_charts_fit_accuracy_within_0_and_1_with_the_legend_below() -> None:
    """Two one-epoch runs at the same accuracy: plotly's own range for them ran from -0.5 to 1.5. The accuracy axis
    fits the values within 0..1, loss never goes below 0, and the legend sits under the plot."""
    from fmnist_core.runs.records import EpochRow
    from ui.figures.curves import compare_curves

    runs = {
        "ada · quick": [EpochRow(epoch=1, test_accuracy=0.5, test_loss=1.2)],
        "bob · quick": [EpochRow(epoch=1, test_accuracy=0.5, test_loss=1.2)],
    }
    accuracy = compare_curves(runs, "accuracy", "Test accuracy per epoch").layout
    low, high = accuracy.yaxis.range
    assert 0 <= low < 0.5 < high <= 1 and high - low <= 0.1, accuracy.yaxis.range
    near_one = {"a": [EpochRow(epoch=1, test_accuracy=0.99)], "b": [EpochRow(epoch=1, test_accuracy=1.0)]}
    low, high = compare_curves(near_one, "accuracy", "Test accuracy per epoch").layout.yaxis.range
    assert 0.9 <= low < 0.99 and high == 1, (low, high)
    loss = compare_curves(runs, "loss", "Test loss per epoch").layout
    assert loss.yaxis.rangemode == "nonnegative"
    for layout in (accuracy, loss):
        assert layout.legend.orientation == "h" and layout.legend.yref == "container" and layout.legend.y == 0


def test_compare_selection_survives_deleting_another_run(make_app, trained_runs: list[str], tiny_run: str) -> None:
    # tiny_run has no history, so it is not comparable; add the shipped 'default' to the comparison instead.
    at = open_page(make_app, "model", model_id="default")
    at.multiselect(key="cmp_runs").set_value([*trained_runs, "default"])
    rerun(at, "default")
    at.selectbox(key="del_target").set_value(trained_runs[0])
    rerun(at, "default")  # as in a browser: choosing in the box reruns before the button can be pressed
    _button(at, "del_ask").click()
    rerun(at, "default")
    _button(at, "del_confirm").click()
    rerun(at, "default")
    assert not at.exception, exceptions(at)
    assert any(f"Deleted run {trained_runs[0]}" in s for s in texts(at.success)), (texts(at.success), texts(at.warning))
    assert at.multiselect(key="cmp_runs").value == [trained_runs[1], "default"]


def test_fields_this_version_does_not_know_are_listed(make_app, tiny_run: str, fmnist_home: Path) -> None:
    at = open_page(make_app, "model", model_id=tiny_run)
    assert not any("unknown fields" in c for c in texts(at.caption)), "a freshly saved run has no unknown fields"
    path = fmnist_home / f"{tiny_run}.json"
    raw = json.loads(path.read_text())
    raw["teacher_comment"] = "good"
    raw["settings"] = {"preset": "notebook", "optimizer": "lion"}
    path.write_text(json.dumps(raw))
    at = open_page(make_app, "model", model_id=tiny_run)
    assert not at.exception, exceptions(at)
    shown = [c for c in texts(at.caption) if "unknown fields" in c]
    assert shown and shown[0].endswith("unknown fields: teacher_comment, settings.optimizer"), shown
