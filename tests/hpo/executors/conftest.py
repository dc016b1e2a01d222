"""A real Ray cluster for the ray executor's tests: one head node on loopback, started once.

``ray start --head --block`` runs in a session of its own with its own temp dir; teardown
ends that session and then any process of this cluster left over, found by its temp dir in the
command line -- never ``ray stop``, which would stop every Ray cluster on the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RayCluster:
    """A running head node: its address for ``ray.init``/``executor: {address: ...}``."""

    address: str
    temp_dir: Path
    cpus: int
    nodes: list[subprocess.Popen[bytes]] = field(default_factory=list)  # joined by tests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_of(marker: str) -> list[int]:
    """Processes whose command line mentions ``marker`` (this cluster's temp dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _session_name(temp_dir: Path) -> str | None:
    """The cluster's session (``session_<date>_<pid>``): nodes that joined it put it in their
    processes' command lines, whatever their own temp dir."""
    latest = temp_dir / "session_latest"
    return latest.resolve().name if latest.exists() else None


def _ray_cli() -> Path:
    return Path(sys.executable).with_name("ray")


def _started(proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"ray start failed:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def join_node(cluster: RayCluster, *, cpus: int, resources: str) -> subprocess.Popen[bytes]:
    """Start another node of ``cluster`` (``ray start --address ... --block`` in a session of
    its own; ``os.killpg(proc.pid, SIGKILL)`` makes it die as a lost machine would). The
    cluster's teardown ends whatever it leaves."""
    log = cluster.temp_dir / f"node-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(_ray_cli()), "start", "--address", cluster.address, "--block",
                "--num-cpus", str(cpus), "--num-gpus", "0", "--resources", resources,
                "--disable-usage-stats",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"},
        )  # fmt: skip
    cluster.nodes.append(proc)
    _started(proc, log)
    return proc


def _stop(proc: subprocess.Popen[bytes], temp_dir: Path) -> None:
    session = _session_name(temp_dir)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # ray start --block stops its services on SIGTERM
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    markers = [str(temp_dir)] + ([session] if session else [])
    while (left := [p for m in markers for p in _pids_of(m)]) and time.monotonic() < deadline:
        for pid in left:  # workers Ray started in sessions of their own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A head node with 2 CPUs, no GPU and 2 units of a custom resource ``slot``.

    Token authentication is off (``RAY_AUTH_MODE=disabled``): the cluster listens on this
    machine only, for this session, and a driver reads its own auth mode when Ray is imported
    -- before any fixture could set it for the test process."""
    pytest.importorskip("ray")
    ray_cli = _ray_cli()
    if not ray_cli.exists():
        pytest.skip(f"no ray command beside {sys.executable}")
    # short: Ray's unix sockets live under it, and socket paths are limited to ~107 bytes
    temp_dir = Path(tempfile.mkdtemp(prefix="hpo-ray-", dir="/tmp"))
    port = _free_port()
    log = temp_dir / "ray-start.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(ray_cli), "start", "--head", "--block",
                "--node-ip-address", "127.0.0.1", "--port", str(port),
                "--num-cpus", "2", "--num-gpus", "0", "--resources", '{"slot": 2}',
                "--temp-dir", str(temp_dir), "--include-dashboard", "false",
                "--disable-usage-stats",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"},
        )  # fmt: skip
    cluster = RayCluster(f"127.0.0.1:{port}", temp_dir, 2)
    try:
        _started(proc, log)
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        for node in cluster.nodes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait()
        _stop(proc, temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
