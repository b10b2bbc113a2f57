"""python -m fmnist_core: real subprocesses for train/models/evaluate/predict/activations and for bad input."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fmnist_core.cli import commands, train
from fmnist_core.cli.common import CliError
from fmnist_core.data import fashion_mnist
from helpers import HAS_REAL_DATA, PYTHON, REAL_DATA_DIR, REPO_ROOT, subprocess_env

pytestmark = pytest.mark.skipif(not HAS_REAL_DATA, reason=f"real Fashion-MNIST not found in {REAL_DATA_DIR}")

TRAIN_KEYS = {
    "run_id",
    "epochs",
    "seconds",
    "samples_per_second",
    "seconds_to_target",
    "test_loss",
    "test_accuracy",
    "history",
}
LAYER_SHAPES = [
    ("conv2d", [26, 26, 64]),
    ("max_pooling2d", [13, 13, 64]),
    ("conv2d_1", [11, 11, 64]),
    ("max_pooling2d_1", [5, 5, 64]),
    ("flatten", [1600]),
    ("dense", [128]),
    ("dense_1", [10]),
]


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m fmnist_core ARGS` with our store, the real data via FMNIST_DATA_DIR, TF_CPP_MIN_LOG_LEVEL unset."""
    return subprocess.run(
        [PYTHON, "-m", "fmnist_core", *args],
        cwd=REPO_ROOT,
        env=subprocess_env(home, FMNIST_DATA_DIR=str(REAL_DATA_DIR)),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def run_many(home: Path, commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
    """Several CLI calls at once: each child spends seconds importing TensorFlow."""
    with ThreadPoolExecutor(4) as pool:
        futures = {name: pool.submit(run_cli, home, *args) for name, args in commands.items()}
        return {name: future.result() for name, future in futures.items()}


def assert_quiet(stderr: str) -> None:
    """No TensorFlow start-up noise and no traceback reaches the user."""
    lowered = stderr.lower()
    assert "cuda" not in lowered and "onednn" not in lowered, stderr
    assert "Traceback" not in stderr, stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    # A damaged run: garbage model file next to valid metadata.
    (home / "broken.keras").write_bytes(b"this is not a keras file")
    broken = {"id": "broken", "preset": "notebook", "test_accuracy": 0.5, "created": "2020"}  # a run names its id
    (home / "broken.json").write_text(json.dumps(broken))
    return home


@pytest.fixture(scope="module")
def trained(home: Path) -> tuple[dict, subprocess.CompletedProcess]:
    proc = run_cli(home, "train", "--epochs", "1", "--limit", "2000", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


@pytest.fixture(scope="module")
def results(home: Path, trained: tuple[dict, subprocess.CompletedProcess]) -> dict[str, subprocess.CompletedProcess]:
    run_id = trained[0]["run_id"]
    return run_many(
        home,
        {
            "models": ["models", "--json"],
            "evaluate": ["evaluate", "--model", run_id, "--json"],
            "predict": ["predict", "--index", "0", "--model", run_id, "--json"],
            "activations": ["activations", "--index", "0", "--json", "--model", run_id],
        },
    )


@pytest.mark.slow
def test_train_json(trained: tuple[dict, subprocess.CompletedProcess]) -> None:
    payload, proc = trained
    assert TRAIN_KEYS <= set(payload)
    assert payload["epochs"] == 1 and len(payload["history"]) == 1
    assert payload["status"] == "finished" and payload["preset"] == "fast"
    assert 0.5 < payload["test_accuracy"] <= 1 and payload["test_loss"] > 0
    assert payload["seconds"] > 0 and payload["samples_per_second"] > 0
    reached = max(row["test_accuracy"] for row in payload["history"]) >= 0.9137
    assert (payload["seconds_to_target"] is not None) == reached
    assert "epoch 1/1: loss" in proc.stderr  # progress goes to stderr when stdout is JSON
    assert_quiet(proc.stderr)


@pytest.mark.slow
def test_models_lists_the_run(
    results: dict[str, subprocess.CompletedProcess], trained: tuple[dict, subprocess.CompletedProcess]
) -> None:
    payload = trained[0]
    proc = results["models"]
    assert proc.returncode == 0, proc.stderr
    runs = {r["id"]: r for r in json.loads(proc.stdout)}
    run = runs[payload["run_id"]]
    assert {"id", "test_accuracy", "created", "preset", "status"} <= set(run)
    assert (run["status"], run["preset"]) == ("finished", "fast")
    assert run["test_accuracy"] == payload["test_accuracy"]
    assert runs["broken"]["status"] == "damaged" and runs["broken"]["error"]
    assert_quiet(proc.stderr)


def test_evaluate(
    results: dict[str, subprocess.CompletedProcess], trained: tuple[dict, subprocess.CompletedProcess]
) -> None:
    proc = results["evaluate"]
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert {"model", "loss", "accuracy", "n"} <= set(out)
    assert out["model"] == trained[0]["run_id"] and out["n"] == 10_000
    assert out["accuracy"] == pytest.approx(trained[0]["test_accuracy"], abs=1e-6)
    assert out["loss"] == pytest.approx(trained[0]["test_loss"], abs=1e-5)
    assert_quiet(proc.stderr)


def test_predict(results: dict[str, subprocess.CompletedProcess]) -> None:
    proc = results["predict"]
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["index"], out["actual"], out["actual_label"]) == (0, 9, "Ankle boot")
    probs = out["probabilities"]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=1e-6)
    assert out["predicted"] == max(range(10), key=probs.__getitem__)
    assert out["predicted_label"] == fashion_mnist.CLASS_NAMES[out["predicted"]]
    assert out["correct"] == (out["predicted"] == 9)
    assert_quiet(proc.stderr)


def test_activations(results: dict[str, subprocess.CompletedProcess]) -> None:
    proc = results["activations"]
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["index"] == 0
    assert [(layer["name"], layer["shape"]) for layer in out["layers"]] == LAYER_SHAPES
    assert all(layer["min"] >= 0 for layer in out["layers"])  # ReLU, pooling and softmax outputs
    assert out["layers"][-1]["max"] <= 1.0
    assert_quiet(proc.stderr)


# Bad input: (arguments, exit code, a fragment of the one-line message). Each is a real process (4 s apiece,
# most of it importing TensorFlow), so further cases are checked in-process below.
BAD = {
    "epochs_0": (["train", "--epochs", "0"], 2, "must be 1 or more"),
    "epochs_negative": (["train", "--epochs", "-1"], 2, "must be 1 or more"),
    "index_10000": (["predict", "--index", "10000"], 2, "from 0 to 9999"),
    "index_negative": (["predict", "--index", "-1"], 2, "from 0 to 9999"),
    "index_abc": (["predict", "--index", "abc"], 2, "whole number"),
    "model_path": (["predict", "--index", "0", "--model", "../etc"], 1, "invalid run id"),
    "model_unknown": (["predict", "--index", "0", "--model", "unknown"], 1, "no saved run with id 'unknown'"),
    "model_damaged": (["evaluate", "--model", "broken"], 1, "run broken is damaged"),
    "data_dir_missing": (["evaluate", "--data-dir", "/nonexistent"], 1, "/nonexistent/"),
}


@pytest.fixture(scope="module")
def bad_results(home: Path) -> dict[str, subprocess.CompletedProcess]:
    return run_many(home, {name: args for name, (args, _, _) in BAD.items()})


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_and_a_nonzero_exit(bad_results: dict, case: str) -> None:
    _, code, fragment = BAD[case]
    proc = bad_results[case]
    lines = proc.stderr.splitlines()
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0]
    assert proc.stdout == ""
    assert_quiet(proc.stderr)


def test_missing_data_message_says_how_to_get_it(bad_results: dict) -> None:
    message = bad_results["data_dir_missing"].stderr
    assert "apt-get install dataset-fashion-mnist" in message and "FMNIST_DATA_DIR" in message


@pytest.fixture
def in_process(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cli.main() in this process, on the module's store and the real data."""
    monkeypatch.setenv("FMNIST_HOME", str(home))
    monkeypatch.setenv("FMNIST_DATA_DIR", str(REAL_DATA_DIR))
    return home


def test_text_output(in_process: Path, trained: tuple[dict, subprocess.CompletedProcess], capsys) -> None:
    run_id = trained[0]["run_id"]
    assert commands.main(["predict", "--index", "0", "--model", run_id]) == 0
    out = json.loads(trained[1].stdout)  # the same numbers as --json gives
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and lines[0].startswith("image 0: predicted ") and lines[0].endswith("actual 9 Ankle boot")
    assert lines[10].split()[:3] == ["9", "Ankle", "boot"]
    assert commands.main(["models"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["id", "accuracy", "status"]
    row = next(line for line in table if line.startswith(run_id))
    assert f"{out['test_accuracy']:.4f}" in row and "finished" in row
    assert any(line.startswith("broken") and "damaged" in line for line in table)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["train", "--learning-rate", "5"], 1, "learning rate must be a number in (0, 1]"),
        (["train", "--limit", "60001"], 1, "training images must be a whole number from 1 to 60000"),
        (["train", "--run-id", "a/b", "--limit", "1"], 1, "invalid run id"),
        (["train", "--preset", "turbo"], 2, "invalid choice: 'turbo'"),
        (["train", "--preset", "seed", "--limit", "60001"], 1, "training images must be a whole number"),
        (["train", "--learning-rate", "abc"], 2, "invalid float value"),
        (["models", "--delete", "nope"], 1, "no saved run with id 'nope'"),
        ([], 2, "required: command"),
    ],
)
def test_more_bad_input_in_process(in_process: Path, capsys, args: list[str], code: int, fragment: str) -> None:
    try:
        result = commands.main(args)
    except SystemExit as exc:  # argparse's errors
        result = exc.code
    err = capsys.readouterr().err
    assert result == code
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and fragment in err, err


def test_an_old_preset_name_has_the_current_presets_network() -> None:
    # "seed" trained (TrainConfig maps it to "notebook"), then the result lookup used the old name: KeyError.
    assert train._preset_spec("seed") == train._preset_spec("notebook") is not None
    assert train._preset_spec("custom") is None  # your own network: the spec comes from --arch
    with pytest.raises(
        CliError, match=r"^unknown preset 'turbo'; choose one of fast, speedrun, quick, improved, notebook, custom$"
    ):
        train._preset_spec("turbo")


def test_common_options_before_the_subcommand(store_home: Path, capsys: pytest.CaptureFixture) -> None:
    assert commands.main(["--json", "models"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
