"""The S3 lock across real processes: a live holder blocks, a killed one is taken over at once."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from deployctl.errors import LockError
from deployctl.state.s3 import S3StateBackend

from .helpers import start_python
from .s3_server import s3_bucket_fixture, s3_server_fixture, s3_url_fixture  # noqa: F401

HOLD_THE_LOCK = """
import sys
from deployctl.state.s3 import S3StateBackend

session = S3StateBackend({url!r}, "dev").lock(operation="apply")
session.record(make_record("churn"))
print("locked", session.lock_info.id, flush=True)
sys.stdin.read()  # until the parent closes stdin (or kills us)
session.close()
"""


def test_a_killed_holder_on_this_host_is_taken_over_at_once(s3_url: str) -> None:
    child = start_python(HOLD_THE_LOCK.format(url=s3_url))
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("locked"), child.stderr.read() if child.stderr else line
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    warnings: list[str] = []

    started = time.monotonic()
    backend = S3StateBackend(s3_url, "dev", on_warning=warnings.append)
    with backend.lock(operation="apply", timeout=0) as session:
        assert set(session.document.records) == {"local/churn"}  # its journal is folded in

    assert time.monotonic() - started < 3  # not the 60 s lease
    taken_over, folded = warnings
    assert f"(pid {child.pid} on host {socket.gethostname()}" in taken_over
    assert taken_over.endswith(f"process {child.pid} no longer runs on this host")
    assert f"interrupted run of apply (pid {child.pid}" in folded
    assert backend.history()[-1].command == "apply (recovered from its journal)"


def test_a_live_holder_in_another_process_blocks_until_it_releases(s3_url: str) -> None:
    child = start_python(HOLD_THE_LOCK.format(url=s3_url))
    assert child.stdout is not None and child.stdin is not None
    lock_id = child.stdout.readline().split()[-1]
    backend = S3StateBackend(s3_url, "dev")

    with pytest.raises(LockError) as exc:
        backend.lock(operation="plan", timeout=0.2)
    assert f"pid {child.pid}" in str(exc.value) and lock_id in str(exc.value)
    child.stdin.close()  # the child commits and releases
    assert child.wait(timeout=30) == 0

    with backend.lock(operation="apply", timeout=5) as session:
        assert set(session.document.records) == {"local/churn"}
    assert backend.lock_info() is None
