"""fmnist_core.analysis.browse: the Test images page's filters, selection and paging, on the real test set under the shipped
model (the counts it must agree with) and on small hand-made sets (the boundaries, worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_core.analysis.browse import PER_PAGE, Filters, browse, matching, page_count, place_of
from helpers import requires_real_data

SHIRT, TSHIRT, COAT, BAG = 6, 0, 4, 8


@pytest.fixture(scope="module")
def labelled(test_set, model) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(actual, predicted, suspect indexes most suspect first) for the 10,000 test images under the shipped model."""
    from fmnist_core.analysis.suspect_labels import find_suspects
    from fmnist_core.nets.inference import predict_proba

    probabilities = predict_proba(model, test_set.images)
    actual = test_set.labels.astype(int)
    return actual, probabilities.argmax(axis=1), [s.index for s in find_suspects(actual, probabilities)]


# --- the real test set --------------------------------------------------------------------------------------------
@requires_real_data
def test_no_filter_lets_every_image_through_in_index_order(labelled) -> None:
    actual, predicted, suspects = labelled
    view = browse(actual, predicted, suspects, Filters(), image=110, page=1, follow=True)
    assert view.matches == tuple(range(10_000))
    assert (view.pages, view.page, view.position) == (100, 2, 110)  # image 110 is on the second page of 100
    assert view.shown == tuple(range(100, 200))
    assert (view.previous, view.next, view.moved) == (109, 111, None)


@requires_real_data
def test_class_and_mistake_filters_match_a_confusion_cell(labelled) -> None:
    actual, predicted, suspects = labelled
    cell = np.flatnonzero((actual == SHIRT) & (predicted == TSHIRT))
    assert 20 < len(cell) < 300  # shirts taken for T-shirts: a cell the shipped model does get wrong
    for only_wrong in (False, True):  # every image of this cell is a mistake, so "only misclassified" changes nothing
        found = matching(actual, predicted, suspects, Filters(SHIRT, TSHIRT, only_wrong=only_wrong))
        assert found == tuple(cell.tolist())
    coats = matching(actual, predicted, suspects, Filters(actual=COAT))
    assert len(coats) == 1000 and all(actual[i] == COAT for i in coats)  # the test set has 1,000 of each class
    said_coat = matching(actual, predicted, suspects, Filters(predicted=COAT))
    assert said_coat == tuple(np.flatnonzero(predicted == COAT).tolist()) and len(said_coat) != 1000
    wrong = matching(actual, predicted, suspects, Filters(only_wrong=True))
    assert len(wrong) == int((predicted != actual).sum()) and all(predicted[i] != actual[i] for i in wrong)
    assert list(wrong) == sorted(wrong)


@requires_real_data
def test_only_suspects_come_most_suspect_first(labelled) -> None:
    actual, predicted, suspects = labelled
    assert matching(actual, predicted, suspects, Filters(only_suspect=True)) == tuple(suspects)
    assert list(suspects) != sorted(suspects)  # so the next check can tell rank order from index order
    bags = matching(actual, predicted, suspects, Filters(actual=BAG, only_suspect=True))
    assert bags == tuple(i for i in suspects if actual[i] == BAG) and bags
    plain = next(i for i in range(len(actual)) if i not in set(suspects))
    view = browse(actual, predicted, suspects, Filters(only_suspect=True), image=plain, page=1)
    assert view.image == suspects[0] and view.next == suspects[1]  # the most suspect, then the next in rank
    assert view.moved == (plain, suspects[0]) and view.previous is None


@requires_real_data
def test_a_filter_that_matches_nothing(labelled) -> None:
    actual, predicted, suspects = labelled
    nothing = Filters(actual=COAT, predicted=COAT, only_wrong=True)  # right and wrong at once
    view = browse(actual, predicted, suspects, nothing, image=123, page=7, filters_changed=True)
    assert view.matches == () and view.shown == ()
    assert (view.pages, view.page) == (1, 1)
    assert view.image == 123 and view.moved is None  # the detail keeps the image it had
    assert (view.previous, view.next) == (None, None)


@requires_real_data
def test_the_last_page_holds_the_rest(labelled) -> None:
    actual, predicted, suspects = labelled
    wrong = matching(actual, predicted, suspects, Filters(only_wrong=True))
    pages = page_count(len(wrong))
    assert len(wrong) % PER_PAGE  # a partly filled last page (measured: several hundred mistakes)
    view = browse(actual, predicted, suspects, Filters(only_wrong=True), image=wrong[-1], page=1, follow=True)
    assert (view.page, view.pages, view.position) == (pages, pages, len(wrong) - 1)
    assert view.shown == wrong[(pages - 1) * PER_PAGE :] and len(view.shown) == len(wrong) % PER_PAGE
    assert view.next is None and view.previous == wrong[-2]


# --- small sets, worked out by hand -------------------------------------------------------------------------------
# Ten images; the model is wrong on 1, 4, 7 and 8. Suspects (most suspect first): 8, 2, 4.
ACTUAL = np.array([0, 1, 1, 0, 1, 0, 0, 1, 0, 1])
PREDICTED = np.array([0, 0, 1, 0, 0, 0, 0, 0, 1, 1])
SUSPECTS = [8, 2, 4]


NONE = Filters()


def small(filters: Filters = NONE, image: int = 0, page: int = 1, **kwargs):
    """browse() on the ten images, three a page."""
    return browse(ACTUAL, PREDICTED, SUSPECTS, filters, image, page, per_page=3, **kwargs)


def test_small_filters() -> None:
    assert matching(ACTUAL, PREDICTED, SUSPECTS, Filters(actual=1)) == (1, 2, 4, 7, 9)
    assert matching(ACTUAL, PREDICTED, SUSPECTS, Filters(actual=1, predicted=0)) == (1, 4, 7)
    assert matching(ACTUAL, PREDICTED, SUSPECTS, Filters(only_wrong=True)) == (1, 4, 7, 8)
    assert matching(ACTUAL, PREDICTED, SUSPECTS, Filters(only_suspect=True)) == (8, 2, 4)
    assert matching(ACTUAL, PREDICTED, SUSPECTS, Filters(only_wrong=True, only_suspect=True)) == (8, 4)
    assert matching(ACTUAL, PREDICTED, SUSPECTS, Filters(actual=0, predicted=1, only_suspect=True)) == (8,)
    assert matching(ACTUAL, PREDICTED, [], Filters(only_suspect=True)) == ()


def test_page_boundaries() -> None:
    assert [page_count(n, 3) for n in (0, 1, 3, 4, 6, 7)] == [1, 1, 1, 2, 2, 3]
    assert [small(image=i, follow=True).page for i in range(10)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    assert small(page=4).shown == (9,)  # the last page holds the one left over
    assert small(page=9).page == 4  # never past the last page
    assert small(page=0).page == 1
    assert small(image=5, page=3).page == 3  # without a reason to follow, the page stays where the person put it


def test_previous_and_next_stop_at_the_ends() -> None:
    wrong = Filters(only_wrong=True)
    assert [(v.previous, v.next) for v in (small(wrong, image=i) for i in (1, 4, 7, 8))] == [
        (None, 4),
        (1, 7),
        (4, 8),
        (7, None),
    ]
    ranked = small(Filters(only_suspect=True), image=2)
    assert (ranked.previous, ranked.next) == (8, 4)  # rank order, not index order


def test_new_filters_go_back_to_their_first_page() -> None:
    view = small(Filters(actual=0), image=8, page=2, filters_changed=True)
    assert view.matches == (0, 3, 5, 6, 8) and view.image == 8  # the image matches, so it stays selected
    assert view.page == 1  # though it is on page 2: the filters are new and nothing asked to follow it
    assert small(Filters(actual=0), image=8, page=1, follow=True).page == 2


def test_a_selection_the_filters_keep_stays() -> None:
    view = small(Filters(actual=1), image=7, page=2)
    assert (view.image, view.position, view.page, view.moved) == (7, 3, 2, None)


def test_a_selection_the_filters_exclude_moves_to_the_first_match_and_is_remembered() -> None:
    first = small(Filters(only_wrong=True), image=9, page=3, filters_changed=True)
    assert (first.image, first.position, first.page) == (1, 0, 1)
    assert first.moved == (9, 1) and first.moved_from == 9
    # Narrower filters exclude the stand-in too: the note still names the image the person chose.
    second = small(Filters(only_wrong=True, only_suspect=True), image=first.image, moved=first.moved)
    assert (second.image, second.moved_from) == (8, 9) and second.page == 1
    # The stand-in still selected on the next rerun: the note stays.
    assert small(Filters(only_wrong=True, only_suspect=True), image=8, moved=second.moved).moved == (9, 8)
    # The person picks another image: the note goes.
    assert small(Filters(only_wrong=True, only_suspect=True), image=4, moved=second.moved).moved is None


def test_after_new_filters_the_note_names_their_first_match_on_the_page_shown() -> None:
    """A stand-in still among the new matches but not first was named "the first match" while the grid showed
    page 1 without it: nothing framed. It is their first match now, on the page shown."""
    suspects_first = small(Filters(only_suspect=True), image=0, filters_changed=True)
    assert (suspects_first.image, suspects_first.moved) == (8, (0, 8))
    wrong = small(Filters(only_wrong=True), image=8, page=1, filters_changed=True, moved=suspects_first.moved)
    assert wrong.matches == (1, 4, 7, 8)  # the old stand-in 8 matches, on page 2 of these
    assert (wrong.image, wrong.moved_from, wrong.page) == (1, 0, 1) and wrong.image in wrong.shown
    # Filters that let the chosen image through bring it back, on its page, and the note goes.
    back = small(Filters(actual=0), image=wrong.image, page=1, filters_changed=True, moved=wrong.moved)
    assert (back.image, back.moved, back.page) == (0, None, 1)
    later = small(Filters(actual=1), image=1, page=1, filters_changed=True, moved=(9, 1))
    assert (later.image, later.moved, later.page) == (9, None, 2) and 9 in later.shown


def test_a_moved_selection_takes_the_grid_to_its_page() -> None:
    view = small(Filters(actual=1), image=0, page=2)  # same filters as before, yet image 0 does not match
    assert (view.image, view.page, view.moved) == (1, 1, (0, 1))
    single = small(Filters(actual=0, predicted=1), image=0, page=1)  # only image 8 matches
    assert (single.image, single.page, single.pages, single.shown) == (8, 1, 1, (8,))


def test_a_click_selects_without_moving_the_page_or_the_note() -> None:
    view = small(Filters(only_wrong=True), image=9, page=2, filters_changed=True)
    clicked = view.select(7)
    assert (clicked.image, clicked.position, clicked.previous, clicked.next) == (7, 2, 4, 8)
    assert (clicked.page, clicked.moved) == (view.page, view.moved)
    assert view.image == 1  # the view itself is unchanged (frozen)


def test_place_of_reads_rank_order() -> None:
    assert [place_of((8, 2, 4), i) for i in (8, 2, 4, 5)] == [0, 1, 2, 0]
