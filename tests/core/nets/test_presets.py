"""What the README claims about the recipes: the presets pinned by literal values, bfloat16 detection on fake
/proc/cpuinfo contents, the seed preset as the notebook (fit on float64 numpy arrays, batch 32), and training
inputs and validation fed through thread-free tf.data pipelines (no autotune, no prefetch)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fmnist_core.nets import architecture
from fmnist_core.nets.presets import PRESETS, TrainConfig, bfloat16_supported
from fmnist_core.runs import metadata
from fmnist_core.training import worker
from fmnist_core.training.events import Ended, Failed
from helpers import REAL_DATA_DIR, requires_real_data

# tf.data ops that run their own threads (prefetching, parallel map/interleave/batch).
THREADED_OPS = {
    "PrefetchDataset",
    "ParallelMapDataset",
    "ParallelMapDatasetV2",
    "ParallelInterleaveDatasetV2",
    "ParallelInterleaveDatasetV3",
    "ParallelInterleaveDatasetV4",
    "ParallelBatchDataset",
    "MapAndBatchDataset",
}
ZEN5_FLAGS = "fpu vme sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni"
XEON_FLAGS = "fpu vme sse2 avx2 avx512f avx512bw avx512_vnni"


def test_the_fast_recipe() -> None:
    fast = PRESETS["fast"]
    assert (fast.architecture, fast.epochs, fast.batch_size, fast.learning_rate) == ("notebook_cnn", 10, 128, 3e-3)
    assert (fast.precision, fast.input_dtype, fast.feed, fast.schedule) == (
        "mixed_bfloat16",
        "float32",
        "dataset",
        "cosine",
    )
    assert (fast.steps_per_execution, fast.augment, fast.label_smoothing) == (8, ("flip",), 0.0)


def test_the_improved_recipe_and_network() -> None:
    improved = PRESETS["improved"]
    assert (improved.architecture, improved.epochs, improved.batch_size, improved.learning_rate) == (
        "deep_cnn",
        15,
        128,
        3e-3,
    )
    assert (improved.precision, improved.input_dtype, improved.feed, improved.schedule) == (
        "mixed_bfloat16",
        "float32",
        "dataset",
        "cosine",
    )
    assert (improved.steps_per_execution, improved.augment, improved.label_smoothing) == (8, ("flip", "shift"), 0.1)
    block = {"kernel": 3, "padding": "same", "batch_norm": True}
    assert architecture.to_dict(architecture.PRESET_SPECS["deep_cnn"]) == {
        "conv": [
            {"filters": 32, **block, "pool": "none"},
            {"filters": 32, **block, "pool": "max"},
            {"filters": 64, **block, "pool": "none"},
            {"filters": 64, **block, "pool": "max"},
        ],
        "dense": [256],
        "dropout": 0.3,
        "activation": "relu",
    }
    described = architecture.describe(architecture.PRESET_SPECS["deep_cnn"])
    assert described.params == 871_210
    assert [r.name for r in described.layers if r.type in ("Conv2D", "MaxPooling2D")] == [
        "conv2d",
        "conv2d_1",
        "max_pooling2d",
        "conv2d_2",
        "conv2d_3",
        "max_pooling2d_1",
    ]


def test_the_notebook_recipe_is_the_notebooks() -> None:
    seed = PRESETS["notebook"]
    assert (seed.architecture, seed.epochs, seed.batch_size, seed.learning_rate) == ("notebook_cnn", 5, 32, 1e-3)
    assert (seed.precision, seed.input_dtype, seed.feed, seed.schedule) == ("float32", "float64", "numpy", "constant")
    assert (seed.steps_per_execution, seed.augment, seed.label_smoothing) == (1, (), 0.0)


def test_descriptions_say_which_network() -> None:
    # The issue: "fast: Same architecture; ..." (same as what?) and "the notebook's recipe" (which notebook?).
    for name in ("fast", "notebook"):
        assert PRESETS[name].description.startswith("The original Keras tutorial network (2 convs)"), name
    for preset in PRESETS.values():
        assert "notebook" not in preset.description.lower() and "same architecture" not in preset.description.lower()
        assert ".." not in preset.description and "minutes" not in preset.description  # times: the Train page's


@pytest.mark.parametrize(
    ("cpuinfo", "machine", "native"),
    [
        (f"processor\t: 0\nflags\t\t: {ZEN5_FLAGS}\n", "x86_64", True),
        (f"processor\t: 0\nflags\t\t: {XEON_FLAGS} amx_bf16 amx_tile\n", "x86_64", True),
        (f"processor\t: 0\nflags\t\t: {XEON_FLAGS}\n", "x86_64", False),
        # An Intel Xeon with avx512_bf16 but no AMX: bfloat16 was slower than float32 there.
        (f"vendor_id\t: GenuineIntel\nflags\t\t: {XEON_FLAGS} avx512_bf16\n", "x86_64", False),
        (f"vendor_id\t: GenuineIntel\nflags\t\t: {XEON_FLAGS} avx512_bf16 amx_bf16 amx_tile\n", "x86_64", True),
        (f"vendor_id\t: AuthenticAMD\nflags\t\t: {ZEN5_FLAGS}\n", "x86_64", True),
        (f"processor\t: 0\nflags\t\t: {ZEN5_FLAGS}\n", "AMD64", True),
        (f"processor\t: 0\nflags\t\t: {ZEN5_FLAGS}\n", "aarch64", False),  # not x86: never, whatever the text says
        ("processor\t: 0\nFeatures\t: fp asimd bf16\n", "aarch64", False),
        ("", "x86_64", False),
    ],
)
def test_bfloat16_detection_on_fake_cpuinfo(cpuinfo: str, machine: str, native: bool) -> None:
    supported, why = bfloat16_supported(cpuinfo=cpuinfo, machine=machine)
    assert supported is native
    # The reason is recorded in the run's metadata and read by learners on the Train page: plain words, no CPU flags.
    assert ("16-bit numbers" if native else "ordinary 32-bit numbers") in why
    assert not any(word in why.lower() for word in ("avx", "amx", "bf16", "bfloat16", "float32", "cpu")), why


def test_bfloat16_detection_with_unreadable_cpuinfo(tmp_path: Path) -> None:
    supported, why = bfloat16_supported(cpuinfo_path=tmp_path / "missing", machine="x86_64")
    assert not supported and why.endswith("so it trained with ordinary 32-bit numbers")
    fake = tmp_path / "cpuinfo"
    fake.write_text(f"flags\t\t: {ZEN5_FLAGS}\n")
    assert bfloat16_supported(cpuinfo_path=fake, machine="x86_64")[0] is True


# --- what the worker feeds to fit, observed in-process ------------------------------------------------------


def _dataset_ops(dataset: Any) -> set[str]:
    """Every op in a tf.data pipeline's graph, its functions' bodies included."""
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def _thread_free(dataset: Any) -> bool:
    options = dataset.options()
    return (
        not (_dataset_ops(dataset) & THREADED_OPS)
        and options.autotune.enabled is False
        and options.experimental_optimization.inject_prefetch is False
        and options.experimental_optimization.map_parallelization is False
    )


def _train_in_process(
    preset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **changes: Any
) -> tuple[list, dict[str, Any]]:
    """Run the worker's Trainer in this process on 512 images, recording what model.fit was called with."""
    import keras

    calls: dict[str, Any] = {}
    real_fit = keras.Model.fit

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.update(kwargs, args=args)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    config = TrainConfig(preset=preset, epochs=1, limit=512, seed=3, **changes).resolved()
    spec = worker.WorkerSpec(config, str(tmp_path), str(REAL_DATA_DIR), None, None, "local-process")
    events: list = []
    worker.Trainer(spec, events.append, threading.Event()).run()
    assert not [e for e in events if isinstance(e, Failed)], [e for e in events if isinstance(e, Failed)]
    assert isinstance(events[-1], Ended)
    return events, calls


@requires_real_data
def test_the_seed_preset_fits_float64_numpy_arrays_with_batch_32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, calls = _train_in_process("notebook", tmp_path, monkeypatch, evaluate_each_epoch=False)
    x, y = calls["args"][:2]
    assert isinstance(x, np.ndarray) and x.dtype == np.float64 and x.shape == (512, 28, 28, 1)
    assert 0.0 <= x.min() and x.max() == 1.0  # /255
    assert isinstance(y, np.ndarray) and y.shape == (512,)
    assert (calls["batch_size"], calls["epochs"], calls.get("shuffle", True)) == (32, 1, True)
    assert calls.get("validation_data") is None  # the notebook's loop: no evaluation between epochs


@requires_real_data
@pytest.mark.parametrize("preset", ["fast", "notebook"])
def test_validation_and_training_pipelines_start_no_threads(
    preset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    # The checker does see Keras' own numpy pipeline (what numpy validation_data would use): autotuned prefetch.
    keras_own = ArrayDataAdapter(np.zeros((64, 28, 28, 1)), np.zeros(64), batch_size=32, shuffle=True)
    assert not _thread_free(keras_own.get_tf_dataset())

    _, calls = _train_in_process(preset, tmp_path, monkeypatch)
    validation = calls["validation_data"]
    assert isinstance(validation, tf.data.Dataset) and _thread_free(validation)
    if preset == "fast":
        assert isinstance(calls["args"][0], tf.data.Dataset) and _thread_free(calls["args"][0])
    images = sum(int(x.shape[0]) for x, _ in validation)
    assert images == 10_000


def test_the_old_name_seed_still_means_the_notebook_preset(tmp_path) -> None:  # noqa: ANN001
    """Once "seed" meant a preset, a network and the random seed; the preset is "notebook" now."""
    import json

    assert TrainConfig(preset="seed").preset == "notebook"
    assert TrainConfig(preset="seed").resolved() == TrainConfig(preset="notebook").resolved()
    (tmp_path / "old.json").write_text(json.dumps({"preset": "seed", "architecture": "seed_cnn"}))
    old = metadata.RunMetadata.from_dict(json.loads((tmp_path / "old.json").read_text()))
    assert (old.preset, old.architecture, old.extra) == ("notebook", "notebook_cnn", {})
