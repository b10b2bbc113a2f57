"""What students read is in words they know: no CPU flags, paper citations or method jargon on their screen, and
the time a synthesised input takes is promised honestly."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fmnist_core import people
from fmnist_core.nets.presets import TrainConfig, bfloat16_supported
from fmnist_core.training.events import Ended, EpochBegin, EpochEnd, Evaluated, FitEnd, SaveResult, Setup, Started
from fmnist_core.training.jobs import TrainingJob
from page_helpers import PAGE_FILES, exceptions, open_page, rerun, texts

XEON_WITHOUT_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n"
FLAG_WORDS = ("avx", "amx", "bf16", "cpuinfo")


def test_the_train_result_says_its_precision_in_plain_words(make_app, tiny_run: str) -> None:
    # A job fed a finished training's events by hand (no worker), on a processor without fast 16-bit arithmetic.
    supported, note = bfloat16_supported(cpuinfo=XEON_WITHOUT_BF16, machine="x86_64")
    assert not supported
    job = TrainingJob(TrainConfig(preset="fast", epochs=1, limit=600), actor=people.LOCAL)
    job._apply(Started(executor="local-process", node="here", pid=1))
    job._apply(Setup(batches_per_epoch=5, train_images=600, batch_size=128, precision="float32", precision_note=note))
    job._apply(EpochBegin(1))
    job._apply(EpochEnd(1, loss=1.0, accuracy=0.6, test_loss=0.9, test_accuracy=0.65, seconds=2.0, elapsed=2.0))
    job._apply(FitEnd(fit_seconds=2.0, stopped=False))
    job._apply(Evaluated(test_loss=0.9, test_accuracy=0.65))
    job._apply(SaveResult(run_id=tiny_run, error=None))
    job._apply(Ended(stopped=False))
    at = make_app()
    at.session_state["training_job"] = job
    at.run()
    at.switch_page(PAGE_FILES["train"]).run()
    assert not at.exception, exceptions(at)
    said = [c for c in texts(at.caption) if c.startswith("Precision:")]
    assert said, texts(at.caption)
    assert "no fast 16-bit arithmetic, so it trained with ordinary 32-bit numbers" in said[0], said
    assert not any(word in c.lower() for c in texts(at.caption) for word in FLAG_WORDS), said


def _details(node) -> Iterator:
    """The "What is this?" expanders and the popovers under `node`: read only by whoever opens them."""
    for child in getattr(node, "children", {}).values():
        if child.type == "popover" or (child.type == "expander" and child.label == "What is this?"):
            yield child
        else:
            yield from _details(child)


def on_screen(at) -> list[str]:
    """What a student reads without opening a "What is this?": captions, markdown and alerts outside them."""
    hidden = {text for box in _details(at._tree) for text in texts(box.markdown) + texts(box.caption)}
    shown = [at.caption, at.markdown, at.info, at.warning, at.error, at.success]
    return [text for elements in shown for text in texts(elements) if text not in hidden]


def test_the_why_panel_names_no_papers_or_numerical_methods(make_app) -> None:
    at = open_page(make_app, "test_images", {"image": "0"}, session={"ti_why_on": True})
    assert not at.exception, exceptions(at)
    read = " ".join(on_screen(at))
    assert "Completeness: the attributions add up to" in read  # the panel is there
    for jargon in ("Adebayo", "quadrature", "Projected gradient", "bisection", "L∞", "L-infinity"):
        assert jargon.lower() not in read.lower(), jargon
    assert "limit called ε (epsilon)" in read and "one step of brightness out of 255" in read
    detail = [box for box in at.expander if box.label == "What is this?"]
    assert detail and "projected gradient descent" in " ".join(texts(detail[0].markdown))
    assert all(slider.help for slider in at.slider if slider.label.startswith("Occlusion"))


def test_a_synthesised_input_says_how_it_was_made_and_how_long_it_really_took(make_app) -> None:
    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d_1", "channel": "5"})
    at.session_state["fm_synth_open"] = True
    rerun(at)
    assert not at.exception, exceptions(at)
    read = " ".join(on_screen(at))
    assert "Synthesised · mean of conv2d_1 channel 5" in read
    for jargon in ("gradient ascent", "total variation", "jitter", "pre-softmax", "about a second"):
        assert jargon not in read.lower(), jargon
    assert "Made from gray with a little random noise (seed 0)" in read
    # The time said is the whole wait (scoring the test images and the ascent), and it is what the next promise
    # on this server is based on.
    from ui.sections.shared.synthesis import _waits

    took = re.search(r"It took (\d+\.\d) s to make\.", read)
    assert took, read
    assert [f"{seconds:.1f}" for seconds in _waits().measured()] == [took.group(1)]
    assert "gradient ascent" in " ".join(t for box in _details(at._tree) for t in texts(box.markdown))

    rerun(at)  # the same picture again: kept, and it says so rather than claiming a new wait
    assert not at.exception, exceptions(at)
    assert f"It took {took.group(1)} s to make on this server; kept, so shown at once now." in " ".join(on_screen(at))
    assert len(_waits().measured()) == 1


def test_the_model_page_says_how_it_computed_and_what_its_numbers_mean(make_app) -> None:
    at = open_page(make_app, "model", model_id="default")
    assert not at.exception, exceptions(at)
    read = " ".join(on_screen(at))
    assert "· trained with 32-bit numbers ·" in read, read
    for jargon in ("float32", "bfloat16", "cleanlab"):
        assert jargon not in read, jargon
    helps = {m.label: m.help for m in at.metric}
    assert "cross-entropy" in helps["Test loss"] and "learned in training" in helps["Parameters"], helps


def test_the_embedding_projections_are_explained_without_statistics_words(make_app) -> None:
    at = open_page(make_app, "embedding")
    assert not at.exception, exceptions(at)
    (projection,) = [r for r in at.radio if r.label == "Projection"]
    assert "PCA:" in projection.help and "variance" not in projection.help
    assert any(c.startswith("Each point is one test image, placed by the numbers") for c in texts(at.caption))
