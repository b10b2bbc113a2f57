"""Feature maps page: the address sets the view and follows it, the second shipped model, the timing log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from fmnist_core.runs import paths
from page_helpers import PAGE_FILES, exceptions, open_page, plotly_array, plotly_figure, plotly_titles, rerun, texts


def test_feature_maps_params_set_the_controls(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.number_input(key="fm_image").value == 0
    assert at.selectbox(key="fm_layer").value == "conv2d"
    assert at.slider(key="fm_channel").value == 1
    assert any("conv2d · channel 1 · 26×26" in t for t in plotly_titles(at)), plotly_titles(at)
    assert any("Input #0 · Ankle boot" in t for t in plotly_titles(at)), plotly_titles(at)
    assert {k: v for k, v in at.query_params.items() if k != "cell"} == {
        "image": "0",
        "layer": "conv2d",
        "channel": "1",
        "model": "default",  # every address carries the active model
    }
    assert re.fullmatch(r"\d+,\d+", at.query_params["cell"])  # the explained cell rides along


def test_feature_maps_other_params_open_their_view(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "110", "layer": "max_pooling2d_1", "channel": "63"})
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.number_input(key="fm_image").value == 110
    assert at.slider(key="fm_channel").value == 63
    assert any("max_pooling2d_1 · channel 63 · 5×5" in t for t in plotly_titles(at)), plotly_titles(at)
    assert any("Input #110 · Pullover" in t for t in plotly_titles(at)), plotly_titles(at)


def test_feature_maps_controls_update_the_url(make_app) -> None:
    # Regression: url_is_new() once saw the absent `source` param as a new link on every rerun, so the
    # address snapped Channel, Layer and Test image back (fixed in ui/session.py, 2d0ffa0).
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    at.slider(key="fm_channel").set_value(5).run()
    assert not at.exception, exceptions(at)
    assert at.slider(key="fm_channel").value == 5
    assert at.query_params["channel"] == "5"
    assert any("conv2d · channel 5" in t for t in plotly_titles(at)), plotly_titles(at)

    at.selectbox(key="fm_layer").set_value("max_pooling2d_1").run()
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.selectbox(key="fm_layer").value == "max_pooling2d_1"
    assert at.query_params["layer"] == "max_pooling2d_1"
    assert any("max_pooling2d_1 · channel 5 · 5×5" in t for t in plotly_titles(at)), plotly_titles(at)


def test_feature_maps_test_image_input_sticks(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    at.number_input(key="fm_image").set_value(5).run()
    assert not at.exception, exceptions(at)
    assert at.number_input(key="fm_image").value == 5
    assert at.query_params["image"] == "5"
    assert any(t.startswith("Input #5 ") for t in plotly_titles(at)), plotly_titles(at)


def test_fmnist_timings_logs_the_channel_fragment(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/interaction.py reads this file for the fragment's server time; without the variable nothing is written."""
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    timings = tmp_path / "timings"
    timings.mkdir()
    at.slider(key="fm_channel").set_value(2).run()
    assert not list(timings.iterdir())
    log = timings / "timings.jsonl"
    monkeypatch.setenv("FMNIST_TIMINGS", str(log))
    at.slider(key="fm_channel").set_value(3).run()
    assert not at.exception, exceptions(at)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    # The fragment's own time, and the page run around it (AppTest reruns the whole script; a browser the fragment).
    assert rows and {r["label"] for r in rows} == {"feature_maps.layer_view", "page feature_maps"}
    assert all(0 < r["ms"] < 60_000 for r in rows)


@pytest.mark.skipif(not (paths.ASSETS_DIR / "improved.keras").exists(), reason="the improved model is not shipped")
def test_improved_model_works_on_feature_maps_and_model_pages(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "31"}, model_id="improved")
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.selectbox(key="fm_layer").options == [
        "conv2d (28, 28, 32)",
        "conv2d_1 (28, 28, 32)",
        "max_pooling2d (14, 14, 32)",
        "conv2d_2 (14, 14, 64)",
        "conv2d_3 (14, 14, 64)",
        "max_pooling2d_1 (7, 7, 64)",
    ]
    assert any("conv2d · channel 31 · 28×28" in t for t in plotly_titles(at)), plotly_titles(at)
    at.query_params.update({"channel": "40"})  # conv2d has 32 channels here, unlike the notebook's 64
    rerun(at, "improved")
    assert any("Channel 40 does not exist in conv2d (0..31)" in t for t in texts(at.warning)), texts(at.warning)

    at = open_page(make_app, "model", model_id="improved")
    assert not at.exception, exceptions(at)
    assert any("the 32 3×3 kernels of conv2d" in t for t in texts(at.markdown)), texts(at.markdown)
    assert "BatchNormalization" in at.dataframe[0].value.to_string()


def test_layer_channel_and_scale_survive_a_visit_elsewhere(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "3", "layer": "conv2d_1", "channel": "7"})
    at.radio(key="fm_scale").set_value("Shared").run()
    at.switch_page(PAGE_FILES["home"]).run()
    at.switch_page(PAGE_FILES["feature_maps"]).run()
    assert not at.exception, exceptions(at)
    assert at.number_input(key="fm_image").value == 3
    assert at.selectbox(key="fm_layer").value == "conv2d_1"
    assert at.slider(key="fm_channel").value == 7
    assert at.radio(key="fm_scale").value == "Shared"
    assert any("All 64 channels of conv2d_1 (shared scale)" in t for t in plotly_titles(at)), plotly_titles(at)


def test_per_channel_scale_rescales_tiles_and_hover_keeps_raw_values(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "0"})
    spec = plotly_figure(at, "All 64 channels of conv2d (per channel scale)")
    z = plotly_array(spec["data"][0]["z"]).astype(float)
    custom = plotly_array(spec["data"][0]["customdata"]).astype(float)
    assert np.nanmax(z) <= 1.0 + 1e-6 and np.nanmin(z) >= 0.0
    assert np.nanmax(custom[..., 1]) > 1.0 or not np.allclose(custom[..., 1], np.nan_to_num(z))  # raw values
    labels = spec["data"][1]  # each tile's channel number at its top-left corner, one text trace
    assert labels["mode"] == "text" and labels["text"] == [str(k) for k in range(64)]
    tiles = plotly_array(spec["data"][0]["customdata"])[..., 0]
    for x, y, text in zip(labels["x"], labels["y"], labels["text"], strict=True):
        assert tiles[int(y + 0.5), int(x + 0.5)] == int(text)  # the corner pixel belongs to that channel


def test_source_upload_shows_the_uploaded_image(make_app) -> None:
    from fmnist_core.data import fashion_mnist
    from ui.components.upload import UPLOAD_KEY

    test = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR)
    at = make_app()
    at.session_state[UPLOAD_KEY] = {
        "name": "pullover.png",
        "digest": "up110",
        "image": test.images[110],
        "original": test.images[110],
        "notes": [],
    }
    at.run()
    at.switch_page(PAGE_FILES["feature_maps"])
    at.query_params.update({"source": "upload", "layer": "conv2d", "channel": "2"})
    at.run()
    assert not at.exception, exceptions(at)
    assert at.radio(key="fm_source").value == "Uploaded image"
    assert any("Uploaded · pullover.png" in t for t in plotly_titles(at)), plotly_titles(at)
    assert at.query_params["source"] == "upload"
