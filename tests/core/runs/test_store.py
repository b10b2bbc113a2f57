"""fmnist_core.runs.store: round trips, id validation, damaged files, incompatible models, atomic and failing saves."""

from __future__ import annotations

import errno
import json
import subprocess
import textwrap
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import keras
import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.nets import architecture
from fmnist_core.nets.keras_models import build_notebook_cnn
from fmnist_core.runs import cache, metadata, paths, store
from fmnist_core.runs.records import EpochRow
from helpers import PYTHON, subprocess_env

META = {"preset": "notebook", "test_accuracy": 0.75, "test_loss": 0.5}


@pytest.fixture(scope="module")
def tiny_model() -> keras.Model:
    return build_notebook_cnn(seed=11)


@pytest.fixture(scope="module")
def good_keras_bytes(tiny_model: keras.Model, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real .keras file's bytes, to copy and damage."""
    home = tmp_path_factory.mktemp("reference")
    store.save_run(tiny_model, META, run_id="reference", home=home)
    return (home / "reference.keras").read_bytes()


def _assert_same_weights(a: keras.Model, b: keras.Model) -> None:
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def _ids(home: Path) -> list[str]:
    return [r.id for r in store.list_runs(home, include_shipped=False)]


def test_home_dir_follows_fmnist_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FMNIST_HOME", str(tmp_path / "h"))
    assert paths.home_dir() == tmp_path / "h"
    monkeypatch.delenv("FMNIST_HOME")
    assert paths.home_dir() == Path("models")


def test_save_list_load_round_trip(store_home: Path, tiny_model: keras.Model) -> None:
    meta = dict(META, test_accuracy=np.float32(0.75), history=[{"epoch": 1, "loss": np.float64(0.5)}])
    run_id = store.save_run(tiny_model, meta, run_id="run-1")
    assert run_id == "run-1"
    assert sorted(p.name for p in store_home.iterdir()) == ["run-1.json", "run-1.keras"]

    (info,) = store.list_runs(include_shipped=False)
    assert (info.id, info.status, info.preset, info.shipped, info.error) == (
        "run-1",
        "finished",
        "notebook",
        False,
        None,
    )
    assert info.test_accuracy == 0.75 and info.test_loss == 0.5 and info.usable
    assert info.label() == f"notebook · {datetime.fromisoformat(info.created):%b %d %H:%M} · 75.00%"
    assert info.metadata.history == [EpochRow(epoch=1, loss=0.5)]  # numpy values saved as plain numbers
    assert info.created and info.created.startswith("20")
    assert json.loads((store_home / "run-1.json").read_text())["id"] == "run-1"
    assert store.get_run("run-1").metadata == info.metadata

    loaded = store.load_model("run-1")
    _assert_same_weights(loaded, tiny_model)
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(tiny_model(x)), atol=1e-6)


def test_generated_ids_are_valid_and_runs_list_newest_first(store_home: Path, tiny_model: keras.Model) -> None:
    older = store.save_run(tiny_model, dict(META, preset="fast", created="2026-01-01T00:00:00+00:00"))
    newer = store.save_run(tiny_model, dict(META, preset="fast", created="2026-02-01T00:00:00+00:00"))
    for run_id in (older, newer):
        assert paths.validate_run_id(run_id) == run_id and "-fast-" in run_id
    assert older != newer
    assert _ids(store_home) == [newer, older]
    odd = paths.new_run_id("../odd preset!" * 3)
    assert paths.validate_run_id(odd) == odd and "/" not in odd


def test_run_without_accuracy_is_labelled_n_a(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, {"preset": "notebook"}, run_id="bare")
    info = store.get_run("bare")
    assert info.test_accuracy is None and info.label().startswith("notebook · ") and info.label().endswith(" · n/a")


def test_stopped_run_is_labelled(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, dict(META, status="stopped"), run_id="half")
    info = store.get_run("half")
    assert info.status == "stopped" and info.usable
    assert info.label().endswith(" · 75.00% · stopped")


def test_runs_alike_in_one_minute_read_apart_in_a_list(store_home: Path, tiny_model: keras.Model) -> None:
    """One person's two trainings of one preset in the same minute, same accuracy: a list tells them apart."""
    same = dict(META, preset="fast", created="2026-12-08T00:58:15+00:00", owner="bob@school.org")
    for run_id in ("20261208-005815-fast-f1a1", "20261208-005816-fast-8eee", "other"):
        store.save_run(tiny_model, same if run_id != "other" else dict(same, preset="improved"), run_id=run_id)
    labels = metadata.distinct_labels(store.list_runs(include_shipped=False), with_owner=True)
    assert labels["20261208-005815-fast-f1a1"] == "bob · fast · Dec 08 00:58 · 75.00% · #f1a1"
    assert labels["20261208-005816-fast-8eee"] == "bob · fast · Dec 08 00:58 · 75.00% · #8eee"
    assert labels["other"] == "bob · improved · Dec 08 00:58 · 75.00%"  # a label no other run has stays as it is
    assert len(set(labels.values())) == len(labels)


def test_a_run_gets_a_readable_name_that_is_checked_and_kept(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, dict(META, preset="fast", created="2026-11-29T15:05:12+00:00"), run_id="r-1")
    assert store.get_run("r-1").label() == "fast · Nov 29 15:05 · 75.00%"
    info = store.rename_run("r-1", "  my   first\tnet ", actor=people.LOCAL)
    assert (info.metadata.name, info.label(), info.id) == ("my first net", "my first net · 75.00%", "r-1")
    assert json.loads((store_home / "r-1.json").read_text())["name"] == "my first net"
    assert store.get_run("r-1").metadata.extra == {}
    for bad, why in (("   ", "at least one"), ("x" * 41, "at most 40"), ("a\x00b", "control")):
        with pytest.raises(store.StoreError, match=why):
            store.rename_run("r-1", bad, actor=people.LOCAL)
    assert store.get_run("r-1").metadata.name == "my first net"  # a refused name changes nothing
    assert store.rename_run("r-1", "", actor=people.LOCAL).metadata.name is None
    with pytest.raises(store.StoreError, match="shipped"):
        store.rename_run("default", "mine", actor=people.LOCAL)
    with pytest.raises(store.StoreError, match="no saved run"):
        store.rename_run("nope", "mine", actor=people.LOCAL)


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x" * 200, None, 5, "a b", "x.keras"])
def test_invalid_run_ids_are_refused_everywhere(store_home: Path, tiny_model: keras.Model, bad: object) -> None:
    with pytest.raises(store.StoreError, match="invalid run id"):
        paths.validate_run_id(bad)
    with pytest.raises(store.StoreError, match="invalid run id"):
        store.load_model(bad)  # type: ignore[arg-type]
    with pytest.raises(store.StoreError, match="invalid run id"):
        store.delete_run(bad, actor=people.LOCAL)  # type: ignore[arg-type]
    if bad:  # an empty id means "generate one"
        with pytest.raises(store.StoreError, match="invalid run id"):
            store.save_run(tiny_model, META, run_id=bad)  # type: ignore[arg-type]
    assert not store_home.exists() or list(store_home.iterdir()) == []
    assert paths.validate_run_id("x" * 80) == "x" * 80


def test_unknown_run(store_home: Path) -> None:
    with pytest.raises(store.StoreError, match="no saved run with id 'nope'"):
        store.load_model("nope")
    with pytest.raises(store.StoreError, match="no saved run"):
        store.delete_run("nope", actor=people.LOCAL)
    assert store.list_runs(include_shipped=False) == []


def test_delete_run(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, META, run_id="gone")
    store.save_run(tiny_model, META, run_id="kept")
    store.delete_run("gone", actor=people.LOCAL)
    assert _ids(store_home) == ["kept"]
    assert sorted(p.name for p in store_home.iterdir()) == ["kept.json", "kept.keras", paths.SHARED_FOLDER]
    assert store.deleted_by("gone") == ""  # without sign-in: "Run gone was deleted"


@pytest.fixture
def fake_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model: keras.Model) -> Path:
    """A shipped model "default" in a temporary assets folder."""
    assets = tmp_path / "assets"
    assets.mkdir()
    monkeypatch.setattr(paths, "ASSETS_DIR", assets.resolve())
    store.save_run(tiny_model, dict(META, test_accuracy=0.9), run_id="default", home=assets)
    return assets


def test_shipped_model_is_listed_first_loads_and_cannot_be_deleted(
    store_home: Path, fake_assets: Path, tiny_model: keras.Model
) -> None:
    store.save_run(build_notebook_cnn(seed=12), META, run_id="mine")
    runs = store.list_runs()
    assert [(r.id, r.shipped) for r in runs] == [("default", True), ("mine", False)]
    assert runs[0].label() == "default (shipped) · 90.00%"
    with pytest.raises(store.StoreError, match="shipped"):
        store.delete_run("default", actor=people.LOCAL)
    assert (fake_assets / "default.keras").is_file()
    # A file in the store with a shipped id does not shadow the shipped model.
    for suffix in (".json", ".keras"):
        (store_home / f"default{suffix}").write_bytes((store_home / f"mine{suffix}").read_bytes())
    assert [r.id for r in store.list_runs()] == ["default", "mine"]
    _assert_same_weights(store.load_model("default"), tiny_model)


def test_saving_under_a_shipped_id_is_refused(store_home: Path, fake_assets: Path) -> None:
    with pytest.raises(store.StoreError, match="shipped"):
        store.save_run(build_notebook_cnn(seed=12), META, run_id="default")


def test_real_shipped_models_cannot_be_deleted(store_home: Path) -> None:
    shipped = sorted(p.stem for p in paths.ASSETS_DIR.glob("*.json"))
    if not shipped:
        pytest.skip("no shipped model in fmnist_core/assets/ yet")
    for run_id in shipped:
        with pytest.raises(store.StoreError, match="shipped"):
            store.delete_run(run_id, actor=people.LOCAL)
        assert (paths.ASSETS_DIR / f"{run_id}.json").is_file()
    assert [r.id for r in store.list_runs() if r.shipped] == sorted(shipped, key=lambda i: (i != "default", i))


def _lambda_model_bytes(tmp_path: Path) -> bytes:
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Lambda(lambda x: x * 2.0, name="doubler"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path.read_bytes()


def _bitflip(raw: bytes) -> bytes:
    """Flip bytes in the middle (inside the weights) but keep the zip directory: only the CRC notices."""
    mid = len(raw) // 2
    return raw[:mid] + bytes(b ^ 0xFF for b in raw[mid : mid + 64]) + raw[mid + 64 :]


DAMAGES = {
    "empty_keras": ("keras", lambda good, tmp: b"", "empty"),
    "random_keras": (
        "keras",
        lambda good, tmp: np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "not a .keras archive",
    ),
    "truncated_keras": ("keras", lambda good, tmp: good[: len(good) // 2], "not a .keras archive"),
    "bitflipped_keras": ("keras", lambda good, tmp: _bitflip(good), "checksum"),
    "lambda_keras": ("keras", lambda good, tmp: _lambda_model_bytes(tmp), "Lambda"),
    "json_not_json": ("json", lambda good, tmp: b'{"preset": "notebook", ', "metadata unreadable"),
    "json_not_object": ("json", lambda good, tmp: b"[1, 2]", "metadata unreadable"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_run_is_listed_refused_and_others_still_work(
    store_home: Path, tiny_model: keras.Model, good_keras_bytes: bytes, tmp_path: Path, damage: str
) -> None:
    which, make, reason = DAMAGES[damage]
    store.save_run(tiny_model, META, run_id="good")
    store.save_run(tiny_model, META, run_id="bad")
    (store_home / f"bad.{which}").write_bytes(make(good_keras_bytes, tmp_path))

    runs = {r.id: r for r in store.list_runs(include_shipped=False)}
    assert set(runs) == {"good", "bad"}
    assert runs["bad"].status == "damaged" and not runs["bad"].usable
    assert reason in runs["bad"].error
    assert runs["bad"].label() == "bad (damaged)"
    assert runs["good"].status == "finished"
    with pytest.raises(store.StoreError, match="run bad is damaged") as err:
        store.load_model("bad")
    assert reason in str(err.value)
    _assert_same_weights(store.load_model("good"), tiny_model)


def test_a_file_damaged_after_listing_is_noticed(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, META, run_id="r")
    assert store.get_run("r").status == "finished"
    (store_home / "r.keras").write_bytes(b"garbage")
    assert store.get_run("r").status == "damaged"


def test_missing_model_file_is_damaged(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, META, run_id="r")
    (store_home / "r.keras").unlink()
    info = store.get_run("r")
    assert info.status == "damaged" and info.error == "model file is missing"


def test_incompatible_model_is_refused(store_home: Path) -> None:
    wrong = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    store.save_run(wrong, META, run_id="cifar")
    assert store.get_run("cifar").status == "finished"  # only loading can tell
    with pytest.raises(store.StoreError, match="incompatible") as err:
        store.load_model("cifar")
    assert "(32, 32, 3)" in str(err.value)


def test_leftovers_of_interrupted_saves_are_not_listed(
    store_home: Path, tiny_model: keras.Model, good_keras_bytes: bytes
) -> None:
    store.save_run(tiny_model, META, run_id="whole")
    (store_home / ".x.tmp.keras").write_bytes(good_keras_bytes[:1000])
    (store_home / ".x.abc123.tmp.json").write_text(json.dumps(META))
    (store_home / "orphan.keras").write_bytes(good_keras_bytes)  # model written, JSON never was
    (store_home / "not an id.json").write_text(json.dumps(META))
    assert _ids(store_home) == ["whole"]


def test_unwritable_store_is_a_read_only_error(tiny_model: keras.Model) -> None:
    # Root ignores file modes, but nobody may create folders at the top of sysfs.
    home = Path("/sys/fmnist-test-store")
    if not Path("/sys").is_dir():
        pytest.skip("no /sys on this system")
    with pytest.raises(store.StoreError, match="read-only or not writable") as err:
        store.save_run(tiny_model, META, run_id="r", home=home)
    assert str(home) in str(err.value)
    assert not home.exists()


def test_rename_refused_is_a_read_only_error_and_leaves_nothing(
    store_home: Path, tiny_model: keras.Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: object, dst: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(store.os, "replace", refuse)
    with pytest.raises(store.StoreError, match=r"could not save run r: .* is read-only or not writable"):
        store.save_run(tiny_model, META, run_id="r")
    assert list(store_home.iterdir()) == []


def test_store_path_under_a_file_is_a_store_error(tmp_path: Path, tiny_model: keras.Model) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    home = blocker / "home"
    with pytest.raises(store.StoreError, match="Not a directory") as err:
        store.save_run(tiny_model, META, run_id="r", home=home)
    assert str(home) in str(err.value)


class _FullDisk:
    """Stands in for a model whose save runs out of space half way."""

    def save(self, path: Path) -> None:
        Path(path).write_bytes(b"PK\x03\x04 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")


def test_saving_over_an_existing_run_is_refused(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, META, run_id="r")
    with pytest.raises(store.StoreError, match="exists already"):
        store.save_run(build_notebook_cnn(seed=3), META, run_id="r")
    _assert_same_weights(store.load_model("r"), tiny_model)


def test_full_disk_keeps_the_previous_version(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, META, run_id="r")
    before = sorted(store_home.iterdir())
    with pytest.raises(store.StoreError, match="the disk holding .* is full"):
        store.save_run(_FullDisk(), dict(META, test_accuracy=0.1), run_id="r2")
    assert sorted(store_home.iterdir()) == before  # no temp file, no half run left behind
    assert store.get_run("r").test_accuracy == 0.75
    _assert_same_weights(store.load_model("r"), tiny_model)


SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fmnist_core.runs import store
    from fmnist_core.nets.keras_models import build_notebook_cnn

    home, prefix = Path(sys.argv[1]), sys.argv[2]
    model = build_notebook_cnn(seed=1)
    for i in range(1000):
        run_id = f"{prefix}-{i:03d}"
        print("saving", run_id, flush=True)
        store.save_run(model, {"preset": "notebook", "test_accuracy": 0.5}, run_id=run_id, home=home)
        print("saved", run_id, flush=True)
    """
)


def _kill_during_save(script: Path, home: Path, prefix: str, kill_at: int, delay: float) -> tuple[list, str]:
    """Run the saver; SIGKILL it `delay` s after it announces its `kill_at`-th save. Returns (saved ids, in flight)."""
    proc = subprocess.Popen(
        [PYTHON, "-u", str(script), str(home), prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(home),
    )
    saved, in_flight, seen = [], "", 0
    try:
        for line in proc.stdout:
            word, run_id = line.split()
            if word == "saved":
                saved.append(run_id)
                continue
            seen, in_flight = seen + 1, run_id
            if seen == kill_at:
                time.sleep(delay)
                proc.kill()
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert seen == kill_at, f"saver died on its own: {proc.stderr.read()[-2000:]}"
    assert proc.returncode == -9
    return saved, in_flight


@pytest.mark.slow
def test_sigkill_mid_save_never_lists_a_half_run(tmp_path: Path, tiny_model: keras.Model) -> None:
    home = tmp_path / "home"
    store.save_run(tiny_model, META, run_id="earlier", home=home)
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = np.random.default_rng(20261128)
    trials = [(f"t{k}", int(rng.integers(2, 6)), float(rng.uniform(0.0, 0.03))) for k in range(3)]
    with ThreadPoolExecutor(len(trials)) as pool:
        results = list(pool.map(lambda t: _kill_during_save(script, home, *t), trials))

    listed = {r.id: r for r in store.list_runs(home, include_shipped=False)}
    expected_weights = build_notebook_cnn(seed=1)
    for (prefix, _, _), (saved, in_flight) in zip(trials, results, strict=True):
        assert set(saved) <= set(listed)  # every completed save survived the later kill
        extra = {rid for rid in listed if rid.startswith(f"{prefix}-")} - set(saved)
        assert extra <= {in_flight}  # only the run being saved may or may not have made it
    assert sum(len(saved) for saved, _ in results) == sum(k - 1 for _, k, _ in trials)
    for run_id, info in listed.items():
        assert info.status == "finished", (run_id, info.error)
        model = store.load_model(run_id, home=home)
        _assert_same_weights(model, tiny_model if run_id == "earlier" else expected_weights)
    assert "earlier" in listed
    leftovers = [p.name for p in home.iterdir() if p.name.startswith(".")]
    assert all(".tmp." in name for name in leftovers)


def test_zip_without_weights_is_damaged(store_home: Path, tiny_model: keras.Model) -> None:
    store.save_run(tiny_model, META, run_id="r")
    with zipfile.ZipFile(store_home / "r.keras", "w") as zf:
        zf.writestr("config.json", "{}")
    assert store.get_run("r").error == "model file lacks its config or weights"


# --- RunMetadata ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("asset", ["default"])  # improved was retrained since: its metadata is version 2
def test_shipped_version_1_metadata_reads_typed(asset: str) -> None:
    raw = json.loads((paths.ASSETS_DIR / f"{asset}.json").read_text())
    assert "version" not in raw  # written before RunMetadata existed
    meta = store.get_run(asset).metadata
    assert meta.version == 1 and meta.extra == {}
    assert meta.id == asset and meta.status == "finished" and meta.created == raw["created"]
    assert meta.test_accuracy == raw["test_accuracy"] and meta.test_loss == raw["test_loss"]
    assert [row.to_dict() for row in meta.history] == [{**row, "train_seconds": None} for row in raw["history"]]
    assert len(meta.history) == raw["settings"]["epochs"] == meta.settings.epochs
    assert meta.batch_trace == raw["batch_trace"]
    assert [(r.name, r.type, list(r.output_shape), r.params) for r in meta.summary] == [
        (r["name"], r["type"], r["output_shape"], r["params"]) for r in raw["summary"]
    ]
    assert meta.params == raw["params"] and meta.train_images == 60_000
    assert meta.settings.seed == 1 and meta.versions["keras"] == "3.15.1" and meta.unknown_fields() == []
    assert (meta.arch, meta.executor, meta.node, meta.input_scaling) == (None, None, None, None)
    # Written back, it is the same object plus the new fields.
    written = meta.to_dict()
    renamed = {"architecture": architecture.preset_architecture(raw["architecture"])}  # seed_cnn reads as notebook_cnn
    # Rows gain the fields added since, with their "unknown" values; nothing else changes.
    renamed["settings"] = {**raw["settings"], "arch": None}
    renamed["history"] = [{**row, "train_seconds": None} for row in raw["history"]]
    renamed["summary"] = [{**row, "flops": None} for row in raw["summary"]]
    assert {k: written[k] for k in raw} == {**raw, **renamed}
    assert set(written) - set(raw) == {
        "version",
        "mirror_accuracy",
        "arch",
        "executor",
        "node",
        "input_scaling",
        "imported_from",
        "notes",
        "owner",
        "name",
        "timings",
    }
    # The preset's architecture gives the spec.
    assert meta.spec() == architecture.PRESET_SPECS[architecture.preset_architecture(raw["architecture"])]
    assert architecture.describe(meta.spec()).params == raw["params"]


def test_metadata_round_trip_keeps_unknown_keys_and_wrong_types(store_home: Path, tiny_model: keras.Model) -> None:
    spec = architecture.to_dict(architecture.NOTEBOOK_SPEC)
    meta = metadata.RunMetadata(
        preset="custom",
        arch=spec,
        settings={"epochs": 1},
        history=[{"epoch": 1, "loss": 0.5}],
        test_accuracy=0.5,
        executor="ray",
        node="n1",
        timings={"total_seconds": 12.5, "steady_train_images": 1024.0},
        extra={"from_the_future": {"x": [1, 2]}},
    )
    run_id = store.save_run(tiny_model, meta, run_id="typed")
    raw = json.loads((store_home / "typed.json").read_text())
    assert raw["version"] == metadata.METADATA_VERSION == 4 and raw["from_the_future"] == {"x": [1, 2]}
    assert "extra" not in raw
    read = store.get_run(run_id).metadata
    assert read == metadata.RunMetadata(**{**vars(meta), "id": "typed", "created": raw["created"]})
    assert read.spec() == architecture.NOTEBOOK_SPEC
    # A known key with a value of the wrong type is kept as written (in extra), not lost or trusted.
    odd = metadata.RunMetadata.from_dict(
        {"params": "many", "test_accuracy": True, "status": "finished", "history": None, "timings": {"total": "slow"}}
    )
    assert odd.params is None and odd.test_accuracy is None and odd.history == [] and odd.timings == {}
    assert odd.extra == {"params": "many", "test_accuracy": True, "timings": {"total": "slow"}}
    assert odd.to_dict()["params"] == "many" and odd.version == 1
    # A dict given to save_run is converted the same way.
    store.save_run(tiny_model, {"preset": "notebook", "mystery": 3}, run_id="from-dict")
    assert store.get_run("from-dict").metadata.extra == {"mystery": 3}
    assert store.get_run("from-dict").metadata.version == metadata.METADATA_VERSION


def test_fields_this_version_does_not_know_load_are_listed_and_survive_a_rename(
    store_home: Path, tiny_model: keras.Model
) -> None:
    store.save_run(tiny_model, {"preset": "fast", "settings": {"epochs": 2}, "history": [{"epoch": 1}]}, run_id="new")
    path = store_home / "new.json"
    raw = json.loads(path.read_text())
    assert store.get_run("new").metadata.unknown_fields() == []
    # A newer version's file: a key at the top, in the settings, in an epoch row and in a layer row.
    raw["teacher_comment"] = "good"
    raw["settings"]["optimizer"] = "lion"
    raw["history"][0]["grad_norm"] = 1.5
    raw["summary"] = [{"name": "dense", "type": "Dense", "output_shape": [10], "params": 7850, "sparsity": 0.1}]
    path.write_text(json.dumps(raw))
    meta = store.get_run("new").metadata
    assert meta.unknown_fields() == ["teacher_comment", "settings.optimizer", "history.grad_norm", "summary.sparsity"]
    assert (meta.settings.epochs, meta.history[0].epoch, meta.summary[0].output_shape) == (2, 1, (10,))
    store.rename_run("new", "kept", actor=people.LOCAL)  # rewrites the JSON: nothing it did not know is lost
    again = json.loads(path.read_text())
    assert again["teacher_comment"] == "good" and again["settings"]["optimizer"] == "lion"
    assert again["history"][0]["grad_norm"] == 1.5 and again["summary"][0]["sparsity"] == 0.1
    assert again["name"] == "kept"


def test_a_run_is_prepared_before_it_is_listed_and_a_failed_preparation_keeps_it(store_home: Path, model) -> None:
    seen = {}

    def prepare(run_id: str) -> None:
        seen["model"] = (store_home / f"{run_id}.keras").is_file()
        seen["listed"] = [r.id for r in store.list_runs(include_shipped=False)]
        cache.save(run_id, "ready", {"x": np.arange(3)})

    run_id = store.save_run(model, {"preset": "notebook"}, run_id="prepared", prepare=prepare)
    assert seen == {"model": True, "listed": []}  # in place, not yet offered
    np.testing.assert_array_equal(cache.load(run_id, "ready")["x"], np.arange(3))  # still valid once listed

    def broken(run_id: str) -> None:
        raise RuntimeError("out of memory")

    assert store.save_run(model, {"preset": "notebook"}, run_id="unprepared", prepare=broken) == "unprepared"
    assert store.get_run("unprepared").usable
