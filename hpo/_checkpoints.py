"""Where trials keep their checkpoints: one folder per trial, kept across its legs.

``checkpoints`` in the config if set, else beside a SQLite store's file (``hpo.db`` ->
``hpo-checkpoints/``), else ``./hpo-checkpoints`` for a server store; a folder per sweep
(``<name>-<id>``) inside. A sweep without a store gets a temporary folder, removed at its end
(nothing can resume it). A pruned trial's folder is removed: it never runs again.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid

from trackers import Store

__all__ = ["Checkpoints"]


class Checkpoints:
    """The checkpoint folders of one sweep's trials (created lazily: by the trial, on use)."""

    def __init__(self, root: str | None, store: Store | None) -> None:
        self._root = root
        self._store = store
        self._sweep: str | None = None
        self._temporary = False

    def open(self, name: str, sweep_id: int | None) -> None:
        """Settle the sweep's folder once its id is known (None: no store)."""
        if self._store is None or sweep_id is None:
            # a fresh name, created only if a trial uses it (Trial.checkpoint_dir makes it)
            self._sweep = os.path.join(tempfile.gettempdir(), f"hpo-checkpoints-{uuid.uuid4().hex}")
            self._temporary = True
            return
        root = self._root
        if root is None:
            path = self._store.database_file()
            if path is not None:
                stem = os.path.splitext(os.path.basename(path))[0]
                root = os.path.join(os.path.dirname(path), f"{stem}-checkpoints")
            else:
                root = os.path.abspath("hpo-checkpoints")
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

    def close(self) -> None:
        """Remove the temporary folder of a sweep without a store."""
        if self._temporary and self._sweep is not None:
            shutil.rmtree(self._sweep, ignore_errors=True)
