"""Short text for recorded content: the shape of a stored ``git diff``, sizes and hash prefixes.

Shared by the lineage of one trial (:mod:`hpo._lineage`), the comparison of several
(:mod:`hpo._lineage_compare`) and the CLI's artifact listings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trackers import ArtifactRecord

_DIFF_FILE = re.compile(r"^diff --git a/(.*) b/(.*)$")


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    added: int
    removed: int
    binary: bool = False


@dataclass(frozen=True, slots=True)
class DiffSummary:
    """The shape of a stored ``git diff``: files touched and lines added and removed."""

    files: tuple[FileChange, ...]
    truncated: bool = False

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def __str__(self) -> str:
        if not self.files:
            return "no changes to tracked files"
        n = len(self.files)
        text = f"{n} file{'s' * (n != 1)} changed, +{self.added} -{self.removed}"
        return text + (" (diff truncated when recorded)" if self.truncated else "")


def summarize_diff(text: str | None, *, truncated: bool = False) -> DiffSummary:
    """Count files and +/- lines of a unified ``git diff`` text (headers are not counted)."""
    files: list[FileChange] = []
    path: str | None = None
    added = removed = 0
    binary = in_hunk = False

    def close() -> None:
        if path is not None:
            files.append(FileChange(path, added, removed, binary))

    for line in (text or "").splitlines():
        match = _DIFF_FILE.match(line)
        if match:
            close()
            path, added, removed, binary, in_hunk = match.group(2), 0, 0, False, False
        elif line.startswith("@@"):
            in_hunk = True
        elif not in_hunk:
            binary = binary or line.startswith(("Binary files ", "GIT binary patch"))
        elif line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    close()
    return DiffSummary(tuple(files), truncated)


def artifact_text(a: ArtifactRecord) -> str:
    """``12.0 KiB sha256:0123456789ab``."""
    return f"{human_size(a.size)} sha256:{a.sha256[:12]}"


def entry_text(entry: Mapping[str, Any] | None) -> str | None:
    """``12.0 KiB sha256:0123456789ab`` (and the file count of a folder)."""
    if entry is None:
        return None
    files = entry.get("files")
    count = f", {files} files" if files is not None else ""
    return f"{human_size(entry.get('size'))}{count} sha256:{str(entry.get('sha256'))[:12]}"


def human_size(n: Any) -> str:
    """``512 B``, ``12.0 KiB``, ``3.4 MiB``...; ``?`` for a size that was not recorded."""
    if not isinstance(n, int):
        return "?"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
