"""The store's one error type, apart so that every module of the store can raise it without importing the others."""

from __future__ import annotations


class StoreError(RuntimeError):
    """A run could not be saved, found or loaded; the message says why in one line."""
