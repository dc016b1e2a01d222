"""Errors of the store (see ``hpo._errors`` for the whole tree)."""

from __future__ import annotations

from search_spaces._errors import HPOError


class StoreError(HPOError):
    """The store could not be opened, read or written. The message names the store's URL
    (password hidden) and what the database said."""


class NotFoundError(StoreError, LookupError):
    """No sweep or trial matches the given name or id."""
