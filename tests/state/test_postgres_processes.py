"""The PostgreSQL state lock across real processes: a killed holder frees it, a waiter names it."""

from __future__ import annotations

import subprocess
import time

import pytest

from deployctl.errors import LockError
from deployctl.state.postgres import PostgresStateBackend

from .helpers import run_python, start_python
from .pg_server import PgServer, pg_server_fixture, pg_url_fixture  # noqa: F401  (fixtures)

# Takes the lock, records one result, says so, then holds the lock until stdin is closed.
HOLDER = """
import os, sys
from deployctl.state.postgres import PostgresStateBackend

session = PostgresStateBackend({url!r}, "dev").lock(operation="apply")
session.record(make_record("churn"))
print("locked", flush=True)
sys.stdin.read()
session.close()
"""

# Waits up to half a second for the lock; prints how long it waited and the error.
WAITER = """
import time
from deployctl.errors import LockError
from deployctl.state.postgres import PostgresStateBackend

started = time.monotonic()
try:
    PostgresStateBackend({url!r}, "dev").lock(operation="plan", timeout=0.5)
except LockError as exc:
    print(f"{{time.monotonic() - started:.3f}} {{exc}}")
    raise SystemExit(1)
"""


def _start_holder(url: str) -> subprocess.Popen[str]:
    holder = start_python(HOLDER.format(url=url))
    assert holder.stdout is not None and holder.stderr is not None
    line = holder.stdout.readline()
    if line.strip() != "locked":
        holder.kill()
        pytest.fail(f"the holder did not take the lock: {line}{holder.stderr.read()}")
    return holder


def test_a_killed_holder_frees_the_lock_without_force_unlock(pg_url: str) -> None:
    warnings: list[str] = []
    backend = PostgresStateBackend(pg_url, "dev", on_warning=warnings.append)
    holder = _start_holder(pg_url)
    try:
        with pytest.raises(LockError, match=f"pid {holder.pid} "):
            backend.lock(operation="apply")

        holder.kill()  # SIGKILL: no clean-up runs in the holder
        holder.wait()
        started = time.monotonic()
        with backend.lock(operation="apply", timeout=5) as session:
            waited = time.monotonic() - started
            # What the killed run recorded before it died is in the state, to be committed.
            assert "local/churn" in session.document.records
    finally:
        holder.kill()
        holder.wait()

    assert waited < 2
    assert len(warnings) == 1
    assert f"took over the state lock of apply (pid {holder.pid} " in warnings[0]
    assert sorted(backend.read().records) == ["local/churn"]


def test_a_waiting_process_times_out_naming_the_holder(pg_url: str) -> None:
    holder = _start_holder(pg_url)
    try:
        waited = run_python(WAITER.format(url=pg_url))
        assert holder.stdin is not None
        holder.stdin.close()  # lets the holder commit and release
        assert holder.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait()

    assert waited.returncode == 1, waited.stderr
    seconds, message = waited.stdout.strip().split(" ", 1)
    assert 0.5 <= float(seconds) < 3
    assert "timed out after 0.5s waiting for the lock" in message
    assert f"locked by apply (pid {holder.pid} " in message
    backend = PostgresStateBackend(pg_url, "dev")
    assert backend.lock_info() is None
    assert sorted(backend.read().records) == ["local/churn"]
