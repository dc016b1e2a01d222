"""Telling a live driver from a dead one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from trackers._drivers import STALE_AFTER, driver_alive, this_driver


def test_same_host_liveness_follows_the_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    driver = f"{socket.gethostname()}:{proc.pid}"
    try:
        assert driver_alive(driver, time.time(), time.time())
        # even with an old heartbeat: the process is there
        assert driver_alive(driver, time.time() - 10 * STALE_AFTER, time.time())
    finally:
        proc.kill()
    # Wait for the exit without reaping: the process stays a zombie, which counts as gone.
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    assert not driver_alive(driver, time.time(), time.time())
    proc.wait()
    assert not driver_alive(driver, time.time(), time.time())


def test_this_process_never_blocks_itself() -> None:
    assert this_driver() == f"{socket.gethostname()}:{os.getpid()}"
    assert not driver_alive(this_driver(), time.time(), time.time())


def test_other_hosts_are_judged_by_heartbeat_age() -> None:
    now = time.time()
    assert driver_alive("elsewhere:123", now - 1, now)
    assert not driver_alive("elsewhere:123", now - STALE_AFTER - 1, now)
    assert not driver_alive(None, now, now)
    assert not driver_alive("elsewhere:123", None, now)
