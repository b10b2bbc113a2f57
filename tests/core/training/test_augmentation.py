"""What the network trains on: the preview comes from the training pipeline's own function, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.training import augmentation, pipeline
from fmnist_core.training.augmentation import NONE_TEXT, describe_change, training_views
from helpers import requires_real_data


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, int]:
    from fmnist_core.data import fashion_mnist

    train = fashion_mnist.load_train_set(fashion_mnist.DEBIAN_DIR)
    return train.images[0], int(train.labels[0])


@requires_real_data
def test_improved_views_are_flips_and_shifts_of_the_image(sample) -> None:
    image, label = sample
    got = training_views("improved", image, label, seed=42)
    assert got.views.shape == (8, 28, 28) and got.views.dtype == np.float32
    assert "changed" not in got.changes  # every view is a flip and/or a shift of at most 2 px
    assert any("flipped" in c for c in got.changes) and any("px" in c for c in got.changes)
    assert len({v.tobytes() for v in got.views}) > 1
    np.testing.assert_allclose(got.image, image / 255.0)
    assert [e.split(":")[0] for e in got.explanation] == ["flip", "shift"]


@requires_real_data
def test_views_are_deterministic_per_seed(sample) -> None:
    image, label = sample
    a = training_views("improved", image, label, seed=7)
    b = training_views("improved", image, label, seed=7)
    c = training_views("improved", image, label, seed=8)
    np.testing.assert_array_equal(a.views, b.views)
    assert a.changes == b.changes and a.changes != c.changes


@requires_real_data
def test_fast_only_flips_and_seed_has_no_augmentation(sample) -> None:
    image, label = sample
    fast = training_views("fast", image, label, seed=42)
    assert set(fast.changes) <= {"as it is", "flipped"}
    seed = training_views("notebook", image, label, seed=42)
    assert seed.changes == ("as it is",) * 8 and seed.explanation == [NONE_TEXT]


@requires_real_data
def test_changing_the_pipeline_changes_the_preview(sample, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview calls pipeline.training_pipeline, which calls pipeline._batch_preparer: change that, the preview follows."""
    image, label = sample
    before = training_views("improved", image, label, seed=42)
    original = pipeline._batch_preparer

    def inverted(preset, x_train, y_train):
        prepare = original(preset, x_train, y_train)
        return lambda idx, key: (lambda x, y: (1.0 - x, y))(*prepare(idx, key))

    monkeypatch.setattr(pipeline, "_batch_preparer", inverted)
    after = training_views("improved", image, label, seed=42)
    np.testing.assert_allclose(after.views, 1.0 - before.views, atol=1e-6)
    assert set(after.changes) == {"changed"}


def test_describe_change_names_flips_and_shifts() -> None:
    rng = np.random.default_rng(0)
    image = np.zeros((28, 28), np.float32)
    image[5:20, 8:14] = rng.random((15, 6))
    assert describe_change(image, image) == "as it is"
    assert describe_change(image, image[:, ::-1]) == "flipped"
    down_left = np.pad(image, augmentation.SHIFT_PX)[0:28, 3:31]  # content 2 px down, 1 px left
    assert describe_change(image, down_left) == "1 px left, 2 px down"
    assert describe_change(image, 1 - image) == "changed"
