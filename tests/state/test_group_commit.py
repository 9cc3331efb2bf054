"""Group commit: threads that need a flush at the same time share one, and none returns early.

``atomic.GroupCommit`` (the local target's directory fsyncs) and the journal's ``sync`` are
tested with flushes slowed down (so that threads really do overlap) and instrumented (so that
"covered" can be checked: a wait may only return once a flush that *started after* its write
has finished).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from support import JournalSyncs, run_threads

from deployctl import atomic
from deployctl.atomic import Arrivals, GroupCommit
from deployctl.errors import StateError
from deployctl.model import DeploymentSpec
from deployctl.model.state import StateRecord
from deployctl.state import journal as journal_module
from deployctl.state.journal import JournalWriter, read_journal
from deployctl.state.local import LocalStateBackend

THREADS = 8


class SlowFlush:
    """A flush that takes ``seconds`` and remembers, for each call, the writes made before it
    started (``written`` is bumped by the writers)."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.written = 0
        self.covered: list[int] = []  # per flush: writes made before it started
        self.finished: list[float] = []
        self.fail_next = False

    def __call__(self) -> None:
        self.covered.append(self.written)
        time.sleep(self.seconds)
        if self.fail_next:
            self.fail_next = False
            raise OSError(5, "Input/output error")
        self.finished.append(time.monotonic())


# -- GroupCommit ----------------------------------------------------------------------------


def test_threads_waiting_during_one_flush_share_the_next_one() -> None:
    flush = SlowFlush()
    group = GroupCommit(flush)
    lock = threading.Lock()

    def write_and_wait(_: int) -> None:
        with lock:
            flush.written += 1
        group.wait()

    assert run_threads(THREADS, write_and_wait) == []
    assert group.requests == THREADS
    # The first flush covers whoever asked before it started; all others share the second.
    assert 1 <= group.flushes <= 2 < THREADS
    assert flush.covered[-1] == THREADS


def test_a_wait_returns_only_after_a_flush_that_started_after_its_write() -> None:
    flush = SlowFlush(seconds=0.01)
    group = GroupCommit(flush)
    lock = threading.Lock()
    late: list[tuple[int, int]] = []

    def write_and_wait(index: int) -> None:
        for _ in range(20):
            with lock:
                flush.written += 1
                mine = flush.written
            group.wait()
            # Some flush that has finished by now saw this write when it started.
            finished = len(flush.finished)
            if not any(c >= mine for c in flush.covered[:finished]):
                late.append((index, mine))

    assert run_threads(THREADS, write_and_wait) == []
    assert late == []
    assert group.flushes < group.requests  # they were shared


def test_a_flush_already_running_when_asked_does_not_count() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def flush() -> None:
        calls.append("flush")
        if len(calls) == 1:
            started.set()
            release.wait(10)

    group = GroupCommit(flush)
    first = threading.Thread(target=group.wait)
    first.start()
    assert started.wait(10)
    waiter = threading.Thread(target=group.wait)  # asks while the first flush runs
    waiter.start()
    time.sleep(0.05)
    release.set()
    first.join(10)
    waiter.join(10)
    assert calls == ["flush", "flush"]


def test_a_failed_flush_raises_in_every_thread_it_covered_and_is_not_retried_for_them() -> None:
    first_running, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def flush() -> None:
        calls.append(len(calls) + 1)
        if len(calls) == 1:  # holds the disk while the others ask
            first_running.set()
            release.wait(10)
        elif len(calls) == 2:
            raise OSError(5, "Input/output error")

    group = GroupCommit(flush)
    first = threading.Thread(target=group.wait)
    first.start()
    assert first_running.wait(10)
    errors: list[BaseException] = []

    def ask_and_wait() -> None:
        try:
            group.wait()
        except BaseException as exc:
            errors.append(exc)

    waiters = [threading.Thread(target=ask_and_wait) for _ in range(THREADS)]
    for waiter in waiters:
        waiter.start()
    while group.requests < THREADS + 1:
        time.sleep(0.001)
    release.set()
    first.join(10)
    for waiter in waiters:
        waiter.join(10)
    # All of them were covered by the second flush, which failed: each one is told so, and
    # none of them ran a flush of its own afterwards.
    assert calls == [1, 2]
    assert len(errors) == THREADS
    assert all(isinstance(e, OSError) and e.errno == 5 for e in errors)
    # A later request gets a new flush.
    group.wait()
    assert calls == [1, 2, 3]


def test_a_flush_waits_briefly_for_a_thread_on_its_way_and_covers_its_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What is tested is that the flush waits for the writer, not how long it may (that is
    # ``test_the_wait_for_company_is_bounded``): a wait of 2 ms failed when a busy machine did
    # not run the writer that soon.
    monkeypatch.setattr(atomic, "COMPANY_WAIT", 10.0)
    flush = SlowFlush(seconds=0.0)
    arrivals = Arrivals()
    group = GroupCommit(flush, arrivals)
    on_the_way, go = threading.Event(), threading.Event()
    tickets: list[int] = []

    def writer() -> None:
        with arrivals.coming():
            on_the_way.set()
            go.wait(10)
            flush.written += 1
            tickets.append(group.ask())
        group.wait(tickets[0])

    thread = threading.Thread(target=writer)
    thread.start()
    assert on_the_way.wait(10)
    leader = threading.Thread(target=group.wait)
    leader.start()
    time.sleep(0.0005)
    go.set()  # well within COMPANY_WAIT: the flush waits for the writer to arrive
    leader.join(10)
    thread.join(10)
    assert flush.covered == [1]  # one flush, and the writer's write was in it
    assert group.flushes == 1


def test_a_waiting_flush_is_woken_once_by_the_last_thread_on_its_way_not_by_each() -> None:
    arrivals = Arrivals()
    entered = threading.Barrier(THREADS + 1)
    gates = [threading.Event() for _ in range(THREADS)]

    def writer(index: int) -> None:
        with arrivals.coming():
            entered.wait(10)
            gates[index].wait(10)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for thread in writers:
        thread.start()
    entered.wait(10)
    waits: list[float | None] = []
    real_wait = arrivals._cond.wait

    def counted_wait(timeout: float | None = None) -> bool:
        waits.append(timeout)
        return real_wait(timeout)

    arrivals._cond.wait = counted_wait  # type: ignore[method-assign]
    settler = threading.Thread(target=arrivals.settle, args=(30.0,))
    settler.start()
    deadline = time.monotonic() + 10
    while not waits and time.monotonic() < deadline:
        time.sleep(0.001)
    for gate in gates:
        assert settler.is_alive()  # still waiting for this one
        gate.set()
        time.sleep(0.005)
    settler.join(10)
    for thread in writers:
        thread.join(10)
    assert not settler.is_alive()
    assert len(waits) == 1  # one wait, ended by the last arrival (each wake-up costs a switch)


def test_the_wait_for_company_is_bounded() -> None:
    arrivals = Arrivals()
    group = GroupCommit(SlowFlush(seconds=0.0), arrivals)
    release = threading.Event()

    def dawdler() -> None:
        with arrivals.coming():
            release.wait(10)

    thread = threading.Thread(target=dawdler)
    thread.start()
    time.sleep(0.01)
    started = time.monotonic()
    group.wait()
    waited = time.monotonic() - started
    release.set()
    thread.join(10)
    assert waited < atomic.COMPANY_WAIT + 0.5


def test_directory_syncs_of_one_directory_are_one_group(tmp_path: Path) -> None:
    assert atomic.directory_sync(tmp_path) is atomic.directory_sync(Path(str(tmp_path)))
    assert atomic.directory_sync(tmp_path) is not atomic.directory_sync(tmp_path.parent)


# -- the journal ---------------------------------------------------------------------------


@pytest.fixture
def slow_datasync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The journal's fdatasyncs, each slowed down: the journal's size at each."""
    return JournalSyncs(monkeypatch, delay=0.02).sizes


def test_journal_lines_of_parallel_threads_share_fsyncs_and_each_is_on_disk_when_sync_returns(
    tmp_path: Path, slow_datasync: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    arrivals = Arrivals()
    writer = JournalWriter.create(
        tmp_path / "s.journal", lineage="l", base_serial=0, arrivals=arrivals
    )
    append_lock = threading.Lock()
    synced_upto: list[int] = []  # per fdatasync: lines appended when it started
    real = journal_module._datasync

    def datasync(fd: int) -> None:
        synced_upto.append(writer._appended)
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", datasync)
    early: list[int] = []

    def append_and_sync(index: int) -> None:
        for n in range(10):
            with arrivals.coming(), append_lock:
                seq = writer.append(f'{{"op":"forget","address":"t/d{index}-{n}"}}\n'.encode())
            writer.sync(seq)
            if not any(upto >= seq for upto in synced_upto):
                early.append(seq)

    assert run_threads(THREADS, append_and_sync) == []
    writer.close(remove=False)
    assert early == []
    assert writer.syncs < THREADS * 10
    contents = read_journal(tmp_path / "s.journal")
    assert contents is not None and len(contents.entries) == THREADS * 10


def test_after_a_failed_journal_fsync_every_waiting_thread_fails_and_appends_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JournalWriter.create(tmp_path / "s.journal", lineage="l", base_serial=0)

    def failing(fd: int) -> None:
        time.sleep(0.02)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal_module, "_datasync", failing)
    lock = threading.Lock()

    def append_and_sync(index: int) -> None:
        with lock:
            seq = writer.append(f'{{"op":"forget","address":"t/d{index}"}}\n'.encode())
        writer.sync(seq)

    errors = run_threads(THREADS, append_and_sync)
    assert len(errors) == THREADS
    assert all(isinstance(e, (OSError, StateError)) for e in errors)
    with pytest.raises(StateError, match="cannot be written any more"):
        writer.append(b'{"op":"forget","address":"t/late"}\n')
    writer.close(remove=True)


def test_a_session_recording_from_8_threads_makes_fewer_fsyncs_than_records(
    tmp_path: Path, slow_datasync: list[int]
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    spec = DeploymentSpec(model_uri="models:/m/1")

    def record(index: int) -> None:
        for n in range(5):
            session.record(
                StateRecord.applied_now(
                    None,
                    target="t",
                    name=f"d{index}-{n}",
                    target_uri="local:/x",
                    applied=spec,
                    live=None,
                    prevent_destroy=False,
                )
            )

    with backend.lock(operation="test") as session:
        assert run_threads(THREADS, record) == []
        assert len(session.document.records) == THREADS * 5
    assert 0 < len(slow_datasync) < THREADS * 5
    assert len(backend.read().records) == THREADS * 5
    assert not os.path.exists(backend.journal_path)
