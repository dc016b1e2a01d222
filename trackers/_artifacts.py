"""Artifacts: files a trial saves, kept by content hash in a folder beside the store.

The folder holds one file per distinct content, at ``<root>/<sha[:2]>/<sha256>``, however many
trials log the same bytes; the store's ``artifacts`` table records which trial logged what
under which name. Files are hashed while they are copied (one read) into a temporary file in
the folder and moved into place with ``os.replace``: a reader never sees half a file, and two
processes storing the same content at once both end with the one whole file.

Where the folder is: ``artifacts`` given (config key, ``--artifacts``, ``Store(artifacts=)``),
else ``$HPO_ARTIFACTS``, else beside a SQLite store's file (``hpo.db`` -> ``hpo-artifacts/``),
else, for a database server or an in-memory store, ``$XDG_DATA_HOME/hpo/artifacts``
(``~/.local/share/hpo/artifacts``). A multi-node Ray cluster needs the folder on storage that
every node mounts at the same path: the process that runs the objective copies the file in.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from search_spaces._errors import HPOError

__all__ = [
    "ARTIFACTS_ENV",
    "ArtifactError",
    "ArtifactRecord",
    "ArtifactRef",
    "ArtifactStore",
    "default_artifact_root",
    "locate",
]

#: Overrides the default artifact folder (a config's ``artifacts`` key wins over it).
ARTIFACTS_ENV = "HPO_ARTIFACTS"
_CHUNK = 1 << 20


class ArtifactError(HPOError):
    """An artifact cannot be logged or read: the message names the path or artifact and the
    fix."""


class ArtifactRef(NamedTuple):
    """One logged file on its way from the trial's process to the store: the name it is
    recorded under, its content hash and size."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """An artifact as the store records it."""

    trial_id: int
    name: str
    sha256: str
    size: int
    created_at: float


def default_artifact_root(database_file: str | None) -> str:
    """The artifact folder of a store whose SQLite file is ``database_file`` (None: a server
    or in-memory store). See the module's docstring for the order of choices."""
    env = os.environ.get(ARTIFACTS_ENV)
    if env:
        return os.path.abspath(os.path.expanduser(env))
    if database_file is not None:
        stem = os.path.splitext(os.path.basename(database_file))[0]
        return os.path.join(os.path.dirname(database_file), f"{stem}-artifacts")
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return os.path.join(data, "hpo", "artifacts")


class ArtifactStore:
    """The content-addressed folder at ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    def path_of(self, sha256: str) -> Path:
        """Where the content with this hash lives (whether or not it is there)."""
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def put_stream(self, source: IO[bytes]) -> tuple[str, int]:
        """Copy ``source`` in, hashing as it goes; returns ``(sha256, size)``."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".incoming-", dir=self.root)
        except OSError as exc:
            raise ArtifactError(
                f"cannot write to the artifact folder {self.root}: {exc.strerror or exc}; "
                "choose another with the config key `artifacts:` or $HPO_ARTIFACTS"
            ) from None
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as sink:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
                    size += len(chunk)
            sha = digest.hexdigest()
            final = self.path_of(sha)
            if final.is_file():
                return sha, size  # the same bytes are stored already: keep one copy
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            tmp = ""
            return sha, size
        finally:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Copy the file at ``path`` in; returns ``(sha256, size)``."""
        try:
            with open(path, "rb") as f:
                return self.put_stream(f)
        except ArtifactError:
            raise
        except OSError as exc:
            raise ArtifactError(f"cannot read artifact {path}: {exc.strerror or exc}") from None

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its sha256."""
        return self.put_stream(io.BytesIO(data))[0]

    def copy_out(self, sha256: str, dest: str | os.PathLike[str]) -> None:
        """Write the content with this hash to ``dest`` (its folder is created)."""
        source = self.path_of(sha256)
        if not source.is_file():
            raise ArtifactError(self._missing(sha256))
        target = Path(dest)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as exc:
            raise ArtifactError(f"cannot write {target}: {exc.strerror or exc}") from None

    def _missing(self, sha256: str) -> str:
        return (
            f"the content of this artifact (sha256 {sha256[:12]}...) is not in the artifact "
            f"folder {self.root}: pass --artifacts (or set $HPO_ARTIFACTS) to the folder the "
            "sweep wrote to, or import the sweep's export file again"
        )

    def log(self, path: str | os.PathLike[str], name: str | None = None) -> list[ArtifactRef]:
        """Copy a file, or every file under a folder, in; returns their records.

        A file is named ``name`` or its file name; each file of a folder ``<name or the
        folder's name>/<path relative to the folder>`` (with ``/`` on every system)."""
        source = Path(path)
        if not source.exists():
            raise ArtifactError(
                f"cannot log artifact {os.fspath(path)!r}: no such file or folder "
                f"(looked in {source.absolute()}); log a file or folder that exists"
            )
        if name is not None and (
            not name or name.startswith("/") or "\\" in name or ".." in name.split("/")
        ):
            raise ArtifactError(
                f"artifact name {name!r} must be a non-empty relative path with '/' separators "
                "and no '..' part"
            )
        if source.is_dir():
            base = (name or source.absolute().name).rstrip("/")
            return [
                ArtifactRef(f"{base}/{rel}", *self.put_file(file))
                for rel, file in sorted(_walk(source))
            ]
        return [ArtifactRef(name or source.name, *self.put_file(source))]


def locate(roots: Iterable[str], sha256: str) -> ArtifactStore | None:
    """The first of the folders ``roots`` that holds content ``sha256``, or None. Content is
    found by its hash, so any folder that holds it holds the right bytes."""
    for root in roots:
        found = ArtifactStore(root)
        if found.has(sha256):
            return found
    return None


def _walk(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(relative posix path, file)`` of every file under ``folder``, sorted."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for fname in sorted(filenames):
            full = Path(dirpath) / fname
            if full.is_file():
                yield full.relative_to(folder).as_posix(), full
