"""AppTest for the views that help a learner understand the data and the model: suspect labels (Test images), the
human figure (Model), what the network trains on (Train), synthesised inputs (Feature maps, Model) and Predict the
model (/quiz)."""

from __future__ import annotations

import pytest

from fmnist_core.data.fashion_mnist import CLASS_NAMES
from fmnist_core.runs import paths
from page_helpers import exceptions, open_page, rerun, texts


@pytest.fixture(scope="module")
def default_suspects() -> list:
    from fmnist_core.analysis.suspect_labels import find_suspects
    from fmnist_core.data import fashion_mnist
    from fmnist_core.nets.inference import predict_proba
    from fmnist_core.runs import store

    test = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR)
    return find_suspects(test.labels, predict_proba(store.load_model(paths.DEFAULT_RUN_ID), test.images))


def test_only_suspect_labels_lists_them_most_suspect_first(make_app, default_suspects) -> None:
    at = open_page(make_app, "test_images", {"image": "0"})
    at.checkbox(key="ti_suspect").check()
    rerun(at)
    assert not at.exception, exceptions(at)
    n = len(default_suspects)
    assert any(f"**{n:,}** of 10,000 images match" in c for c in texts(at.caption)), texts(at.caption)
    assert any(f"**{n:,} suspect labels**" in c for c in texts(at.caption)), texts(at.caption)
    first = default_suspects[0]
    assert f"Test image #{first.index}" in texts(at.subheader)  # the most suspect, not the lowest index
    assert not [w for w in texts(at.warning) if "Train a better model first" in w]  # 92% is good enough
    note = [w for w in texts(at.warning) if w.startswith("Suspect label")]
    assert note == [
        f"Suspect label: labelled **{CLASS_NAMES[first.given]}**, the model and cleanlab suggest "
        f"**{CLASS_NAMES[first.suggested]}** (label quality {first.quality:.2g}; #1 of {n})"
    ]
    assert at.query_params["suspect"] == "1"
    at.button[[b.label for b in at.button].index("Next ▶")].click()
    rerun(at)
    assert f"Test image #{default_suspects[1].index}" in texts(at.subheader)  # rank order, not index order


def test_a_weak_models_suspect_labels_come_with_a_warning(make_app, tiny_run: str) -> None:
    """An untrained model gets about one image in ten right: most of its "suspect labels" are its own mistakes."""
    from fmnist_core.analysis.suspect_labels import weak_model_warning
    from fmnist_core.data import fashion_mnist
    from fmnist_core.nets.inference import predict_proba
    from fmnist_core.runs import store

    test = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR)
    accuracy = float((predict_proba(store.load_model(tiny_run), test.images).argmax(axis=1) == test.labels).mean())
    expected = weak_model_warning(accuracy)
    assert expected is not None
    at = open_page(make_app, "test_images", {"image": "0"}, model_id=tiny_run)
    assert not at.exception, exceptions(at)
    assert expected not in texts(at.warning)  # only with the suspect filter on
    at.checkbox(key="ti_suspect").check()
    rerun(at)
    assert not at.exception, exceptions(at)
    assert expected in texts(at.warning), texts(at.warning)


def test_suspect_address_opens_the_filter(make_app, default_suspects) -> None:
    at = open_page(make_app, "test_images", {"suspect": "1", "image": str(default_suspects[2].index)})
    assert not at.exception, exceptions(at)
    assert at.checkbox(key="ti_suspect").value is True
    assert any("#3 of" in w for w in texts(at.warning)), texts(at.warning)


def test_model_page_shows_the_human_figure_beside_the_accuracy(make_app) -> None:
    at = open_page(make_app, "model")
    assert not at.exception, exceptions(at)
    labels = [m.label for m in at.metric]
    assert labels.index("Human labellers") == labels.index("Test accuracy") + 1
    assert [m.value for m in at.metric if m.label == "Human labellers"] == ["83.5%"]
    assert any("zalandoresearch/fashion-mnist" in c for c in texts(at.caption)), texts(at.caption)


def test_train_page_shows_what_the_network_trains_on(make_app) -> None:
    from fmnist_core.data import fashion_mnist
    from fmnist_core.training.augmentation import training_views

    at = open_page(make_app, "train")
    assert not at.get("image"), "the pipeline ran before the section was opened"
    at.session_state["tr_trains_on"] = True
    at.selectbox(key="tr_preset").set_value("improved")
    rerun(at)
    assert not at.exception, exceptions(at)
    train = fashion_mnist.load_train_set(fashion_mnist.DEBIAN_DIR)
    expected = training_views("improved", train.images[0], int(train.labels[0]), seed=42)
    captions = [c for img in at.get("image") for c in img.captions]
    assert captions == ["the image", *expected.changes]
    assert any(t.startswith("**Augmentation:** flip:") and "shift:" in t for t in texts(at.markdown))
    at.selectbox(key="tr_preset").set_value("notebook")
    rerun(at)
    assert any("**Augmentation:** none" in t for t in texts(at.markdown)), texts(at.markdown)


def test_feature_maps_shows_the_synthesised_input_beside_the_best_test_image(make_app) -> None:
    from fmnist_core.analysis.synthesis import Target, synthesise
    from fmnist_core.data import fashion_mnist
    from fmnist_core.runs import store

    at = open_page(make_app, "feature_maps", {"image": "0", "layer": "conv2d_1", "channel": "5"})
    assert not at.exception, exceptions(at)
    assert not any(c.startswith("Synthesised") for c in texts(at.caption)), "computed before it was opened"
    at.session_state["fm_synth_open"] = True
    rerun(at)
    assert not at.exception, exceptions(at)
    expected = synthesise(
        store.load_model(paths.DEFAULT_RUN_ID),
        Target("conv2d_1", 5),
        seed=0,
        test_images=fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR).images,
    )
    captions = texts(at.caption)
    assert f"Synthesised · mean of conv2d_1 channel 5 **{expected.objective:.3f}**" in captions, captions
    assert f"Best test image · mean of conv2d_1 channel 5 **{expected.best_test_objective:.3f}**" in captions
    assert any(f"#{expected.best_test_index}" == link.label for link in at.get("page_link"))


def test_model_page_shows_what_the_network_thinks_a_sneaker_looks_like(make_app) -> None:
    at = open_page(make_app, "model")
    assert not at.exception, exceptions(at)
    assert not any(c.startswith("Synthesised") for c in texts(at.caption)), "computed before it was opened"
    at.session_state["model_synth_open"] = True
    rerun(at)
    assert at.selectbox(key="model_synth_class").value == 7
    assert any(c.startswith("Synthesised · Sneaker score **") for c in texts(at.caption)), texts(at.caption)
    at.selectbox(key="model_synth_class").set_value(1)
    rerun(at)
    assert any(c.startswith("Synthesised · Trouser score") for c in texts(at.caption)), texts(at.caption)


def test_quiz_reveals_only_after_a_guess_and_keeps_score(make_app) -> None:
    from fmnist_core.analysis.quiz import draw
    from fmnist_core.data import fashion_mnist
    from fmnist_core.nets.inference import predict_proba
    from fmnist_core.runs import store

    test = fashion_mnist.load_test_set(fashion_mnist.DEBIAN_DIR)
    probs = predict_proba(store.load_model(paths.DEFAULT_RUN_ID), test.images)
    questions = draw(probs, test.labels, seed=0, count=3)
    at = open_page(make_app, "quiz")
    assert not at.exception, exceptions(at)
    first = questions[0].index
    answer = int(probs[first].argmax())
    assert f"Test image #{first} (question 1)" in texts(at.caption)
    reveal = [b for b in at.button if b.label == "Reveal the model's answer"]
    assert reveal and reveal[0].disabled  # no guess yet
    assert not at.success and not at.error and not at.get("plotly_chart")  # nothing of the answer before a guess
    assert not any("The model answered" in t for t in texts(at.markdown))

    wrong_guess = (answer + 1) % 10
    at.selectbox(key="quiz_guess").set_value(wrong_guess)
    rerun(at)
    assert not at.success and not at.error and not at.get("plotly_chart")  # a guess alone reveals nothing
    [b for b in at.button if b.label == "Reveal the model's answer"][0].click()
    rerun(at)
    assert not at.exception, exceptions(at)
    assert texts(at.error) == [
        f"The model answered **{CLASS_NAMES[answer]}** ({probs[first, answer]:.1%}). You guessed {CLASS_NAMES[wrong_guess]}."
    ]
    assert at.get("plotly_chart"), "no probabilities after the reveal"
    score = at.session_state["quiz_score"]
    assert (score.rounds, score.predicted_model) == (1, 0)
    assert score.true_label_strategy == int(answer == int(test.labels[first]))

    [b for b in at.button if b.label == "Next image"][0].click()
    rerun(at)
    second = questions[1].index
    assert f"Test image #{second} (question 2)" in texts(at.caption)
    assert at.selectbox(key="quiz_guess").value is None and not at.get("plotly_chart")
    at.selectbox(key="quiz_guess").set_value(int(probs[second].argmax()))
    rerun(at)
    [b for b in at.button if b.label == "Reveal the model's answer"][0].click()
    rerun(at)
    assert at.session_state["quiz_score"].predicted_model == 1 and at.session_state["quiz_score"].rounds == 2
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Your predictions of the model"] == "50%" and metrics["Rounds"] == "2"
