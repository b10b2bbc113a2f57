"""Every page through app.py: titles, the sidebar's Model box, deleted and damaged runs, a missing or broken data set, bad addresses."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from fmnist_core import people
from fmnist_core.data import fashion_mnist
from fmnist_core.runs import store
from page_helpers import (
    DATA_FIX,
    MODEL_PAGES,
    PAGE_FILES,
    REAL_DATA_DIR,
    TITLES,
    button,
    exceptions,
    model_box,
    open_page,
    rerun,
    texts,
    title,
)


@pytest.mark.parametrize("page", list(TITLES))
def test_page_renders_with_shipped_model(make_app, page: str) -> None:
    at = open_page(make_app, page)
    assert not at.exception, exceptions(at)
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


def test_home_says_where_to_start_and_links_every_page(make_app) -> None:
    # The issue: Home had no "start here" and no link to Embedding.
    at = open_page(make_app, "home")
    assert any(m.startswith("**Start here:**") for m in texts(at.markdown)), texts(at.markdown)
    # A link names its page by file or, once st.navigation has resolved the pages, by url path: compare stems.
    linked = {Path(link.proto.page).stem for link in at.get("page_link")}
    assert linked == set(PAGE_FILES) - {"home"}, linked
    assert not any("notebook" in m for m in texts(at.markdown))  # which notebook? The tutorial network is named


def test_sidebar_model_box_on_every_page(make_app) -> None:
    at = open_page(make_app, "home")
    for page in ("train", "test_images", "feature_maps", "model"):
        at.switch_page(PAGE_FILES[page])
        at.run()
        assert title(at) == TITLES[page]
        assert model_box(at).value == "default", page


def test_two_runs_alike_read_apart_in_the_model_box(make_app, tiny_run: str, fmnist_home: Path) -> None:
    """A copy of a run with the same preset, time and accuracy: the box's two lines differ (the id's end)."""
    twin = f"{tiny_run}-copy"
    shutil.copy2(fmnist_home / f"{tiny_run}.keras", fmnist_home / f"{twin}.keras")
    meta = json.loads((fmnist_home / f"{tiny_run}.json").read_text())
    (fmnist_home / f"{twin}.json").write_text(json.dumps({**meta, "id": twin}))
    assert store.get_run(twin).label() == store.get_run(tiny_run).label()
    at = open_page(make_app, "home")
    options = model_box(at).options
    assert f"{store.get_run(twin).label()} · #copy" in options, options
    assert len(set(options)) == len(options), options


def test_deleted_run_still_selected_warns(make_app, tiny_run: str) -> None:
    at = open_page(make_app, "home")
    box = model_box(at)
    assert store.get_run(tiny_run).label() in box.options, box.options
    box.set_value(tiny_run).run()
    assert at.session_state["model_id"] == tiny_run
    assert any(store.get_run(tiny_run).label() in m for m in texts(at.markdown))

    store.delete_run(tiny_run, actor=people.LOCAL)
    at.run()
    assert not at.exception, exceptions(at)
    assert model_box(at).value == tiny_run  # kept selected, so the page can say it is gone
    assert any("(deleted)" in option for option in model_box(at).options), model_box(at).options
    assert any(f"**{tiny_run}** was deleted." in w for w in texts(at.warning)), texts(at.warning)

    for page in ("train", *MODEL_PAGES):
        at.switch_page(PAGE_FILES[page])
        rerun(at, tiny_run)
        assert not at.exception, (page, exceptions(at))
        assert title(at) == TITLES[page]
        if page != "train":
            assert any("was deleted" in w for w in texts(at.warning)), (page, texts(at.warning))


def test_damaged_run_is_listed_and_shows_an_error(make_app, damaged_run: str) -> None:
    at = open_page(make_app, "home")
    box = model_box(at)
    assert any(option.startswith(damaged_run) and "damaged" in option for option in box.options), box.options
    box.set_value(damaged_run).run()
    assert not at.exception, exceptions(at)
    assert any("damaged" in e for e in texts(at.error)), texts(at.error)

    for page in MODEL_PAGES:
        at.switch_page(PAGE_FILES[page])
        rerun(at, damaged_run)
        assert not at.exception, (page, exceptions(at))
        assert title(at) == TITLES[page]
        assert any(damaged_run in e and "damaged" in e for e in texts(at.error)), (page, texts(at.error))


@pytest.mark.parametrize("page", ["home", "test_images", "feature_maps"])
def test_missing_data_shows_the_fix(make_app, no_data: Path, page: str) -> None:
    at = open_page(make_app, page)
    assert not at.exception, exceptions(at)
    assert title(at) == TITLES[page]
    assert any(DATA_FIX in e for e in texts(at.error)), texts(at.error)


def test_missing_data_model_page_still_shows_summary(make_app, no_data: Path) -> None:
    at = open_page(make_app, "model")
    assert not at.exception, exceptions(at)
    assert any(DATA_FIX in e for e in texts(at.error)), texts(at.error)
    assert at.dataframe, "no summary table"
    assert any("243,786" in m for m in texts(at.markdown))


def test_missing_data_train_page_renders(make_app, no_data: Path) -> None:
    at = open_page(make_app, "train")
    assert not at.exception, exceptions(at)
    assert button(at, "Train")


def test_truncated_data_file_names_the_file_and_the_fix(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    broken = tmp_path / "broken_data"
    broken.mkdir()
    for name in fashion_mnist.FILES.values():
        shutil.copy(REAL_DATA_DIR / name, broken / name)
    target = broken / fashion_mnist.FILES["test_images"]
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])  # cut the gzip stream in half
    monkeypatch.setenv("FMNIST_DATA_DIR", str(broken))
    for page in ("test_images", "feature_maps"):
        at = open_page(make_app, page)
        assert not at.exception, exceptions(at)
        errors = texts(at.error)
        assert any("t10k-images-idx3-ubyte.gz" in e and DATA_FIX in e for e in errors), errors
    at = open_page(make_app, "model")  # needs no data for its summary
    assert not at.exception, exceptions(at)
    assert any("243,786" in m for m in texts(at.markdown))


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
    assert not at.exception, exceptions(at)
    warnings = texts(at.warning)
    assert any(shown in w for w in warnings), warnings
    if page == "test_images":
        assert "Test image #0" in texts(at.subheader)
        assert at.query_params["image"] == "0"
    else:
        assert at.number_input(key="fm_image").value == 0
        assert at.selectbox(key="fm_layer").value == "conv2d"
        assert at.slider(key="fm_channel").value == 0
        assert {k: v for k, v in at.query_params.items() if k != "cell"} == {
            "image": "0",
            "layer": "conv2d",
            "channel": "0",
            "model": "default",
        }
    # The view still works after the warning: one more run with the corrected address warns no more.
    at.run()
    assert not at.exception, exceptions(at)
    assert not at.warning, texts(at.warning)


def test_script_runs_leave_keras_state_alone(make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit clears Keras' session after every run unless ui.frame stops it (5.4 s per Channel change)."""
    import keras

    calls: list[int] = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d", "channel": "1"})
    at.slider(key="fm_channel").set_value(2).run()
    assert not at.exception, exceptions(at)
    assert "keras" in sys.modules  # the runs used Keras, so Streamlit's cleanup would have fired
    assert calls == []


def test_a_streamlit_without_the_patched_internals_is_reported_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If a newer Streamlit drops what ui.frame patches, the server says so instead of silently slowing down."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    from ui import frame

    assert frame.check_streamlit_patches() == []  # this Streamlit has both
    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    monkeypatch.delattr(PagesManager, "uses_pages_directory")
    with caplog.at_level("WARNING", logger="fmnist.frame"):
        problems = frame.check_streamlit_patches()
    assert len(problems) == 2 and len(caplog.records) == 2
    assert "clearing Keras' state" in caplog.records[0].getMessage()
    assert "legacy first-request pass" in caplog.records[1].getMessage()
