"""Your own network end to end: a spec trains in the worker, saves, loads, and every analysis works on it
(activations, exemplars, Grad-CAM, saliency, how a cell is computed), for 1, 3 and 4 conv blocks with 'valid'
and 'same' padding; and `train --arch` on the command line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.data import fashion_mnist
from fmnist_core.nets import architecture
from fmnist_core.nets.presets import ConfigError, TrainConfig
from fmnist_core.runs import store
from helpers import PYTHON, REAL_DATA_DIR, REPO_ROOT, requires_real_data, subprocess_env

pytestmark = requires_real_data
TIMEOUT = 240
SPECS = {
    "one-valid": {"conv": [{"filters": 8, "kernel": 5}], "dense": [32]},
    "three-same": {
        "conv": [
            {"filters": 8, "kernel": 3, "padding": "same", "batch_norm": True},
            {"filters": 12, "kernel": 3, "padding": "same", "pool": "avg"},
            {"filters": 16, "kernel": 3, "padding": "same", "pool": "none"},
        ],
        "dense": [],
        "activation": "gelu",
    },
    "four-mixed": {
        "conv": [
            {"filters": 8, "kernel": 3, "padding": "same"},
            {"filters": 8, "kernel": 3, "padding": "same", "batch_norm": True},
            {"filters": 16, "kernel": 3, "padding": "valid", "pool": "none"},
            {"filters": 16, "kernel": 1, "padding": "valid", "pool": "max"},
        ],
        "dense": [64, 32],
        "dropout": 0.2,
        "activation": "elu",
    },
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    """Each spec trained once (600 images, 1 epoch) through the real worker process."""
    from fmnist_core.training.jobs import TrainingJob

    home = tmp_path_factory.mktemp("custom_runs")
    out = {}
    for name, spec in SPECS.items():
        job = TrainingJob(
            TrainConfig(preset="custom", arch=spec, epochs=1, limit=600, seed=5),
            home=home,
            data_dir=str(REAL_DATA_DIR),
            run_id=f"custom-{name}",
            actor=people.LOCAL,
        ).start()
        assert job.wait(TIMEOUT), job.snapshot().phase
        snap = job.snapshot()
        assert snap.state == "done" and snap.run_id == f"custom-{name}", snap.error
        out[name] = (snap.run_id, home)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
def test_a_custom_network_trains_saves_and_every_analysis_works(trained, name: str) -> None:
    from fmnist_core.analysis.activations import channel_maxima, layer_outputs, top_exemplars
    from fmnist_core.explain.cells import explain_cell
    from fmnist_core.explain.gradcam import grad_cam, last_conv_layer
    from fmnist_core.explain.gradients import saliency
    from fmnist_core.nets.keras_models import spatial_layers, summary_rows

    run_id, home = trained[name]
    spec = architecture.parse_spec(SPECS[name])
    described = architecture.describe(spec)
    info = store.get_run(run_id, home=home)
    assert info.metadata.arch == architecture.to_dict(spec)
    assert info.metadata.spec() == spec and info.metadata.preset == "custom"
    model = store.load_model(run_id, home=home)
    assert [r.name for r in summary_rows(model)] == [row.name for row in described.layers]
    assert model.count_params() == described.params

    test = fashion_mnist.load_test_set(REAL_DATA_DIR)
    outputs = layer_outputs(model, test.images[0])
    assert outputs[model.layers[-1].name].shape == (10,)
    convs = [r.name for r in described.layers if r.type == "Conv2D"]
    assert len(convs) == len(spec.conv)
    for layer in spatial_layers(model):
        maxima = channel_maxima(model, test.images[:200], layer)
        top = top_exemplars(maxima, 0, k=3)
        assert len(top) == 3 and top[0].value >= top[-1].value
    last = spatial_layers(model)[-1]
    h, w, _ = outputs[last].shape
    cell = explain_cell(model, test.images[0], last, 0, h // 2, w // 2)
    assert cell.value == pytest.approx(float(outputs[last][h // 2, w // 2, 0]), abs=1e-4)
    cam = grad_cam(model, test.images[0])
    sal = saliency(model, test.images[0])
    assert cam.shape == sal.shape == (28, 28)
    assert np.isfinite(cam).all() and 0 <= cam.min() and cam.max() <= 1
    assert sal.max() == pytest.approx(1.0)
    assert last_conv_layer(model).startswith(("conv2d", "batch_normalization", "activation"))


def test_the_custom_preset_needs_a_valid_spec() -> None:
    with pytest.raises(ConfigError, match="needs a network spec"):
        TrainConfig(preset="custom").resolved()
    with pytest.raises(ConfigError, match="network spec is invalid: .*kernel"):
        TrainConfig(preset="custom", arch={"conv": [{"filters": 8, "kernel": 4}]}).resolved()
    resolved = TrainConfig(preset="custom", arch={"conv": [{"filters": 8, "kernel": 3}]}).resolved()
    assert resolved.arch == architecture.to_dict(architecture.parse_spec({"conv": [{"filters": 8, "kernel": 3}]}))


def test_cli_trains_a_spec_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    spec_file = tmp_path / "net.json"
    spec_file.write_text(json.dumps(SPECS["one-valid"]))
    home = tmp_path / "home"
    env = subprocess_env(home)
    args = ["train", "--arch", str(spec_file), "--epochs", "1", "--limit", "600", "--json"]
    proc = subprocess.run(
        [PYTHON, "-m", "fmnist_core", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(proc.stdout)
    assert payload["preset"] == "custom"
    assert payload["arch"] == architecture.to_dict(architecture.parse_spec(SPECS["one-valid"]))
    assert store.get_run(payload["run_id"], home=home).metadata.arch == payload["arch"]

    spec_file.write_text(json.dumps({"conv": [{"filters": 8, "kernel": 3}] * 5}))
    bad = subprocess.run(
        [PYTHON, "-m", "fmnist_core", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "block" in bad.stderr, bad.stderr
