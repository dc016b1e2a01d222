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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trackers._git import capture_git
from trackers._inputs import hash_inputs

GPU_TIMEOUT_S = 5.0


class Snapshot(dict[str, Any]):
    """An environment snapshot (a plain JSON-ready dict) with the code content it names by
    hash in ``blobs`` (``{sha256: bytes}``), for the store to keep once."""

    def __init__(self, *args: Any, blobs: dict[str, bytes] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.blobs: dict[str, bytes] = dict(blobs or {})


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
    exclude: Sequence[str | os.PathLike[str]] = (),
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
    ``exclude`` (files or folders, relative ones from ``cwd``) are left out of the git state:
    hpo's own store, artifact and checkpoint folders, which would otherwise make every tree
    that holds them dirty; those inside the work tree are listed in ``git.excluded``.
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
    snapshot["git"], git_error = capture_git(
        where, snapshot.blobs, [Path(os.fspath(p)) for p in exclude]
    )
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
