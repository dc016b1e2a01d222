"""Where trials keep their checkpoints: one folder per trial, kept across its legs.

``checkpoints`` in the config if set, else beside a SQLite store's file (``hpo.db`` ->
``hpo-checkpoints/``), else ``./hpo-checkpoints`` for a server store; a folder per sweep
(``<name>-<id>``) inside. A sweep without a store gets a temporary folder, removed at its end
(nothing can resume it). A pruned trial's folder is removed: it never runs again.

A trial's folder exists only while it may be used or once something is in it: a Python
objective creates it on first use of ``trial.checkpoint_dir``, a command objective gets it
created before it starts (``$HPO_CHECKPOINT_DIR`` must exist), and the engine removes it again
when a leg ends and left it empty (the next leg, if any, creates it again). At the sweep's end
the empty trial folders left (interrupted legs), then an empty sweep folder, then an empty
root are removed, so a sweep whose trials save nothing leaves nothing behind. A folder with
anything in it is never touched here except by ``drop``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trackers import Store

__all__ = ["Checkpoints", "default_checkpoint_root", "make_folder"]

_TRIAL_FOLDER = re.compile(r"trial-\d+")


def _remove_if_empty(path: str) -> None:
    # rmdir refuses a non-empty folder atomically: no check-then-remove race with a writer
    with contextlib.suppress(OSError):
        os.rmdir(path)


def make_folder(path: str | os.PathLike[str]) -> None:
    """Create ``path`` and its parents (it may exist). Another sweep of the same store that
    ends may remove an empty parent between makedirs' steps (``Checkpoints.close``), so a
    vanished parent is made again; other OSErrors are the caller's to report."""
    for attempt in range(3):
        try:
            os.makedirs(path, exist_ok=True)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def default_checkpoint_root(database: str | None) -> str:
    """Where checkpoints go when the config names no folder: beside a SQLite ``database``
    (``hpo.db`` -> ``hpo-checkpoints/``), else ``./hpo-checkpoints`` (a server store)."""
    if database is None:
        return os.path.abspath("hpo-checkpoints")
    stem = os.path.splitext(os.path.basename(database))[0]
    return os.path.join(os.path.dirname(database), f"{stem}-checkpoints")


class Checkpoints:
    """The checkpoint folders of one sweep's trials (created lazily: by the trial, on use)."""

    def __init__(self, root: str | None, store: Store | None) -> None:
        self._root = root
        self._store = store
        self._sweep: str | None = None
        self._temporary = False
        # the root may be removed at the end only if hpo owns it: its default place, or a
        # configured folder this sweep found missing (never a folder the user made)
        self._root_removable = False

    def open(self, name: str, sweep_id: int | None) -> None:
        """Settle the sweep's folder once its id is known (None: no store)."""
        if self._store is None or sweep_id is None:
            # a fresh name, created only if a trial uses it (Trial.checkpoint_dir makes it)
            self._sweep = os.path.join(tempfile.gettempdir(), f"hpo-checkpoints-{uuid.uuid4().hex}")
            self._temporary = True
            return
        root = self._root
        if root is None:
            root = default_checkpoint_root(self._store.database_file())
            self._root_removable = True
        else:
            self._root_removable = not os.path.isdir(root)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]
        self._sweep = os.path.join(root, f"{safe}-{sweep_id}")

    def of(self, number: int) -> str:
        """Trial ``number``'s folder."""
        if self._sweep is None:
            raise RuntimeError("Checkpoints.open() must be called before of()")
        return os.path.join(self._sweep, f"trial-{number}")

    def drop(self, number: int) -> None:
        """Remove a trial's folder (a pruned trial's)."""
        if self._sweep is not None:
            shutil.rmtree(self.of(number), ignore_errors=True)

    def release(self, number: int) -> None:
        """A leg of trial ``number`` ended: remove its folder if the leg left it empty."""
        if self._sweep is not None:
            _remove_if_empty(self.of(number))

    def close(self) -> None:
        """Remove the temporary folder of a sweep without a store; otherwise the empty trial
        folders, then the sweep's folder and the root if that left them empty."""
        if self._sweep is None:
            return
        if self._temporary:
            shutil.rmtree(self._sweep, ignore_errors=True)
            return
        try:
            names = os.listdir(self._sweep)
        except OSError:  # no trial ever made a folder
            names = []
        for entry in names:
            if _TRIAL_FOLDER.fullmatch(entry):
                _remove_if_empty(os.path.join(self._sweep, entry))
        _remove_if_empty(self._sweep)
        if self._root_removable:
            _remove_if_empty(os.path.dirname(self._sweep))
