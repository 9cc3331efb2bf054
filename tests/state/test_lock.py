"""The state lock: exclusive between runs (processes and threads), explained when held, and
freed when its holder is gone (a dead process on this host, an expired lease from another)."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deployctl.errors import LockError
from deployctl.state.local import LocalStateBackend

from .helpers import make_record, run_python, stamp_in, start_python, write_lock_file

HAS_PROC = Path("/proc/self/stat").exists()


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _start_holder(state_path: Path, *, lease: float = 60.0) -> subprocess.Popen[str]:
    """A process that takes the lock (lease ``lease`` seconds), says "locked", then waits for a
    line on stdin before it releases the lock."""
    child = start_python(
        f"""
        import sys
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        backend = LocalStateBackend(Path({str(state_path)!r}), lease_seconds={lease!r})
        with backend.lock(operation="apply") as session:
            session.record(make_record("from-holder"))
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    assert line == "locked", child.stderr.read() if child.stderr else line
    return child


def test_lock_file_holds_who_took_it_and_a_lease(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        info = backend.lock_info()
        data = json.loads(backend.lock_path.read_text())

    assert info is not None
    assert info == session.lock_info
    lease = data.pop("lease_expires")
    data.pop("process", None)  # on Linux: which process, beyond its pid
    assert data == info.to_json()  # the keys readers already knew are unchanged
    assert 55 < (_when(lease) - datetime.now(UTC)).total_seconds() <= 60
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
        child.communicate()


# -- locks that free themselves ------------------------------------------------------------


def test_lock_of_a_killed_process_is_taken_over_at_once_with_a_warning(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    holder = _start_holder(backend.path)
    dead = backend.lock_info()
    assert dead is not None and dead.pid == holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.communicate()  # reaped: not even a zombie is left

    started = time.monotonic()
    with backend.lock(operation="apply") as session:
        assert time.monotonic() - started < 1
        assert backend.lock_info() == session.lock_info  # ours now, without a force-unlock
        # What the killed run recorded is folded in, as after any crash.
        assert "local/from-holder" in session.document.records

    assert warned == [
        f"took over the state lock of apply (pid {holder.pid} on host {socket.gethostname()}, "
        f"user {dead.who}) on {backend.path}: process {holder.pid} is no longer running on "
        "this host"
    ]
    assert backend.lock_info() is None


def test_lock_of_a_process_that_exited_without_unlocking_is_taken_over(
    backend: LocalStateBackend, warned: list[str]
) -> None:
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

    with backend.lock(operation="plan"):
        pass

    assert len(warned) == 1
    assert f"process {dead_pid} is no longer running on this host" in warned[0]


def test_waiting_stops_as_soon_as_the_holder_dies(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    holder = _start_holder(backend.path)
    killer = threading.Timer(0.3, holder.send_signal, args=(signal.SIGKILL,))
    reaper = threading.Thread(target=holder.wait)  # a zombie is dead too, but reap it anyway
    started = time.monotonic()
    killer.start()
    reaper.start()
    try:
        with backend.lock(operation="apply", timeout=30):
            waited = time.monotonic() - started
    finally:
        killer.join()
        reaper.join()
        holder.communicate()

    assert 0.3 <= waited < 5  # the timeout was 30s: waiting ended when the holder died
    assert len(warned) == 1 and "took over" in warned[0]


def test_live_holder_on_this_host_keeps_its_lock_after_its_lease_ran_out(
    state_path: Path, warned: list[str]
) -> None:
    backend = LocalStateBackend(state_path, on_warning=warned.append, lease_seconds=0.3)
    holder = _start_holder(state_path, lease=0.3)
    holder.send_signal(signal.SIGSTOP)  # stopped (a debugger, a starved VM): it cannot renew
    try:
        time.sleep(0.6)
        lease = backend._lock_file.lease_expires()
        assert lease is not None and _when(lease) < datetime.now(UTC)

        with pytest.raises(LockError) as err:
            backend.lock(operation="apply", timeout=0.3)
        assert f"pid {holder.pid}" in str(err.value)
        assert warned == []
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    with backend.lock(operation="apply"):
        pass
    assert warned == []


def test_holder_renews_its_lease_in_place(state_path: Path) -> None:
    backend = LocalStateBackend(state_path, lease_seconds=0.3)
    with backend.lock(operation="apply") as session:
        first = backend.lock_path.read_bytes()
        time.sleep(0.5)
        second = backend.lock_path.read_bytes()
        session.record(make_record("churn"))  # still ours: the renewals replaced nothing

    assert len(first) == len(second)  # a reader never sees a shorter file
    lease_first = json.loads(first)["lease_expires"]
    lease_second = json.loads(second)["lease_expires"]
    assert _when(lease_second) > _when(lease_first)
    assert json.loads(first)["id"] == json.loads(second)["id"]


def test_lock_from_another_host_with_an_expired_lease_is_taken_over(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    expired = stamp_in(-5)
    other = write_lock_file(backend.path, lease_expires=expired)

    with backend.lock(operation="apply") as session:
        assert session.lock_info.id != other["id"]

    assert warned == [
        f"took over the state lock of apply (pid 4242 on host ci-7, user runner) on "
        f"{backend.path}: its lease expired at {expired}"
    ]


def test_lock_from_another_host_with_a_live_lease_waits_then_fails_naming_it(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    lease = stamp_in(60)
    other = write_lock_file(backend.path, lease_expires=lease)

    started = time.monotonic()
    with pytest.raises(LockError) as err:
        backend.lock(operation="apply", timeout=0.3)

    assert time.monotonic() - started >= 0.3
    message = str(err.value)
    assert "timed out after 0.3s" in message
    assert "locked by apply (pid 4242 on host ci-7, user runner)" in message
    assert f"lock id {other['id']}" in message
    assert f"renews its lease (now until {lease})" in message
    assert backend.lock_info() is not None and warned == []


def test_lease_that_expires_while_waiting_ends_the_wait(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    write_lock_file(backend.path, lease_expires=stamp_in(0.4))

    started = time.monotonic()
    with backend.lock(operation="apply", timeout=30):
        waited = time.monotonic() - started

    assert 0.3 <= waited < 5
    assert len(warned) == 1 and "its lease expired at" in warned[0]


def test_lock_from_another_host_without_a_lease_is_never_taken_over(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    other = write_lock_file(backend.path)  # as an older deployctl wrote it

    with pytest.raises(LockError) as err:
        backend.lock(operation="apply")

    assert "without a lease" in str(err.value)
    assert f"deployctl force-unlock {other['id']}" in str(err.value)
    assert warned == []


def test_same_host_name_in_another_pid_namespace_counts_as_another_host(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    # A container with this host name (or this host before a reboot): its pids are not ours.
    process = {"boot_id": "another-boot", "pid_namespace": "pid:[1]", "start_time": 1}
    write_lock_file(
        backend.path,
        host=socket.gethostname(),
        pid=2**22 + 1,  # no such pid here, which must not matter
        lease_expires=stamp_in(60),
        process=process,
    )

    with pytest.raises(LockError, match=r"runs on another host \(or container\)"):
        backend.lock(operation="apply")
    assert warned == []


@pytest.mark.skipif(not HAS_PROC, reason="process start times come from /proc")
def test_lock_whose_pid_now_belongs_to_another_process_is_taken_over(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    with backend.lock(operation="apply"):
        mine = json.loads(backend.lock_path.read_text())["process"]
    other = start_python("import sys; sys.stdin.readline()")  # alive, but not the holder
    try:
        write_lock_file(
            backend.path,
            host=socket.gethostname(),
            pid=other.pid,
            lease_expires=stamp_in(60),
            process={**mine, "start_time": mine["start_time"] - 1},
        )
        with backend.lock(operation="apply"):
            pass
    finally:
        other.kill()
        other.communicate()

    assert len(warned) == 1
    assert f"process {other.pid} is no longer running on this host" in warned[0]


def test_lock_naming_this_pid_left_by_an_earlier_process_is_taken_over(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    # A restarted container often gets the same pid (1) as the run that died before it.
    write_lock_file(backend.path, host=socket.gethostname(), pid=os.getpid())

    with backend.lock(operation="apply"):
        pass

    assert len(warned) == 1 and f"process {os.getpid()} is no longer running" in warned[0]


def test_run_whose_lock_was_taken_over_stops_writing(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    first = backend.lock(operation="apply")
    # As if this run had stalled on another host until its lease ran out (rewritten in place).
    data = json.loads(backend.lock_path.read_text())
    data.update(host="ci-7", lease_expires=stamp_in(-1))
    data.pop("process", None)
    with open(backend.lock_path, "r+") as handle:
        handle.truncate()
        handle.write(json.dumps(data))

    second = backend.lock(operation="apply")
    with pytest.raises(LockError, match="lost the lock"):
        first.record(make_record("churn"))
    first.close()

    assert backend.lock_info() == second.lock_info  # the new holder's lock is untouched
    second.close()
    assert len(warned) == 1 and "its lease expired" in warned[0]


def test_two_processes_racing_to_take_over_a_dead_lock_one_wins(
    backend: LocalStateBackend,
) -> None:
    for _ in range(3):
        write_lock_file(backend.path, lease_expires=stamp_in(-1))
        racers = [
            start_python(
                f"""
                import sys, time
                from pathlib import Path
                from deployctl.errors import LockError
                from deployctl.state.local import LocalStateBackend

                backend = LocalStateBackend(
                    Path({str(backend.path)!r}), on_warning=lambda w: print("warning", w)
                )
                print("ready", flush=True)
                sys.stdin.readline()
                try:
                    session = backend.lock(operation="apply")
                except LockError as exc:
                    print("lost", exc, flush=True)
                    raise SystemExit(0)
                print("won", flush=True)
                time.sleep(0.5)  # hold it while the other one tries
                session.record(make_record("winner"))  # fails if the lock was lost
                session.close()
                """
            )
            for _ in range(2)
        ]
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        for racer in racers:  # as close to simultaneous as two pipes get
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        outputs = [racer.communicate(timeout=60) for racer in racers]

        assert [racer.returncode for racer in racers] == [0, 0], outputs
        lines = [line for out, _ in outputs for line in out.splitlines()]
        assert sum(line == "won" for line in lines) == 1, lines
        winner = next(r for r, (out, _) in zip(racers, outputs, strict=True) if "won" in out)
        lost = [line for line in lines if line.startswith("lost")]
        assert len(lost) == 1 and f"pid {winner.pid}" in lost[0], lines
        # One warning about the dead lock: "took over" from the winner, or, when the other
        # racer moved the dead lock aside but the winner created its lock first, "removed".
        warnings = [line for line in lines if line.startswith("warning")]
        assert len(warnings) == 1, lines
        assert warnings[0].startswith(("warning took over", "warning removed")), lines
        assert backend.lock_info() is None


def test_warnings_go_to_the_log_by_default(
    state_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_lock_file(state_path, lease_expires=stamp_in(-1))

    with caplog.at_level(logging.WARNING), LocalStateBackend(state_path).lock(operation="apply"):
        pass

    assert [r.name for r in caplog.records] == ["deployctl.state.local"]
    assert "took over the state lock of apply" in caplog.records[0].getMessage()


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


def test_a_reader_never_sees_a_partly_written_lock(backend: LocalStateBackend) -> None:
    stop = threading.Event()
    seen: list[str] = []

    def read() -> None:
        while not stop.is_set():
            info = backend.lock_info()
            if info is not None:
                seen.append(info.id)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(100):
            with backend.lock(operation="apply"):
                pass
    finally:
        stop.set()
        reader.join()

    assert "" not in seen  # "" is the id of an unreadable (empty, torn) lock file


def test_lock_works_where_hard_links_are_not_supported(
    backend: LocalStateBackend, warned: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with backend.lock(operation="apply") as session:
        assert backend.lock_info() == session.lock_info
        with pytest.raises(LockError, match="held by this process"):
            backend.lock(operation="apply")
    write_lock_file(backend.path, lease_expires=stamp_in(-1))
    with backend.lock(operation="apply"):
        pass

    assert len(warned) == 1 and "took over" in warned[0]
    assert list(backend.path.parent.iterdir()) == []  # nothing left behind


def test_temporary_lock_files_of_a_crash_are_removed_once_old(
    backend: LocalStateBackend,
) -> None:
    backend.path.parent.mkdir(parents=True)
    leftovers = [
        backend.path.parent / f".dev.json.lock.{'a' * 32}.new",
        backend.path.parent / f".dev.json.lock.{'b' * 32}.aside",
    ]
    for path in leftovers:
        path.write_text("{}")
    other = backend.path.parent / f".prod.json.lock.{'c' * 32}.aside"
    other.write_text("{}")

    with backend.lock(operation="apply"):
        pass
    assert all(path.exists() for path in leftovers)  # too young: a run may be using them

    backend._lock_file.remove_leftovers(older_than=0)
    assert not any(path.exists() for path in leftovers)
    assert other.exists()
