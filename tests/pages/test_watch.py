"""Watch it learn (Train page): live during a tiny training, the Epoch slider replays after it, a saved run's
replay from its sidecar, and a sentence instead of a replay for shipped models and damaged sidecars."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fmnist_core import people
from fmnist_core.nets.presets import TrainConfig
from fmnist_core.runs import frames, store
from fmnist_core.training.events import Ended, EpochBegin, Setup, Started, Watched
from fmnist_core.training.jobs import TrainingJob
from page_helpers import (
    PAGE_FILES,
    REAL_DATA_DIR,
    TRAIN_TIMEOUT,
    button,
    exceptions,
    number_input,
    open_page,
    plotly_array,
    plotly_figure,
    run_until,
    texts,
)
from ui.figures.maps import kernels_figure, maps_figure
from ui.sections.train.watch_it_learn import DRAWN_KEY, HEADING


def z_of(figure: dict) -> np.ndarray:
    return np.array(plotly_array(figure["data"][0]["z"]), dtype=float)


def epoch_slider(at):
    found = [s for s in at.slider if s.label == "Epoch"]
    return found[0] if found else None


def sample_box(at):
    found = [b for b in at.selectbox if b.label == "Sample image"]
    assert found, "no 'Sample image' select box"
    return found[0]


def assert_same_mosaic(shown: dict, expected) -> None:
    np.testing.assert_allclose(z_of(shown), np.array(expected.data[0].z, dtype=float), atol=1e-6)


@pytest.mark.slow
@pytest.mark.slow
def test_the_section_follows_a_tiny_training_and_replays_it(make_app) -> None:
    at = open_page(make_app, "train")
    at.selectbox(key="tr_preset").set_value("notebook").run()
    number_input(at, "Epochs").set_value(3)
    number_input(at, "Training images").set_value(2000)
    at.run()
    button(at, "Train").click().run()
    job = at.session_state["training_job"]
    assert any("end of the first epoch" in c for c in texts(at.caption)) or job.snapshot().frames is not None

    run_until(at, lambda: job.snapshot().frames is not None or job.finished, what="the first frame")
    before = job.snapshot()
    at.run()
    assert not at.exception, exceptions(at)
    assert HEADING in texts(at.subheader)
    assert "epoch" in plotly_figure(at, "kernels")["layout"]["title"]["text"]
    if before.state == "running" and job.snapshot().state == "running":  # still training: newest epoch, no slider
        assert epoch_slider(at) is None
        assert any("refreshed at every epoch end" in c for c in texts(at.caption)), texts(at.caption)

    run_until(at, lambda: job.finished, what="the training to end", redraw=True)
    at.run()
    assert not at.exception, exceptions(at)
    snap = job.snapshot()
    assert snap.state == "done", snap.error
    frames = snap.frames
    assert [f.epoch for f in frames.epochs] == [1, 2, 3]
    slider = epoch_slider(at)
    assert slider is not None and slider.value == 3 and (slider.min, slider.max) == (1, 3)
    last = plotly_figure(at, "kernels")
    assert "epoch 3" in last["layout"]["title"]["text"]
    assert_same_mosaic(last, kernels_figure(frames.frame(3).kernels, ""))

    slider.set_value(1).run()
    assert not at.exception, exceptions(at)
    first = plotly_figure(at, "kernels")
    assert "epoch 1" in first["layout"]["title"]["text"]
    assert_same_mosaic(first, kernels_figure(frames.frame(1).kernels, ""))
    assert not np.allclose(np.nan_to_num(z_of(first)), np.nan_to_num(z_of(last)))
    maps = plotly_figure(at, "maps of")
    assert f"maps of #{frames.samples[0]} " in maps["layout"]["title"]["text"]
    assert_same_mosaic(maps, maps_figure(frames.frame(1).feature_maps(0), ""))

    sample_box(at).set_value(3).run()  # the fourth class's first test image
    assert not at.exception, exceptions(at)
    maps = plotly_figure(at, "maps of")
    assert f"maps of #{frames.samples[3]} " in maps["layout"]["title"]["text"]
    assert_same_mosaic(maps, maps_figure(frames.frame(1).feature_maps(3), ""))
    assert store.get_run(snap.run_id).has_frames


@pytest.fixture(scope="module")
def watched_run_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny training (seed preset, 300 images, 2 epochs) saved with its frames, once for the module."""
    folder = tmp_path_factory.mktemp("watched_run")
    config = TrainConfig(preset="notebook", epochs=2, limit=300, seed=4, evaluate_each_epoch=False)
    job = TrainingJob(
        config, home=folder, data_dir=str(REAL_DATA_DIR), run_id="watched-run", actor=people.LOCAL
    ).start()
    assert job.wait(TRAIN_TIMEOUT) and job.snapshot().run_id == "watched-run", job.snapshot().error
    return folder


@pytest.mark.slow
def test_a_saved_run_chosen_in_the_sidebar_replays(make_app, fmnist_home: Path, watched_run_files: Path) -> None:
    for path in watched_run_files.glob("watched-run.*"):
        shutil.copy2(path, fmnist_home)
    kept = frames.load_frames("watched-run", fmnist_home)
    at = open_page(make_app, "train", model_id="watched-run")
    assert not at.exception, exceptions(at)
    assert HEADING in texts(at.subheader)
    label = store.get_run("watched-run", fmnist_home).label()
    assert any(f"Replay of run **{label}**" in c for c in texts(at.caption)), texts(at.caption)
    slider = epoch_slider(at)
    assert slider is not None and slider.value == 2
    assert_same_mosaic(plotly_figure(at, "kernels"), kernels_figure(kept.frame(2).kernels, ""))
    slider.set_value(1).run()
    assert not at.exception, exceptions(at)
    assert_same_mosaic(plotly_figure(at, "kernels"), kernels_figure(kept.frame(1).kernels, ""))
    assert_same_mosaic(plotly_figure(at, "maps of"), maps_figure(kept.frame(1).feature_maps(0), ""))


def test_a_shipped_model_says_it_has_no_replay(make_app) -> None:
    at = open_page(make_app, "train")
    assert not at.exception, exceptions(at)
    assert HEADING in texts(at.subheader)
    assert any(c.startswith("The shipped models were trained before") for c in texts(at.caption)), texts(at.caption)
    assert any(c.endswith("train a model here to watch it learn.") for c in texts(at.caption)), texts(at.caption)
    assert not [c for c in texts(at.caption) if ".." in c]  # the issue: "…watch it learn.."
    assert epoch_slider(at) is None and not [c for c in at.get("plotly_chart")]


def test_a_run_without_or_with_a_damaged_replay_says_so(make_app, tiny_run: str, fmnist_home: Path) -> None:
    at = open_page(make_app, "train", model_id=tiny_run)
    assert not at.exception, exceptions(at)
    assert any(f"run {tiny_run} has no replay" in c for c in texts(at.caption)), texts(at.caption)

    (fmnist_home / f"{tiny_run}.frames.npz").write_bytes(b"not a zip archive" * 10)
    at.run()
    assert not at.exception, exceptions(at)
    assert any(f"the replay of run {tiny_run} is damaged" in c for c in texts(at.caption)), texts(at.caption)
    assert epoch_slider(at) is None


@pytest.mark.slow
def test_while_training_the_newest_epoch_is_shown_and_refreshed(make_app, watched_run_files: Path) -> None:
    # A job fed its worker's events by hand (the real frames of a saved training): the page sees them arrive.
    kept = frames.load_frames("watched-run", watched_run_files)
    job = TrainingJob(TrainConfig(preset="notebook", epochs=2, limit=300), actor=people.LOCAL)
    job._apply(Started(executor="local-process", node="here", pid=1))
    job._apply(Setup(batches_per_epoch=10, train_images=300, batch_size=32, precision="float32", precision_note=""))
    job._apply(EpochBegin(1))
    at = make_app()
    at.session_state["training_job"] = job
    at.run()
    at.switch_page(PAGE_FILES["train"]).run()
    assert not at.exception, exceptions(at)
    assert HEADING in texts(at.subheader)
    assert any("end of the first epoch" in c for c in texts(at.caption)), texts(at.caption)
    assert not at.get("plotly_chart")

    for frame in kept.epochs:
        job._apply(Watched(kept.layer, kept.samples, frame))
        at.run()
        assert not at.exception, exceptions(at)
        shown = plotly_figure(at, "kernels")
        assert f"epoch {frame.epoch}" in shown["layout"]["title"]["text"]
        assert_same_mosaic(shown, kernels_figure(frame.kernels, ""))
        assert epoch_slider(at) is None
        assert any(f"Epoch {frame.epoch}: refreshed at every epoch end" in c for c in texts(at.caption))
        # What the section drew is recorded, so the once-a-second view asks for a redraw only at the next epoch.
        assert at.session_state[DRAWN_KEY] == (job.snapshot().started, frame.epoch)
    job._apply(Ended(stopped=False))
    at.run()
    assert not at.exception, exceptions(at)
    slider = epoch_slider(at)
    assert slider is not None and slider.value == 2
