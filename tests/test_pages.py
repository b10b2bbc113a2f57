"""Page tests with Streamlit's AppTest: every page against the shipped model, training, query parameters,
deleted and damaged runs, and a missing data set.

AppTest notes (streamlit 1.67), learnt the hard way:
- Every AppTest run after the first one runs the page file *alone*, without app.py: a folder named `pages/`
  next to the entry script turns on Streamlit's legacy multipage mode for the first script run of a session,
  and AppTest resets that mode before every run. This holds for `switch_page("pages/x.py")` and for a plain
  rerun of Home. So the sidebar's "Model" box exists only on runs of app.py itself: the first run, and every
  run after `switch_page("app.py")` (app.py then shows Home; see `show_home`). Other pages read the active
  model from `session_state["model_id"]`, which the tests set before each run. Rendering the sidebar before
  st.navigation or running twice does not help (app.py does not run at all); renaming the folder does
  (see `test_sidebar_model_box_on_every_page`).
- AppTest does not fire `run_every` timers: training tests re-run until the job says it is finished.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fmnist_core import data, store

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = REPO_ROOT / "app.py"
# The page files as app.py registers them with st.Page("<path>", ...): name -> path relative to app.py.
PAGE_FILES = {Path(p).stem: p for p in re.findall(r'st\.Page\(\s*"([^"]+\.py)"', APP.read_text())}
TITLES = {
    "home": "Fashion-MNIST CNN dashboard",
    "train": "Train",
    "test_images": "Test images",
    "feature_maps": "Feature maps",
    "model": "Model",
}
MODEL_PAGES = ("test_images", "feature_maps", "model")  # the pages that load the active model
TIMEOUT = 120  # seconds per script run: importing TensorFlow and loading a model is slow on a busy CPU
TRAIN_TIMEOUT = 240  # seconds for a training job to end
DATA_FIX = "apt-get install dataset-fashion-mnist"
REAL_DATA_DIR = data.DEBIAN_DIR


# --- fixtures and helpers --------------------------------------------------------------------------
def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def fmnist_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty store in tmp_path, the real data set, and Streamlit's process-wide caches cleared."""
    home = tmp_path / "fmnist_home"
    home.mkdir()
    monkeypatch.setenv("FMNIST_HOME", str(home))
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    _clear_caches()
    yield home
    _clear_caches()


@pytest.fixture
def make_app(fmnist_home: Path) -> Iterator[Callable[[], AppTest]]:
    """A factory of AppTests on app.py; any training job still running at teardown is stopped."""
    made: list[AppTest] = []

    def make() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        made.append(at)
        return at

    yield make
    for at in made:
        job = at.session_state["training_job"] if "training_job" in at.session_state else None
        if job is not None and not job.finished:
            job.stop()
            job.wait(TRAIN_TIMEOUT)


def open_page(
    make_app: Callable[[], AppTest],
    page: str,
    params: dict[str, str] | None = None,
    model_id: str | None = None,
) -> AppTest:
    """Run app.py once (it registers the pages), then open `page` with these query parameters."""
    at = make_app()
    if model_id is not None:
        at.session_state["model_id"] = model_id
    at.run()
    assert not at.exception, _exceptions(at)
    if page == "home":
        return show_home(at)
    at.switch_page(PAGE_FILES[page])
    if params:
        at.query_params.update(params)
    return rerun(at, model_id)


def show_home(at: AppTest) -> AppTest:
    """Open Home so that app.py runs (and draws the sidebar) on this run and on plain reruns after it.

    In legacy multipage mode (see the module docstring) a run of a page file alone registers app.py as a
    page: switching to app.py then runs it, and it shows Home. Right after a run of app.py (or once the
    pages folder is renamed) app.py is not a page: switching to pages/home.py runs app.py when the folder
    is renamed, and otherwise home.py alone, after which app.py can be switched to.
    """
    try:
        at.switch_page(APP.name).run()
    except ValueError:  # app.py is not a registered page
        at.switch_page(PAGE_FILES["home"]).run()
        if not at.sidebar.children:
            at.switch_page(APP.name).run()
    assert not at.exception, _exceptions(at)
    assert title(at) == TITLES["home"]
    return at


def rerun(at: AppTest, model_id: str | None = None) -> AppTest:
    """Run again; pages opened by switch_page don't run app.py, so the active model is set by hand."""
    if model_id is not None:
        at.session_state["model_id"] = model_id
    at.run()
    return at


def _exceptions(at: AppTest) -> str:
    return "\n".join(f"{e.value}\n{''.join(e.stack_trace)}" for e in at.exception)


def title(at: AppTest) -> str:
    assert at.title, "no title on the page"
    return at.title[0].value


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def model_box(at: AppTest):
    """The sidebar's "Model" selectbox (present on runs of app.py)."""
    boxes = [box for box in at.sidebar.selectbox if box.label == "Model"]
    assert boxes, "no 'Model' selectbox in the sidebar"
    return boxes[0]


def plotly_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("plotly_chart"):
        title_ = json.loads(chart.proto.spec).get("layout", {}).get("title", {})
        titles.append(title_.get("text", "") if isinstance(title_, dict) else str(title_))
    return titles


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no {label!r} button; buttons: {[b.label for b in at.button]}"
    return found[0]


def number_input(at: AppTest, label: str):
    found = [n for n in at.number_input if n.label == label]
    assert found, f"no {label!r} number input"
    return found[0]


def run_until(at: AppTest, done: Callable[[], bool], timeout: float = TRAIN_TIMEOUT, what: str = "") -> None:
    """Re-run the script (AppTest fires no run_every timers) until `done()` or the timeout."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.5)
        at.run()
        assert not at.exception, _exceptions(at)


@pytest.fixture(scope="module")
def tiny_run_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An untrained seed CNN saved once as a run (cheap: no training); tests copy it into their store."""
    from fmnist_core.model import build_seed_cnn

    folder = tmp_path_factory.mktemp("tiny_run")
    metadata = {
        "preset": "seed",
        "architecture": "seed_cnn",
        "status": "finished",
        "test_accuracy": 0.1,
        "test_loss": 2.3,
        "history": [],
    }
    run_id = store.save_run(build_seed_cnn(seed=1), metadata, run_id="tiny-run", home=folder)
    return {"id": run_id, "keras": folder / f"{run_id}.keras", "json": folder / f"{run_id}.json"}


@pytest.fixture
def tiny_run(tiny_run_files: dict[str, Path], fmnist_home: Path) -> str:
    """The tiny run copied into this test's store; returns its id."""
    shutil.copy2(tiny_run_files["keras"], fmnist_home)
    shutil.copy2(tiny_run_files["json"], fmnist_home)
    return str(tiny_run_files["id"])


@pytest.fixture
def damaged_run(fmnist_home: Path) -> str:
    """A run whose JSON is fine but whose .keras file is garbage."""
    run_id = "broken-run"
    (fmnist_home / f"{run_id}.keras").write_bytes(b"this is not a zip archive" * 10)
    meta = {
        "id": run_id,
        "status": "finished",
        "preset": "seed",
        "test_accuracy": 0.5,
        "created": "2026-01-01T00:00:00",
    }
    (fmnist_home / f"{run_id}.json").write_text(json.dumps(meta))
    return run_id


# --- every page with the shipped model ---------------------------------------------------------------
@pytest.mark.parametrize("page", list(TITLES))
def test_page_renders_with_shipped_model(make_app, page: str) -> None:
    at = open_page(make_app, page)
    assert not at.exception, _exceptions(at)
    assert title(at) == TITLES[page]
    assert not at.error, texts(at.error)


def test_pages_are_registered() -> None:
    assert set(PAGE_FILES) == set(TITLES), PAGE_FILES


def test_home_model_box_lists_shipped_default(make_app) -> None:
    at = open_page(make_app, "home")
    box = model_box(at)
    assert box.value == "default"
    assert any(option.startswith("default") for option in box.options), box.options
    assert "Test accuracy" in [m.label for m in at.metric]
    assert "243,786" in [m.value for m in at.metric]


def test_sidebar_model_box_on_every_page(make_app) -> None:
    at = open_page(make_app, "home")
    for page in ("train", "test_images", "feature_maps", "model"):
        at.switch_page(PAGE_FILES[page])
        at.run()
        assert title(at) == TITLES[page]
        assert model_box(at).value == "default", page


# --- training ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_train_saves_a_run_and_use_this_model(make_app, fmnist_home: Path) -> None:
    at = open_page(make_app, "train")
    assert button(at, "Train")
    at.selectbox[0].set_value("seed").run()
    assert at.selectbox[0].value == "seed"
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(300)
    at.run()
    button(at, "Train").click().run()
    assert not at.exception, _exceptions(at)
    assert not at.error, texts(at.error)
    job = at.session_state["training_job"]
    assert job.config.preset == "seed" and job.config.epochs == 1 and job.config.limit == 300

    run_until(at, lambda: job.finished, what="the training to finish")
    at.run()
    assert not at.exception, _exceptions(at)
    snap = job.snapshot()
    assert snap["state"] == "done", snap["error"]
    run_id = snap["run_id"]
    assert run_id
    assert "Test accuracy" in [m.label for m in at.metric]
    assert any("finished" in s for s in texts(at.success)), texts(at.success)
    assert any(run_id in m for m in texts(at.markdown)), "the page does not name the saved run"
    assert (fmnist_home / f"{run_id}.keras").is_file()
    meta = json.loads((fmnist_home / f"{run_id}.json").read_text())
    assert meta["status"] == "finished" and meta["train_images"] == 300 and len(meta["history"]) == 1

    # The sidebar lives on app.py's runs: back to Home, the new run is listed (the shipped one stays active).
    show_home(at)
    box = model_box(at)
    assert any(option.startswith(run_id) for option in box.options), box.options
    assert box.value == "default"

    at.switch_page(PAGE_FILES["train"])
    at.run()
    button(at, "Use this model").click().run()
    assert not at.exception, _exceptions(at)
    assert at.session_state["model_id"] == run_id

    show_home(at)
    assert model_box(at).value == run_id
    assert any(run_id in m for m in texts(at.markdown)), "Home's card does not show the new active model"


@pytest.mark.slow
def test_stop_keeps_a_stopped_run(make_app, fmnist_home: Path) -> None:
    at = open_page(make_app, "train")
    number_input(at, "Epochs").set_value(3)
    number_input(at, "Training images").set_value(20_000)
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    assert job.config.limit == 20_000 and job.config.epochs == 3

    def training_started() -> bool:
        snap = job.snapshot()
        assert snap["state"] not in ("done", "failed"), snap
        return snap["state"] == "running" and snap["batch"] > 0 and any(b.label == "Stop" for b in at.button)

    run_until(at, training_started, what="the first batch")
    button(at, "Stop").click().run()
    assert not at.exception, _exceptions(at)
    run_until(at, lambda: job.finished, what="the stopped job to end")
    at.run()
    assert not at.exception, _exceptions(at)

    snap = job.snapshot()
    assert snap["state"] == "stopped", snap["error"]
    assert snap["run_id"]
    epochs_done = len(snap["history"])
    assert epochs_done < 3 or not snap["history"][-1]["complete"], "the job did not stop early"
    assert any("stopped early" in s for s in texts(at.success)), texts(at.success)
    info = store.get_run(snap["run_id"])
    assert info.status == "stopped" and not info.shipped
    assert json.loads((fmnist_home / f"{snap['run_id']}.json").read_text())["status"] == "stopped"
    assert snap["run_id"] in [r.id for r in store.list_runs()]


# --- query parameters -------------------------------------------------------------------------------
def test_test_images_image_param_selects_image(make_app) -> None:
    at = open_page(make_app, "test_images", {"image": "110"})
    assert not at.exception, _exceptions(at)
    assert not at.warning, texts(at.warning)
    assert "Test image #110" in texts(at.subheader)
    assert "**Actual: Pullover**" in texts(at.markdown)
    assert at.query_params["image"] == "110"


def test_feature_maps_params_set_the_controls(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    assert not at.exception, _exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.number_input(key="fm_image").value == 0
    assert at.selectbox(key="fm_layer").value == "conv2d"
    assert at.slider(key="fm_channel").value == 1
    assert any("conv2d · channel 1 · 26×26" in t for t in plotly_titles(at)), plotly_titles(at)
    assert any("Input #0 · Ankle boot" in t for t in plotly_titles(at)), plotly_titles(at)
    assert at.query_params == {"image": "0", "layer": "conv2d", "channel": "1"}


def test_feature_maps_other_params_open_their_view(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "110", "layer": "max_pooling2d_1", "channel": "63"})
    assert not at.exception, _exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.number_input(key="fm_image").value == 110
    assert at.slider(key="fm_channel").value == 63
    assert any("max_pooling2d_1 · channel 63 · 5×5" in t for t in plotly_titles(at)), plotly_titles(at)
    assert any("Input #110 · Pullover" in t for t in plotly_titles(at)), plotly_titles(at)


def test_feature_maps_controls_update_the_url(make_app) -> None:
    # Regression: url_is_new() once saw the absent `source` param as a new link on every rerun, so the
    # address snapped Channel, Layer and Test image back (fixed in ui/state.py, 2d0ffa0).
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    at.slider(key="fm_channel").set_value(5).run()
    assert not at.exception, _exceptions(at)
    assert at.slider(key="fm_channel").value == 5
    assert at.query_params["channel"] == "5"
    assert any("conv2d · channel 5" in t for t in plotly_titles(at)), plotly_titles(at)

    at.selectbox(key="fm_layer").set_value("max_pooling2d_1").run()
    assert not at.exception, _exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.selectbox(key="fm_layer").value == "max_pooling2d_1"
    assert at.query_params["layer"] == "max_pooling2d_1"
    assert any("max_pooling2d_1 · channel 5 · 5×5" in t for t in plotly_titles(at)), plotly_titles(at)


def test_feature_maps_test_image_input_sticks(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    at.number_input(key="fm_image").set_value(5).run()
    assert not at.exception, _exceptions(at)
    assert at.number_input(key="fm_image").value == 5
    assert at.query_params["image"] == "5"
    assert any(t.startswith("Input #5 ") for t in plotly_titles(at)), plotly_titles(at)


@pytest.mark.parametrize(
    ("page", "params", "shown"),
    [
        ("test_images", {"image": "10000"}, "10000"),
        ("test_images", {"image": "-3"}, "-3"),
        ("test_images", {"image": "abc"}, "abc"),
        ("feature_maps", {"image": "10000"}, "10000"),
        ("feature_maps", {"layer": "dense"}, "dense"),
        ("feature_maps", {"layer": "<script>alert(1)</script>"}, "layer="),
        ("feature_maps", {"channel": "64"}, "64"),
        ("feature_maps", {"channel": "x"}, "channel=x"),
        ("feature_maps", {"channel": "-1"}, "-1"),
    ],
    ids=lambda v: v if isinstance(v, str) else "&".join(f"{k}={x}" for k, x in v.items()),
)
def test_bad_query_params_warn_and_fall_back(make_app, page: str, params: dict[str, str], shown: str) -> None:
    at = open_page(make_app, page, params)
    assert not at.exception, _exceptions(at)
    warnings = texts(at.warning)
    assert any(shown in w for w in warnings), warnings
    if page == "test_images":
        assert "Test image #0" in texts(at.subheader)
        assert at.query_params["image"] == "0"
    else:
        assert at.number_input(key="fm_image").value == 0
        assert at.selectbox(key="fm_layer").value == "conv2d"
        assert at.slider(key="fm_channel").value == 0
        assert at.query_params == {"image": "0", "layer": "conv2d", "channel": "0"}
    # The view still works after the warning: one more run with the corrected address warns no more.
    at.run()
    assert not at.exception, _exceptions(at)
    assert not at.warning, texts(at.warning)


# --- deleted and damaged runs -----------------------------------------------------------------------
def test_deleted_run_still_selected_warns(make_app, tiny_run: str) -> None:
    at = open_page(make_app, "home")
    box = model_box(at)
    assert any(option.startswith(tiny_run) for option in box.options), box.options
    box.set_value(tiny_run).run()
    assert at.session_state["model_id"] == tiny_run
    assert any(tiny_run in m for m in texts(at.markdown))

    store.delete_run(tiny_run)
    at.run()
    assert not at.exception, _exceptions(at)
    assert model_box(at).value == tiny_run  # kept selected, so the page can say it is gone
    assert any("(deleted)" in option for option in model_box(at).options), model_box(at).options
    assert any("no longer exists" in w for w in texts(at.warning)), texts(at.warning)

    for page in ("train", *MODEL_PAGES):
        at.switch_page(PAGE_FILES[page])
        rerun(at, tiny_run)
        assert not at.exception, (page, _exceptions(at))
        assert title(at) == TITLES[page]
        if page != "train":
            assert any("no longer exists" in w for w in texts(at.warning)), (page, texts(at.warning))


def test_damaged_run_is_listed_and_shows_an_error(make_app, damaged_run: str) -> None:
    at = open_page(make_app, "home")
    box = model_box(at)
    assert any(option.startswith(damaged_run) and "damaged" in option for option in box.options), box.options
    box.set_value(damaged_run).run()
    assert not at.exception, _exceptions(at)
    assert any("damaged" in e for e in texts(at.error)), texts(at.error)

    for page in MODEL_PAGES:
        at.switch_page(PAGE_FILES[page])
        rerun(at, damaged_run)
        assert not at.exception, (page, _exceptions(at))
        assert title(at) == TITLES[page]
        assert any(damaged_run in e and "damaged" in e for e in texts(at.error)), (page, texts(at.error))


# --- Model page ---------------------------------------------------------------------------------------
def test_model_page_summary_and_delete(make_app, tiny_run: str, fmnist_home: Path) -> None:
    at = open_page(make_app, "model", model_id="default")
    assert not at.exception, _exceptions(at)
    assert "default" in texts(at.subheader)
    assert at.dataframe, "no summary table"
    assert any("243,786" in m for m in texts(at.markdown)), "no 'Total parameters: 243,786'"
    assert {"Test accuracy", "Test loss"} <= {m.label for m in at.metric}
    delete_keys = {b.key for b in at.button if b.label == "Delete"}
    assert delete_keys == {f"del_{tiny_run}"}  # the shipped model has no Delete button

    at.button(key=f"del_{tiny_run}").click()
    rerun(at, "default")
    assert not at.exception, _exceptions(at)
    assert any(f"Deleted run {tiny_run}" in s for s in texts(at.success)), texts(at.success)
    assert not (fmnist_home / f"{tiny_run}.json").exists()
    assert not (fmnist_home / f"{tiny_run}.keras").exists()
    assert not [b for b in at.button if b.label == "Delete"]


def test_model_page_delete_active_run_falls_back_to_default(make_app, tiny_run: str) -> None:
    at = open_page(make_app, "model", model_id=tiny_run)
    assert tiny_run in texts(at.subheader)
    assert any("243,786" in m for m in texts(at.markdown))
    at.button(key=f"del_{tiny_run}").click().run()
    assert not at.exception, _exceptions(at)
    assert at.session_state["model_id"] == "default"
    assert "default" in texts(at.subheader)
    assert tiny_run not in [r.id for r in store.list_runs()]


# --- data set missing -----------------------------------------------------------------------------------
@pytest.fixture
def no_data(fmnist_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "no_data"
    empty.mkdir()
    monkeypatch.setenv("FMNIST_DATA_DIR", str(empty))
    return empty


@pytest.mark.parametrize("page", ["home", "test_images", "feature_maps"])
def test_missing_data_shows_the_fix(make_app, no_data: Path, page: str) -> None:
    at = open_page(make_app, page)
    assert not at.exception, _exceptions(at)
    assert title(at) == TITLES[page]
    assert any(DATA_FIX in e for e in texts(at.error)), texts(at.error)


def test_missing_data_model_page_still_shows_summary(make_app, no_data: Path) -> None:
    at = open_page(make_app, "model")
    assert not at.exception, _exceptions(at)
    assert any(DATA_FIX in e for e in texts(at.error)), texts(at.error)
    assert at.dataframe, "no summary table"
    assert any("243,786" in m for m in texts(at.markdown))


def test_missing_data_train_page_renders(make_app, no_data: Path) -> None:
    at = open_page(make_app, "train")
    assert not at.exception, _exceptions(at)
    assert button(at, "Train")


# --- faults injected for real: a truncated data file, a full disk at save time ----------------------------------
def test_truncated_data_file_names_the_file_and_the_fix(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    broken = tmp_path / "broken_data"
    broken.mkdir()
    for name in data.FILES.values():
        shutil.copy(REAL_DATA_DIR / name, broken / name)
    target = broken / data.FILES["test_images"]
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])  # cut the gzip stream in half
    monkeypatch.setenv("FMNIST_DATA_DIR", str(broken))
    for page in ("test_images", "feature_maps"):
        at = open_page(make_app, page)
        assert not at.exception, _exceptions(at)
        errors = texts(at.error)
        assert any("t10k-images-idx3-ubyte.gz" in e and DATA_FIX in e for e in errors), errors
    at = open_page(make_app, "model")  # needs no data for its summary
    assert not at.exception, _exceptions(at)
    assert any("243,786" in m for m in texts(at.markdown))


@pytest.mark.slow
def test_full_disk_at_save_keeps_the_model_and_retry_saves(make_app, fmnist_home: Path, monkeypatch) -> None:
    import errno

    real_write = store._atomic_write

    def full_disk(path, write):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_atomic_write", full_disk)
    at = open_page(make_app, "train")
    number_input(at, "Epochs").set_value(1)
    number_input(at, "Training images").set_value(300)
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    run_until(at, lambda: job.finished, what="the training to finish")
    at.run()
    assert not at.exception, _exceptions(at)
    assert any("not saved" in e and "is full" in e for e in texts(at.error)), texts(at.error)
    assert not list(fmnist_home.glob("*.json"))  # nothing half-saved is listed

    monkeypatch.setattr(store, "_atomic_write", real_write)  # space freed: retry
    button(at, "Retry saving").click().run()
    at.run()
    assert not at.exception, _exceptions(at)
    run_id = job.snapshot()["run_id"]
    assert run_id and (fmnist_home / f"{run_id}.json").is_file()
    assert store.load_model(run_id, fmnist_home) is not None


# --- the second shipped model ----------------------------------------------------------------------------------
@pytest.mark.skipif(not (store.ASSETS_DIR / "improved.keras").exists(), reason="the improved model is not shipped")
def test_improved_model_works_on_feature_maps_and_model_pages(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "31"}, model_id="improved")
    assert not at.exception, _exceptions(at)
    assert not at.warning, texts(at.warning)
    assert at.selectbox(key="fm_layer").options == [
        "conv2d (28, 28, 32)",
        "max_pooling2d (14, 14, 32)",
        "conv2d_1 (14, 14, 64)",
        "max_pooling2d_1 (7, 7, 64)",
    ]
    assert any("conv2d · channel 31 · 28×28" in t for t in plotly_titles(at)), plotly_titles(at)
    at.query_params.update({"channel": "40"})  # conv2d has 32 channels here, unlike the notebook's 64
    rerun(at, "improved")
    assert any("Channel 40 does not exist in conv2d (0..31)" in t for t in texts(at.warning)), texts(at.warning)

    at = open_page(make_app, "model", model_id="improved")
    assert not at.exception, _exceptions(at)
    assert any("the 32 3×3 kernels of conv2d" in t for t in texts(at.markdown)), texts(at.markdown)
    assert "BatchNormalization" in at.dataframe[0].value.to_string()


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
    assert not at.exception, _exceptions(at)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows and {r["label"] for r in rows} == {"feature_maps.layer_view"}
    assert all(0 < r["ms"] < 60_000 for r in rows)
