"""The environment a sweep ran in: Python, packages, OS, CPU/GPU, git state.

The driver captures one snapshot per sweep; the store keeps it once, keyed by
:func:`environment_hash`, and every trial of the sweep points at it. Two captures of an unchanged
environment must therefore be identical, so nothing time-varying (timestamps, free memory, PIDs)
goes in. Capture never raises for a missing or failing tool: the failure is recorded under
``gpu_error`` / ``git_error`` instead, because a sweep must not die for want of ``nvidia-smi``.

The code content of a dirty tree (the full diff against HEAD, and untracked text files up to
``UNTRACKED_FILE_CAP`` each and ``UNTRACKED_TOTAL_CAP`` in all) is not in the snapshot itself:
the snapshot names it by sha256 (``git.diff_sha256``, ``git.untracked: {path: sha256}``) and
carries the bytes in :attr:`Snapshot.blobs`, which ``Store.add_environment`` puts in the blobs
table. Two sweeps with the same diff store it once. Snapshots recorded before this (schema 3:
``git.diff`` inline, ``git.untracked`` a list) are read everywhere as they are;
:func:`resolve_code` gives either shape the diff as text.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trackers._inputs import hash_inputs

GIT_TIMEOUT_S = 10.0
GPU_TIMEOUT_S = 5.0
DIFF_CAP_BYTES = 20 * 1024 * 1024
UNTRACKED_CAP = 1000
#: untracked files whose content is stored: text files up to this size each...
UNTRACKED_FILE_CAP = 1024 * 1024
#: ...and up to this much in all (the first files by path fill it)
UNTRACKED_TOTAL_CAP = 20 * 1024 * 1024
_BINARY_SNIFF = 8192


class Snapshot(dict[str, Any]):
    """An environment snapshot (a plain JSON-ready dict) with the code content it names by
    hash in ``blobs`` (``{sha256: bytes}``), for the store to keep once."""

    def __init__(self, *args: Any, blobs: dict[str, bytes] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.blobs: dict[str, bytes] = dict(blobs or {})


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


# Keys whose values diff_environments compares structurally rather than as one pair.
_STRUCTURED_KEYS = frozenset({"packages", "git"})


def capture_environment(
    *,
    cwd: Path | None = None,
    argv: Sequence[str] | None = None,
    include_packages: bool = True,
    inputs: Sequence[str] = (),
    inputs_base: Path | None = None,
    inputs_cache: Path | None = None,
    env_vars: Sequence[str] = (),
) -> Snapshot:
    """Snapshot the environment the driver runs in, as a JSON-serialisable dict.

    ``cwd`` (default: the process's working directory) decides which git work tree is recorded;
    ``argv`` defaults to ``sys.argv``. ``include_packages=False`` leaves ``packages`` empty, for
    callers that want the cheap part only. Never raises for a missing ``git`` or ``nvidia-smi``.

    ``inputs`` (paths or globs relative to ``inputs_base``, default ``cwd``) are hashed into
    ``inputs`` (see :func:`trackers._inputs.hash_inputs`; ``inputs_cache`` names its cache); a
    pattern that matches nothing raises :class:`~trackers._inputs.InputsError`. ``env_vars``
    names the environment variables recorded under ``env_vars`` (value, or None when unset):
    only those, never the whole environment, which holds secrets. ``cuda`` holds the driver
    version (from ``nvidia-smi``) and the runtime of an already imported torch, or is None.
    The dirty diff and untracked files are named by hash; their bytes are in ``.blobs``.
    """
    where = Path(cwd).absolute() if cwd is not None else Path.cwd()
    snapshot = Snapshot()
    snapshot.update(
        {
            "python": {
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "executable": sys.executable,
            },
            "packages": installed_packages() if include_packages else {},
            "os": {
                "system": platform.system(),
                "release": platform.release(),
                "version": platform.version(),
                "machine": platform.machine(),
                "platform": platform.platform(),
            },
            "hostname": socket.gethostname(),
            "cpu": _cpu(),
            "memory_bytes": _memory_bytes(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "argv": list(sys.argv if argv is None else argv),
            "cwd": str(where),
        }
    )
    snapshot["gpus"], gpu_error = _gpus()
    if gpu_error is not None:
        snapshot["gpu_error"] = gpu_error
    snapshot["git"], git_error = _git(where, snapshot.blobs)
    if git_error is not None:
        snapshot["git_error"] = git_error
    snapshot["cuda"] = _cuda(snapshot["gpus"])
    if env_vars:
        snapshot["env_vars"] = {name: os.environ.get(name) for name in env_vars}
    if inputs:
        base = inputs_base if inputs_base is not None else where
        snapshot["inputs"] = hash_inputs(inputs, base, cache=inputs_cache)
    return snapshot


def environment_hash(snapshot: Mapping[str, Any]) -> str:
    """The sha256 hex digest of the snapshot's canonical JSON: the store's deduplication key."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def diff_environments(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """What differs between two snapshots; an empty dict when they are equal.

    ``packages`` becomes ``{"added": {name: vb}, "removed": {name: va}, "changed": {name: (va,
    vb)}}``, ``git`` becomes ``{field: (va, vb)}`` for its changed fields, and every other key
    that differs becomes the pair ``(a[key], b[key])`` (a missing key reads as None).
    """
    result: dict[str, Any] = {}
    pa, pb = a.get("packages") or {}, b.get("packages") or {}
    if pa != pb:
        result["packages"] = {
            "added": {n: pb[n] for n in sorted(pb.keys() - pa.keys())},
            "removed": {n: pa[n] for n in sorted(pa.keys() - pb.keys())},
            "changed": {n: (pa[n], pb[n]) for n in sorted(pa.keys() & pb.keys()) if pa[n] != pb[n]},
        }
    ga, gb = a.get("git") or {}, b.get("git") or {}
    if a.get("git") != b.get("git"):
        result["git"] = {
            k: (ga.get(k), gb.get(k))
            for k in sorted(ga.keys() | gb.keys())
            if ga.get(k) != gb.get(k)
        }
    for key in sorted((a.keys() | b.keys()) - _STRUCTURED_KEYS):
        if a.get(key) != b.get(key):
            result[key] = (a.get(key), b.get(key))
    return result


def installed_packages() -> dict[str, str]:
    """Every installed distribution as ``{PEP 503 normalised name: version}``, sorted by name.

    Where one name is installed on several ``sys.path`` entries, the first wins, as for import.
    """
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), version or "")
    return dict(sorted(found.items()))


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    # Scanning the header lines is several times faster than dist.metadata, which runs the
    # whole file (long description included) through the email parser.
    try:
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    except (OSError, UnicodeDecodeError):
        text = None
    if text:
        name = version = None
        for line in text.splitlines():
            if not line:
                break  # end of the headers
            if line.startswith("Name:"):
                name = line[5:].strip()
            elif line.startswith("Version:"):
                version = line[8:].strip()
        if name:
            return name, version
    try:
        meta = dist.metadata
        return meta["Name"], meta["Version"]
    except Exception:  # a broken install must not stop the capture
        return None, None


def _cpu() -> dict[str, Any]:
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS or Windows
        usable = None
    return {
        "model": model or platform.processor() or None,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
    }


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gpus() -> tuple[list[dict[str, Any]], str | None]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], None
    query = "--query-gpu=name,memory.total,driver_version"
    try:
        done = subprocess.run(
            [exe, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=GPU_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"nvidia-smi: {exc}"
    if done.returncode != 0:
        why = done.stderr.strip() or done.stdout.strip()
        return [], f"nvidia-smi exited {done.returncode}: {why}"
    return _parse_gpus(done.stdout), None


def _cuda(gpus: Sequence[Mapping[str, Any]]) -> dict[str, str | None] | None:
    # The driver comes from the nvidia-smi query already made for the GPUs. torch is read only
    # when the user's code imported it: importing it here would cost seconds and memory.
    driver = next((str(g["driver"]) for g in gpus if g.get("driver")), None)
    torch = sys.modules.get("torch")
    version = getattr(torch, "version", None)
    runtime = getattr(version, "cuda", None)
    if driver is None and runtime is None:
        return None
    return {"driver": driver, "runtime": str(runtime) if runtime is not None else None}


def _parse_gpus(csv_text: str) -> list[dict[str, Any]]:
    gpus = []
    for line in csv_text.splitlines():
        # rsplit: the name is the one field that could ever hold a comma.
        fields = [f.strip() for f in line.rsplit(",", 2)]
        if len(fields) != 3:
            continue
        name, memory, driver = fields
        memory_mb = int(memory) if memory.isdigit() else None  # "[N/A]" on some devices
        gpus.append({"name": name, "memory_mb": memory_mb, "driver": driver})
    return gpus


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


def _git(cwd: Path, blobs: dict[str, bytes]) -> tuple[dict[str, Any] | None, str | None]:
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
    # Fill in field by field so that a late failure still leaves the commit on record.
    try:
        code, out, _ = _run_git(exe, root, "rev-parse", "--verify", "-q", "HEAD", ok=(0, 1))
        info["commit"] = out.strip() if code == 0 else None  # None: no commits yet
        code, out, _ = _run_git(exe, root, "symbolic-ref", "-q", "--short", "HEAD", ok=(0, 1))
        info["branch"] = out.strip() if code == 0 else None  # None: detached HEAD
        tracked_changed, untracked = _git_status(exe, root)
        info["dirty"] = tracked_changed or bool(untracked)
        listed = untracked[:UNTRACKED_CAP]
        info["untracked"], skipped = _untracked_content(root, listed, blobs)
        info["untracked_truncated"] = len(untracked) > UNTRACKED_CAP
        if skipped:
            info["untracked_skipped"] = skipped
        diff, info["diff_truncated"] = _git_diff(exe, root, info["commit"])
        info["diff_sha256"] = _blob(diff, blobs) if diff else None
        info["diff_size"] = len(diff)
    except _GitFailed as exc:
        return info, str(exc)
    return info, None


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


def _git_status(exe: str, root: Path) -> tuple[bool, list[str]]:
    _, out, _ = _run_git(exe, root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
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


def _git_diff(exe: str, root: Path, commit: str | None) -> tuple[bytes, bool]:
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
                [exe, "-C", str(root), "diff", "--no-color", "--no-ext-diff", base, "--"],
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
