"""The git state of the work tree a sweep runs in, as recorded in its environment snapshot.

Commit, branch, dirty flag, the full diff against HEAD and the untracked files. The diff and
the untracked text files (up to ``UNTRACKED_FILE_CAP`` each and ``UNTRACKED_TOTAL_CAP`` in all)
are named by sha256 in the snapshot and their bytes go to the caller's ``blobs`` dict, which the
store keeps once (its blobs table). :func:`resolve_code` reads either shape of a recorded
snapshot (schema 3 kept the diff inline) back into a diff text.

``exclude`` names paths git capture leaves out (hpo's own store file, artifact and checkpoint
folders when they lie inside the work tree): they are neither untracked files nor part of the
diff, so they never make the tree dirty. Those inside the tree are recorded, relative to its
root, in ``git.excluded`` (absent when none), so the snapshot says what it did not look at.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["capture_git", "resolve_code"]

GIT_TIMEOUT_S = 10.0
DIFF_CAP_BYTES = 20 * 1024 * 1024
UNTRACKED_CAP = 1000
#: untracked files whose content is stored: text files up to this size each...
UNTRACKED_FILE_CAP = 1024 * 1024
#: ...and up to this much in all (the first files by path fill it)
UNTRACKED_TOTAL_CAP = 20 * 1024 * 1024
_BINARY_SNIFF = 8192


def resolve_code(
    snapshot: Mapping[str, Any], get_blob: Callable[[str], bytes | None]
) -> dict[str, Any]:
    """A copy of ``snapshot`` whose ``git.diff`` is the diff's text, read through
    ``get_blob`` when the snapshot names it by hash (``git.diff_missing`` is True when the
    blob is not there). Old snapshots, with the diff inline, come back as they are."""
    out = dict(snapshot)
    git = snapshot.get("git")
    if isinstance(git, Mapping) and "diff" not in git and "diff_sha256" in git:
        git = dict(git)
        sha = git.get("diff_sha256")
        data = get_blob(sha) if sha else b""
        git["diff"] = (data or b"").decode("utf-8", "replace")
        if data is None:
            git["diff_missing"] = True
        out["git"] = git
    return out


class _GitFailed(Exception):
    pass


def _git_env() -> dict[str, str]:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    # These would point git at another repository than the one around cwd.
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    return env


def _run_git(
    exe: str, root: Path, *args: str, ok: tuple[int, ...] = (0,), stdin: bytes | None = None
) -> tuple[int, str, str]:
    try:
        done = subprocess.run(
            [exe, "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            env=_git_env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise _GitFailed(f"git {args[0]}: {exc}") from exc
    out = done.stdout.decode("utf-8", "replace")
    err = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode not in ok:
        raise _GitFailed(f"git {args[0]} exited {done.returncode}: {err}")
    return done.returncode, out, err


def capture_git(
    cwd: Path, blobs: dict[str, bytes], exclude: Sequence[Path] = ()
) -> tuple[dict[str, Any] | None, str | None]:
    """The git state of the work tree around ``cwd`` and the error that cut it short, if any:
    ``(None, None)`` outside a repository or without git. Content named by hash goes to
    ``blobs``. ``exclude`` (files or folders; relative ones are taken from ``cwd``) are left
    out of the status and the diff wherever they lie inside the work tree."""
    exe = shutil.which("git")
    if exe is None:
        return None, None
    try:
        code, out, err = _run_git(exe, cwd, "rev-parse", "--is-inside-work-tree", ok=(0, 128))
        if code != 0 and "not a git repository" in err:
            return None, None
        if code != 0:  # e.g. "dubious ownership": a repository, but git will not read it
            return None, f"git rev-parse exited {code}: {err}"
        if out.strip() != "true":
            return None, None  # inside .git or a bare repository: no work tree
        _, out, _ = _run_git(exe, cwd, "rev-parse", "--show-toplevel")
    except _GitFailed as exc:
        return None, str(exc)
    root = Path(out.strip())
    info: dict[str, Any] = {"root": str(root)}
    left_out = _inside(root, [cwd / p for p in exclude])
    if left_out:
        info["excluded"] = left_out
    # literal: a file name with glob characters excludes itself only.
    pathspec = [".", *(f":(exclude,literal){p}" for p in left_out)] if left_out else []
    # Fill in field by field so that a late failure still leaves the commit on record.
    try:
        code, out, _ = _run_git(exe, root, "rev-parse", "--verify", "-q", "HEAD", ok=(0, 1))
        info["commit"] = out.strip() if code == 0 else None  # None: no commits yet
        code, out, _ = _run_git(exe, root, "symbolic-ref", "-q", "--short", "HEAD", ok=(0, 1))
        info["branch"] = out.strip() if code == 0 else None  # None: detached HEAD
        tracked_changed, untracked = _git_status(exe, root, pathspec)
        info["dirty"] = tracked_changed or bool(untracked)
        listed = untracked[:UNTRACKED_CAP]
        info["untracked"], skipped = _untracked_content(root, listed, blobs)
        info["untracked_truncated"] = len(untracked) > UNTRACKED_CAP
        if skipped:
            info["untracked_skipped"] = skipped
        diff, info["diff_truncated"] = _git_diff(exe, root, info["commit"], pathspec)
        info["diff_sha256"] = _blob(diff, blobs) if diff else None
        info["diff_size"] = len(diff)
    except _GitFailed as exc:
        return info, str(exc)
    return info, None


def _inside(root: Path, paths: Sequence[Path]) -> list[str]:
    """``paths`` that lie inside the work tree at ``root``, as sorted POSIX paths relative to
    it; the root itself is never among them (leaving it out would hide every change)."""
    top = root.resolve()
    found = set()
    for path in paths:
        path = path.expanduser()
        # Resolve the folder only: a store file that is a symlink is still seen by git under
        # its own name, not its target's.
        full = path.parent.resolve() / path.name if path.name else path.resolve()
        try:
            rel = full.relative_to(top)
        except ValueError:
            continue
        if rel.parts:
            found.add(rel.as_posix())
    return sorted(found)


def _blob(data: bytes, blobs: dict[str, bytes]) -> str:
    sha = hashlib.sha256(data).hexdigest()
    blobs[sha] = data
    return sha


def _untracked_content(
    root: Path, paths: Sequence[str], blobs: dict[str, bytes]
) -> tuple[dict[str, str | None], dict[str, str]]:
    """``{path: sha256}`` of the untracked files, their text in ``blobs``; a file whose
    content is not kept (binary, too large, over the total, unreadable) maps to None and is
    named with the reason in the second dict."""
    hashes: dict[str, str | None] = {}
    skipped: dict[str, str] = {}
    total = 0
    for rel in paths:
        hashes[rel] = None
        full = root / rel
        try:
            size = full.stat().st_size
            if not full.is_file():
                skipped[rel] = "not a regular file"
                continue
            if size > UNTRACKED_FILE_CAP:
                skipped[rel] = f"larger than {UNTRACKED_FILE_CAP // 1024} KiB"
                continue
            if total + size > UNTRACKED_TOTAL_CAP:
                skipped[rel] = f"over the {UNTRACKED_TOTAL_CAP // 2**20} MiB total (truncated)"
                continue
            data = full.read_bytes()
        except OSError as exc:
            skipped[rel] = f"unreadable: {exc.strerror or exc}"
            continue
        if b"\0" in data[:_BINARY_SNIFF]:
            skipped[rel] = "binary"
            continue
        total += len(data)
        hashes[rel] = _blob(data, blobs)
    return hashes, skipped


def _git_status(exe: str, root: Path, pathspec: Sequence[str]) -> tuple[bool, list[str]]:
    _, out, _ = _run_git(
        exe, root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *pathspec
    )
    tokens = iter(out.split("\0"))
    tracked_changed, untracked = False, []
    for token in tokens:
        if not token:
            continue
        code, path = token[:2], token[3:]
        if code == "??":
            untracked.append(path)
        else:
            tracked_changed = True
            if code[0] in "RC":
                next(tokens, None)  # a rename's second entry is its source path
    return tracked_changed, sorted(untracked)


def _git_diff(
    exe: str, root: Path, commit: str | None, pathspec: Sequence[str]
) -> tuple[bytes, bool]:
    # Without a commit, diff against the empty tree so staged new files still show.
    if commit is None:
        _, out, _ = _run_git(exe, root, "hash-object", "-t", "tree", "--stdin", stdin=b"")
        base = out.strip()
    else:
        base = "HEAD"
    # The diff goes to a file, not a pipe, so a huge diff costs disk briefly, never memory.
    with tempfile.TemporaryFile() as sink:
        try:
            done = subprocess.run(
                [
                    exe,
                    "-C",
                    str(root),
                    "diff",
                    "--no-color",
                    "--no-ext-diff",
                    base,
                    "--",
                    *pathspec,
                ],
                stdout=sink,
                stderr=subprocess.PIPE,
                timeout=GIT_TIMEOUT_S,
                env=_git_env(),
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise _GitFailed(f"git diff: {exc}") from exc
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip()
            raise _GitFailed(f"git diff exited {done.returncode}: {err}")
        sink.seek(0)
        data = sink.read(DIFF_CAP_BYTES + 1)
    truncated = len(data) > DIFF_CAP_BYTES
    # Bytes as git wrote them: a blob keeps a non-UTF-8 diff exact.
    return data[:DIFF_CAP_BYTES], truncated
