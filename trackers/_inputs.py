"""Hashing the input data a sweep declares (``inputs: [paths or globs]``), with a cache.

Each pattern (relative to a base folder, normally the config's) is expanded; every match is
one *entry* of the record: a file with its size and sha256, or a directory with the total size
and file count of everything under it and one sha256 over its files' relative paths and hashes
(walked in sorted order, so the digest does not depend on the file system's listing order).

Hashes are remembered in a small JSON cache keyed by absolute path, size and ``mtime_ns``: a
large unchanged dataset is stat'ed, not re-read. The cache is ``$HPO_INPUTS_CACHE`` if set,
else ``$XDG_CACHE_HOME/hpo/inputs.json`` (default ``~/.cache/hpo/inputs.json``); it is only an
accelerator, so a missing, corrupt or unwritable cache is ignored.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from search_spaces._errors import HPOError

__all__ = ["InputsError", "default_cache_path", "expand_inputs", "hash_inputs"]

CHUNK_BYTES = 1 << 20
CACHE_ENV = "HPO_INPUTS_CACHE"

Opener = Callable[[Path], IO[bytes]]


class InputsError(HPOError, ValueError):
    """A declared input (``inputs:``) matches nothing. ``pattern`` is the pattern as given and
    ``index`` its position in the list."""

    def __init__(self, message: str, *, pattern: str, index: int) -> None:
        self.message = message
        self.pattern = pattern
        self.index = index
        self.path = (index,)
        super().__init__(message)


def default_cache_path() -> Path:
    """Where hashes are cached unless a caller names a file (see the module's docstring)."""
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named)
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "hpo" / "inputs.json"


def expand_inputs(patterns: Sequence[str], base: Path) -> list[list[Path]]:
    """The matches of each pattern (absolute, sorted), in the patterns' order.

    Raises :class:`InputsError` naming the first pattern that matches nothing.
    """
    out: list[list[Path]] = []
    for index, pattern in enumerate(patterns):
        matches = _matches(pattern, base)
        if not matches:
            raise _no_match(pattern, index, base)
        out.append(matches)
    return out


def _no_match(pattern: str, index: int, base: Path) -> InputsError:
    return InputsError(
        f"input {pattern!r} matches no file or folder under {base}: declared inputs must "
        "exist (paths and globs are relative to the config's folder); fix the pattern or "
        "remove it",
        pattern=pattern,
        index=index,
    )


def hash_inputs(
    patterns: Sequence[str],
    base: Path,
    *,
    cache: Path | None = None,
    missing_ok: bool = False,
    opener: Opener | None = None,
) -> dict[str, Any]:
    """Hash what ``patterns`` match under ``base``; a JSON-ready record::

        {"patterns": [...], "entries": {"data/a.csv": {"size": 120, "sha256": "..."},
                                        "data/img": {"size": 9000, "files": 3, "sha256": "..."}},
         "total_bytes": 9120, "total_files": 4}

    Entry names are relative to ``base`` (POSIX separators) when inside it, else absolute.
    ``missing_ok`` lists a pattern that matches nothing under ``"missing"`` instead of raising
    :class:`InputsError` (reproduction uses it: gone data is a difference, not an error).
    ``opener`` opens a file for reading (tests pass a counting wrapper); ``cache`` defaults to
    :func:`default_cache_path`.
    """
    base = Path(base).absolute()
    cache_file = cache if cache is not None else default_cache_path()
    hasher = _CachedHasher(_load_cache(cache_file), opener or _open)
    entries: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for index, pattern in enumerate(patterns):
        matches = _matches(pattern, base)
        if not matches:
            if not missing_ok:
                raise _no_match(pattern, index, base)
            missing.append(pattern)
        for path in matches:
            name = _name(path, base)
            if name not in entries:
                entries[name] = hasher.entry(path)
    if hasher.dirty:
        _save_cache(cache_file, hasher.cache)
    record: dict[str, Any] = {
        "patterns": list(patterns),
        "entries": dict(sorted(entries.items())),
        "total_bytes": sum(e["size"] for e in entries.values()),
        "total_files": sum(e.get("files", 1) for e in entries.values()),
    }
    if missing:
        record["missing"] = missing
    return record


def _matches(pattern: str, base: Path) -> list[Path]:
    full = Path(os.path.expanduser(pattern))
    if not full.is_absolute():
        full = base / full
    if glob.has_magic(str(full)):
        found = glob.glob(str(full), recursive=True)
        return sorted(Path(p) for p in found if os.path.isfile(p) or os.path.isdir(p))
    return [full] if full.exists() else []


def _name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _open(path: Path) -> IO[bytes]:
    return open(path, "rb")


class _CachedHasher:
    def __init__(self, cache: dict[str, dict[str, Any]], opener: Opener) -> None:
        self.cache = cache
        self.opener = opener
        self.dirty = False

    def entry(self, path: Path) -> dict[str, Any]:
        if path.is_dir():
            digest = hashlib.sha256()
            size = count = 0
            for file in _walk(path):
                stat, sha = self.file(file)
                digest.update(f"{file.relative_to(path).as_posix()}\0{sha}\n".encode())
                size += stat.st_size
                count += 1
            return {"size": size, "files": count, "sha256": digest.hexdigest()}
        stat, sha = self.file(path)
        return {"size": stat.st_size, "sha256": sha}

    def file(self, path: Path) -> tuple[os.stat_result, str]:
        stat = path.stat()
        key = str(path)
        hit = self.cache.get(key)
        if hit and hit.get("size") == stat.st_size and hit.get("mtime_ns") == stat.st_mtime_ns:
            return stat, str(hit["sha256"])
        digest = hashlib.sha256()
        with self.opener(path) as f:
            while chunk := f.read(CHUNK_BYTES):
                digest.update(chunk)
        sha = digest.hexdigest()
        self.cache[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha}
        self.dirty = True
        return stat, sha


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file():  # a dangling link or a socket is not data
                yield path


def _load_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(path: Path, cache: dict[str, dict[str, Any]]) -> None:
    # Written whole to a temporary file then renamed, so a concurrent reader sees the old or the
    # new cache, never half of one; failing to write only costs a re-read next time.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".inputs-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(cache, f, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        return
