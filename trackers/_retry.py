"""Bounded retries with backoff for the store's transient failures.

SQLite answers "database is locked" when another writer holds the lock past the busy
timeout; PostgreSQL can drop a connection or pick a transaction as a deadlock victim. Those
pass if tried again a moment later. Everything else (a full disk, a read-only file, a
constraint) is not retried: it fails at once with its message.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from trackers._errors import StoreError

T = TypeVar("T")

ATTEMPTS = 6
BASE_DELAY = 0.05  # seconds; doubles each attempt
MAX_DELAY = 2.0

_TRANSIENT = ("database is locked", "database table is locked", "deadlock", "busy")


def is_transient(exc: BaseException | None) -> bool:
    """Whether a failed database call may succeed if tried again."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(marker in text for marker in _TRANSIENT)


def retrying(fn: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """``fn()``, tried again with exponential backoff (and jitter, so that competing writers
    do not retry in step) while it fails with a transient store error."""
    for attempt in range(attempts):
        try:
            return fn()
        except StoreError as exc:
            last = attempt == attempts - 1
            if not is_transient(exc.__cause__):
                raise
            if last:
                raise StoreError(f"{exc} (gave up after {attempts} attempts)") from exc.__cause__
            delay = min(MAX_DELAY, BASE_DELAY * 2**attempt)
            time.sleep(delay * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")  # pragma: no cover


def retried(method: Callable[..., T]) -> Callable[..., T]:
    """Decorate a store method so that each call goes through :func:`retrying`."""

    @functools.wraps(method)
    def wrapper(*args: object, **kwargs: object) -> T:
        return retrying(lambda: method(*args, **kwargs))

    return wrapper
