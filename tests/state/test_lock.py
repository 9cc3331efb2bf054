"""The state lock: exclusive between runs (processes and threads), explained when held."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from deployctl.errors import LockError
from deployctl.state.local import LocalStateBackend

from .helpers import make_record, run_python, start_python


def test_lock_file_holds_who_took_it(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        info = backend.lock_info()
        data = json.loads(backend.lock_path.read_text())

    assert info is not None
    assert info == session.lock_info
    assert data == info.to_json()
    assert info.operation == "apply"
    assert info.pid == os.getpid()
    assert info.host == socket.gethostname()
    assert info.path == str(backend.path)
    assert info.created.endswith("Z")
    assert backend.lock_path == backend.path.with_name("dev.json.lock")


def test_held_lock_fails_at_once_naming_holder_and_remedies(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        started = time.monotonic()
        with pytest.raises(LockError) as err:
            backend.lock(operation="plan")
        assert time.monotonic() - started < 0.25

    message = str(err.value)
    assert f"pid {os.getpid()}" in message
    assert f"host {socket.gethostname()}" in message
    assert session.lock_info.id in message
    assert "locked by apply" in message
    assert "--lock-timeout 5m" in message
    assert f"deployctl force-unlock {session.lock_info.id}" in message


def test_lock_timeout_polls_then_fails(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply"):
        started = time.monotonic()
        with pytest.raises(LockError, match=r"timed out after 0\.3s"):
            backend.lock(operation="apply", timeout=0.3)
        waited = time.monotonic() - started

    assert waited >= 0.3


def test_lock_timeout_succeeds_when_the_holder_releases(backend: LocalStateBackend) -> None:
    first = backend.lock(operation="apply")
    timer = threading.Timer(0.1, first.close)
    timer.start()
    try:
        with backend.lock(operation="apply", timeout=10) as second:
            assert backend.lock_info() == second.lock_info
    finally:
        timer.join()


def test_lock_is_released_after_the_session(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply"):
        assert backend.lock_path.exists()

    assert backend.lock_info() is None
    assert not backend.lock_path.exists()


def test_lock_is_released_after_an_exception(backend: LocalStateBackend) -> None:
    with pytest.raises(RuntimeError, match="boom"), backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
        raise RuntimeError("boom")

    assert backend.lock_info() is None
    assert "local/churn" in backend.read().records


def test_force_unlock_without_id_removes_any_lock(backend: LocalStateBackend) -> None:
    session = backend.lock(operation="apply")

    removed = backend.force_unlock()

    assert removed == session.lock_info
    assert backend.lock_info() is None
    assert backend.force_unlock() is None  # nothing left to remove
    session.close()


def test_force_unlock_with_the_right_id_removes_it(backend: LocalStateBackend) -> None:
    session = backend.lock(operation="apply")

    assert backend.force_unlock(session.lock_info.id) == session.lock_info
    assert backend.lock_info() is None
    session.close()


def test_force_unlock_with_another_id_refuses(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        with pytest.raises(LockError, match="is not locked with id nope"):
            backend.force_unlock("nope")
        assert backend.lock_info() == session.lock_info


def test_session_does_not_release_a_lock_it_lost(backend: LocalStateBackend) -> None:
    first = backend.lock(operation="apply")
    backend.force_unlock()
    second = backend.lock(operation="apply")

    with pytest.raises(LockError, match="lost the lock"):
        first.record(make_record("churn"))
    first.close()

    assert backend.lock_info() == second.lock_info  # the other run's lock is untouched
    second.close()
    assert backend.lock_info() is None


def test_second_process_cannot_take_the_lock(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply"):
        result = run_python(
            f"""
            from pathlib import Path
            from deployctl.errors import LockError
            from deployctl.state.local import LocalStateBackend

            try:
                LocalStateBackend(Path({str(backend.path)!r})).lock(operation="plan")
            except LockError as exc:
                print(exc)
                raise SystemExit(3)
            """
        )

    assert result.returncode == 3, result.stderr
    assert f"pid {os.getpid()}" in result.stdout


def test_lock_held_by_another_process_names_it_until_released(backend: LocalStateBackend) -> None:
    child = start_python(
        f"""
        import sys
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        with LocalStateBackend(Path({str(backend.path)!r})).lock(operation="apply"):
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(LockError) as err:
            backend.lock(operation="plan")
        assert f"pid {child.pid}" in str(err.value)
        assert "no longer running" not in str(err.value)

        child.stdin.write("\n")
        child.stdin.flush()
        with backend.lock(operation="plan", timeout=30):
            pass
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_dead_process_is_reported_but_not_stolen(backend: LocalStateBackend) -> None:
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        LocalStateBackend(Path({str(backend.path)!r})).lock(operation="apply")
        print(os.getpid(), flush=True)
        os._exit(0)
        """
    )
    dead_pid = int(result.stdout.strip())

    with pytest.raises(LockError) as err:
        backend.lock(operation="apply")

    assert f"process {dead_pid} is no longer running on this host" in str(err.value)
    info = backend.lock_info()
    assert info is not None and info.pid == dead_pid
    assert f"deployctl force-unlock {info.id}" in str(err.value)
    backend.force_unlock(info.id)
    with backend.lock(operation="apply"):
        pass


def test_two_threads_cannot_both_hold_the_lock(backend: LocalStateBackend) -> None:
    holders: list[int] = []
    failures: list[str] = []
    barrier = threading.Barrier(8)
    mutex = threading.Lock()

    def take() -> None:
        barrier.wait()
        try:
            session = backend.lock(operation="apply")
        except LockError as exc:
            with mutex:
                failures.append(str(exc))
            return
        with mutex:
            holders.append(threading.get_ident())
        time.sleep(0.2)  # hold it while the others try
        session.close()

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(holders) == 1
    assert len(failures) == 7
    assert all("held by this process" in f for f in failures)
    assert backend.lock_info() is None


def test_unreadable_lock_file_is_explained_and_can_be_forced(backend: LocalStateBackend) -> None:
    backend.lock_path.parent.mkdir(parents=True)
    backend.lock_path.write_text("")  # a crash between creating and writing the lock

    with pytest.raises(LockError, match="exists but it is not valid lock JSON"):
        backend.lock(operation="apply")
    info = backend.lock_info()
    assert info is not None and info.id == ""
    with pytest.raises(LockError, match="its id cannot be compared"):
        backend.force_unlock("some-id")

    assert backend.force_unlock() is not None
    with backend.lock(operation="apply"):
        pass


def test_lock_in_unwritable_directory_is_a_lock_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    backend = LocalStateBackend(blocker / "dev.json")

    with pytest.raises(LockError, match="cannot create the state directory"):
        backend.lock(operation="apply")
