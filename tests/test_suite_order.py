"""The suite's own scheduling: the files conftest.py puts first must exist, or a rename would quietly drop one."""

from __future__ import annotations

from pathlib import Path

import conftest


def test_every_file_listed_longest_first_exists() -> None:
    tests = Path(conftest.__file__).parent
    missing = [name for name in conftest.LONGEST_FIRST if not (tests / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FIRST names files that do not exist: {missing}"
    assert len(set(conftest.LONGEST_FIRST)) == len(conftest.LONGEST_FIRST)
