"""fmnist_core.runs.records: why an epoch's train accuracy can be below its test accuracy, in plain words."""

from __future__ import annotations

from fmnist_core.runs.records import EpochRow, why_train_below_test


def test_train_accuracy_below_test_accuracy_is_explained() -> None:
    # A class saw train accuracy 45% under test accuracy 63% after one epoch, with no word why.
    why = why_train_below_test(EpochRow(epoch=1, accuracy=0.4512, test_accuracy=0.6307))
    assert why == (
        "Train accuracy (45%) is below test accuracy (63%) because it is an average over the whole epoch, counted "
        "while the network was still learning (and while dropout or changed images such as flips made training "
        "harder); test accuracy is measured once, at the end of the epoch."
    )


def test_nothing_to_explain_when_train_is_not_below_test() -> None:
    assert why_train_below_test(EpochRow(epoch=3, accuracy=0.95, test_accuracy=0.91)) is None
    assert why_train_below_test(EpochRow(epoch=3, accuracy=0.906, test_accuracy=0.909)) is None  # both "91%"
    assert why_train_below_test(EpochRow(epoch=3, accuracy=0.5, test_accuracy=None)) is None  # not evaluated
    assert why_train_below_test(EpochRow(epoch=3, accuracy=None, test_accuracy=0.6)) is None
