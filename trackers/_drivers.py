"""Telling a live sweep driver from a dead one, so that two never run one sweep at once.

A driver is named ``host:pid``. It moves its sweep's ``heartbeat_at`` every few seconds while
it runs. Another process may take the sweep over when the driver is gone: on the same host
that is known at once (the pid no longer runs); from another host, when the heartbeat is older
than ``STALE_AFTER``.
"""

from __future__ import annotations

import os
import socket

#: Seconds between heartbeats of a running driver.
HEARTBEAT_INTERVAL = 5.0
#: A heartbeat older than this (seconds) means the driver is gone.
STALE_AFTER = 60.0


def this_driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    # A zombie (killed, not yet reaped by its parent) runs no more code: it is gone too.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def driver_alive(driver: str | None, heartbeat_at: float | None, now: float) -> bool:
    """Whether the driver that last claimed a sweep may still be running it."""
    if driver is None or heartbeat_at is None:
        return False
    host, _, pid = driver.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return int(pid) != os.getpid() and _pid_alive(int(pid))
    return now - heartbeat_at < STALE_AFTER
