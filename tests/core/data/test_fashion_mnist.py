"""fmnist_core.data.fashion_mnist: finding the four files, strict IDX parsing, clear errors, the real set, scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fmnist_core.data import fashion_mnist
from helpers import IDX_FILES, REAL_DATA_DIR, requires_real_data, write_idx_set


@pytest.fixture
def no_default_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Keras' cache and Debian's folder moved to empty temp paths; FMNIST_DATA_DIR unset."""
    keras_dir, debian_dir = tmp_path / "keras-cache", tmp_path / "debian"
    monkeypatch.setattr(fashion_mnist, "KERAS_CACHE_DIR", keras_dir)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", debian_dir)
    monkeypatch.delenv("FMNIST_DATA_DIR", raising=False)
    return keras_dir, debian_dir


def test_class_names_are_the_official_ten_in_order() -> None:
    assert fashion_mnist.CLASS_NAMES == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


def test_file_names_are_the_original_idx_names() -> None:
    assert fashion_mnist.FILES == IDX_FILES
    assert fashion_mnist.EXPECTED_COUNT == {"train": 60_000, "test": 10_000}


def test_find_order_explicit_then_env_then_keras_then_debian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_default_dirs: tuple[Path, Path]
) -> None:
    keras_dir, debian_dir = no_default_dirs
    explicit, env_dir = tmp_path / "explicit", tmp_path / "env"
    for folder in (explicit, env_dir, keras_dir, debian_dir):
        write_idx_set(folder)

    assert fashion_mnist.find_data_dir() == keras_dir
    (keras_dir / IDX_FILES["train_labels"]).unlink()  # Keras' cache incomplete -> Debian's package
    assert fashion_mnist.find_data_dir() == debian_dir
    monkeypatch.setenv("FMNIST_DATA_DIR", str(env_dir))
    assert fashion_mnist.find_data_dir() == env_dir
    assert fashion_mnist.find_data_dir(explicit) == explicit
    assert fashion_mnist.find_data_dir(str(explicit)) == explicit
    assert fashion_mnist.candidate_dirs(explicit) == [explicit, keras_dir, debian_dir]
    monkeypatch.delenv("FMNIST_DATA_DIR")
    assert fashion_mnist.candidate_dirs() == [keras_dir, debian_dir]


def test_explicit_dir_missing_a_file_is_an_error_naming_it(tmp_path: Path, no_default_dirs: tuple[Path, Path]) -> None:
    _, debian_dir = no_default_dirs
    write_idx_set(debian_dir)  # a valid fallback exists, and still the explicit folder is not skipped
    idx = write_idx_set(tmp_path / "mine")
    idx.paths["test_labels"].unlink()
    with pytest.raises(fashion_mnist.DataError) as err:
        fashion_mnist.find_data_dir(idx.folder)
    message = str(err.value)
    assert str(idx.paths["test_labels"]) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "FMNIST_DATA_DIR" in message


def test_env_dir_missing_a_file_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_default_dirs: tuple[Path, Path]
) -> None:
    _, debian_dir = no_default_dirs
    write_idx_set(debian_dir)
    monkeypatch.setenv("FMNIST_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(fashion_mnist.DataError, match="train-images-idx3-ubyte.gz is missing"):
        fashion_mnist.find_data_dir()


def test_nothing_found_lists_where_it_looked(no_default_dirs: tuple[Path, Path]) -> None:
    keras_dir, debian_dir = no_default_dirs
    with pytest.raises(fashion_mnist.DataError) as err:
        fashion_mnist.find_data_dir()
    message = str(err.value)
    assert str(keras_dir) in message and str(debian_dir) in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_download_is_the_last_resort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_default_dirs: tuple[Path, Path]
) -> None:
    import keras

    keras_dir, _ = no_default_dirs
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: write_idx_set(keras_dir))
    assert fashion_mnist.find_data_dir(download=True) == keras_dir


def test_failed_download_is_a_data_error(monkeypatch: pytest.MonkeyPatch, no_default_dirs: tuple[Path, Path]) -> None:
    import keras

    def offline() -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(fashion_mnist.DataError, match="could not download it \\(network is unreachable\\)") as err:
        fashion_mnist.find_data_dir(download=True)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)


def test_small_set_parses_to_the_written_arrays(tmp_path: Path) -> None:
    idx = write_idx_set(tmp_path, n_train=12, n_test=6, seed=3)
    images = fashion_mnist.parse_idx_images(idx.paths["train_images"], expected=None)
    labels = fashion_mnist.parse_idx_labels(idx.paths["test_labels"], expected=None)
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (6,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, idx.train_images)
    np.testing.assert_array_equal(labels, idx.test_labels)
    # An explicit matching count is accepted too.
    assert fashion_mnist.parse_idx_images(idx.paths["test_images"], expected=6).shape == (6, 28, 28)


@pytest.mark.parametrize(
    ("key", "kind", "says"),
    [
        ("train_images", "truncated_gzip", "damaged or truncated"),
        ("train_images", "not_gzip", "damaged or truncated"),
        ("train_images", "empty", "too short"),
        ("train_images", "bad_magic", "magic number 2049"),
        ("train_images", "size_27", "27x27"),
        ("train_images", "short_body", "truncated"),
        ("test_labels", "truncated_gzip", "damaged or truncated"),
        ("test_labels", "not_gzip", "damaged or truncated"),
        ("test_labels", "empty", "too short"),
        ("test_labels", "bad_magic", "magic number 2051"),
        ("test_labels", "short_body", "truncated"),
        ("test_labels", "label_10", "label 10"),
    ],
)
def test_damaged_file_is_a_data_error_naming_the_file(tmp_path: Path, key: str, kind: str, says: str) -> None:
    idx = write_idx_set(tmp_path, corrupt={key: kind})
    parse = fashion_mnist.parse_idx_images if key.endswith("images") else fashion_mnist.parse_idx_labels
    with pytest.raises(fashion_mnist.DataError) as err:
        parse(idx.paths[key], expected=None)
    message = str(err.value)
    assert str(idx.paths[key]) in message
    assert says in message
    assert "FMNIST_DATA_DIR" in message
    # The untouched file of the other kind in the same split still parses.
    sibling = {"train_images": "train_labels", "test_labels": "test_images"}[key]
    sibling_parse = fashion_mnist.parse_idx_labels if sibling.endswith("labels") else fashion_mnist.parse_idx_images
    assert len(sibling_parse(idx.paths[sibling], expected=None)) == (12 if key.startswith("train") else 6)


def test_count_check(tmp_path: Path) -> None:
    idx = write_idx_set(tmp_path, n_train=12, n_test=6)
    with pytest.raises(fashion_mnist.DataError, match="holds 12 images, not 60000") as err:
        fashion_mnist.parse_idx_images(idx.paths["train_images"], expected=60_000)
    assert str(idx.paths["train_images"]) in str(err.value)
    with pytest.raises(fashion_mnist.DataError, match="holds 6 labels, not 10000"):
        fashion_mnist.parse_idx_labels(idx.paths["test_labels"], expected=10_000)
    # load_split insists on the real counts, naming the file.
    with pytest.raises(fashion_mnist.DataError, match="t10k-images-idx3-ubyte.gz holds 6 images, not 10000"):
        fashion_mnist.load_test_set(idx.folder)


def test_load_split_rejects_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'valid'"):
        fashion_mnist.load_split("valid", tmp_path)


def test_scale_range_shape_and_dtype() -> None:
    images = np.array([[[0] * 28] * 28, [[255] * 28] * 28], dtype=np.uint8)
    images[0, 3, 4] = 51
    x = fashion_mnist.scale(images)
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert x[0, 3, 4, 0] == pytest.approx(0.2)
    assert np.all(x[1] == 1.0)
    x64 = fashion_mnist.scale(images, np.float64)
    assert x64.dtype == np.float64 and x64[0, 3, 4, 0] == 51 / 255


def test_samples_per_class_picks_first_indices() -> None:
    labels = np.array([3, 1, 3, 0, 1, 3], dtype=np.uint8)
    split = fashion_mnist.Split(images=np.zeros((6, 28, 28), np.uint8), labels=labels)
    picks = fashion_mnist.samples_per_class(split, per_class=2)
    assert picks[3] == [0, 2] and picks[1] == [1, 4] and picks[0] == [3]
    assert picks[9] == [] and sorted(picks) == list(range(10))
    assert len(split) == 6


@requires_real_data
def test_real_sets_shapes_dtypes_and_known_labels() -> None:
    train = fashion_mnist.load_train_set(REAL_DATA_DIR)
    test = fashion_mnist.load_test_set(REAL_DATA_DIR)
    assert train.images.shape == (60_000, 28, 28) and test.images.shape == (10_000, 28, 28)
    assert train.images.dtype == np.uint8 and test.labels.dtype == np.uint8
    assert len(train) == 60_000 and len(test) == 10_000
    assert set(np.unique(test.labels)) == set(range(10))
    # Fashion-MNIST is balanced: 6,000 / 1,000 of each class.
    np.testing.assert_array_equal(np.bincount(train.labels), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test.labels), [1000] * 10)
    assert int(test.labels[0]) == 9 and int(train.labels[0]) == 9  # both begin with an ankle boot
    assert int(test.labels[10]) == 4 and int(test.labels[110]) == 2


@requires_real_data
def test_real_set_is_decoded_once() -> None:
    first = fashion_mnist.load_test_set(REAL_DATA_DIR)
    assert fashion_mnist.load_test_set(REAL_DATA_DIR) is first
    assert fashion_mnist.load_split("test", str(REAL_DATA_DIR)) is first


@requires_real_data
def test_fingerprint_is_stable_and_short() -> None:
    fp = fashion_mnist.fingerprint(REAL_DATA_DIR)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fashion_mnist.fingerprint(REAL_DATA_DIR) == fp
