"""Browsing the test set: which images match the filters, which one is selected, and the page of the grid.

The Test images page keeps its view in session state between reruns; this module is the rule that turns that
state plus the filters into what to show, with no Streamlit in it, so the rule can be tested on its own:

- the filters (actual class, predicted class, only misclassified, only suspect labels) give the matches, in index
  order, or in cleanlab's rank order (most suspect first) when only suspect labels are shown;
- new filters send the grid back to their first page;
- a selected image that the filters exclude is replaced by the first match, and the image the person had chosen is
  remembered (across further filter changes) so the page can say so, until they pick another; after new filters
  the stand-in is again their first match, or the chosen image itself when they let it through;
- after a link, Previous/Next or such a replacement, the grid turns to the page that holds the selected image;
- the page never goes past the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

PER_PAGE = 100  # thumbnails a page: ten rows of ten


@dataclass(frozen=True)
class Filters:
    """What the grid shows: a class index for the actual and the predicted class (None: any), and two switches."""

    actual: int | None = None
    predicted: int | None = None
    only_wrong: bool = False
    only_suspect: bool = False


@dataclass(frozen=True)
class View:
    """The outcome of one rerun: the matches, the selected image and where it stands, the grid's page.

    `moved` is (the image the person chose, the first match shown instead) while that replacement stands, else None;
    the caller keeps it for the next rerun.
    """

    matches: tuple[int, ...]
    image: int
    position: int
    page: int
    pages: int
    moved: tuple[int, int] | None
    per_page: int = PER_PAGE

    @property
    def shown(self) -> tuple[int, ...]:
        """The matches on the current page of the grid."""
        return self.matches[(self.page - 1) * self.per_page : self.page * self.per_page]

    @property
    def previous(self) -> int | None:
        """The match before the selected one (None at the first match or without matches)."""
        return self.matches[self.position - 1] if self.matches and self.position > 0 else None

    @property
    def next(self) -> int | None:
        """The match after the selected one (None at the last match or without matches)."""
        return self.matches[self.position + 1] if self.position + 1 < len(self.matches) else None

    @property
    def moved_from(self) -> int | None:
        """The image the person chose when the filters made the page show the first match instead, else None."""
        return self.moved[0] if self.moved else None

    def select(self, image: int) -> View:
        """The same view with another image selected (a click in the grid: the page and any note stay as they are)."""
        return replace(self, image=int(image), position=place_of(self.matches, int(image)))


def matching(actual: np.ndarray, predicted: np.ndarray, suspects: Sequence[int], filters: Filters) -> tuple[int, ...]:
    """The test images the filters let through: in index order, or in `suspects`' order (most suspect first)."""
    actual = np.asarray(actual)
    predicted = np.asarray(predicted)
    mask = np.ones(len(actual), dtype=bool)
    if filters.actual is not None:
        mask &= actual == filters.actual
    if filters.predicted is not None:
        mask &= predicted == filters.predicted
    if filters.only_wrong:
        mask &= predicted != actual
    if filters.only_suspect:
        return tuple(int(i) for i in suspects if mask[i])
    return tuple(np.flatnonzero(mask).tolist())


def place_of(matches: Sequence[int], image: int) -> int:
    """Where an image stands among the matches; 0 when it is not among them (no binary search: suspects are ranked)."""
    try:
        return list(matches).index(image)
    except ValueError:
        return 0


def page_count(matches: int, per_page: int = PER_PAGE) -> int:
    """Pages of the grid for this many matches: at least one, so an empty result still has a page to show."""
    return max(1, -(-matches // per_page))


def browse(
    actual: np.ndarray,
    predicted: np.ndarray,
    suspects: Sequence[int],
    filters: Filters,
    image: int,
    page: int,
    *,
    filters_changed: bool = False,
    follow: bool = False,
    moved: tuple[int, int] | None = None,
    per_page: int = PER_PAGE,
) -> View:
    """Apply the filters to the last rerun's selection and page; what the page draws comes out.

    actual, predicted: a class index per test image. suspects: the suspect images' indexes, most suspect first.
    image, page: the selection and the grid's page (1-based) as the last rerun left them. filters_changed: the
    filters differ from the last rerun's (back to the first page). follow: turn to the page holding the image (set
    after a link or Previous/Next). moved: the last rerun's View.moved.
    """
    matches = matching(actual, predicted, suspects, filters)
    pages = page_count(len(matches), per_page)
    if filters_changed:
        page = 1
    chosen = int(image)
    found = set(matches)
    if filters_changed and moved and moved[1] == chosen:
        # The selection stands in for the image the person chose: new filters bring that image back when they let
        # it through, else stand in with their own first match (the note says "the first match").
        if moved[0] in found:
            chosen, moved, follow = moved[0], None, True
        elif matches and chosen != matches[0]:
            chosen, moved, follow = matches[0], (moved[0], matches[0]), True
    if matches and chosen not in found:
        # Remember the image the person had chosen, across further filter changes, until they pick another.
        original = moved[0] if moved and moved[1] == chosen else chosen
        chosen = matches[0]
        moved = (original, chosen)
        follow = True
    if not (moved and moved[1] == chosen):
        moved = None
    position = place_of(matches, chosen)
    if follow and matches:
        page = position // per_page + 1
    page = max(1, min(int(page), pages))
    return View(matches, chosen, position, page, pages, moved, per_page)
