"""Fewer journal syncs without weaker guarantees: intents written together, outcomes made durable
together at the end of a ``grouped`` block, and no wait for company when syncs are quick.

The journal's fdatasync is instrumented on a real local state session.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import JournalSyncs

from deployctl import atomic
from deployctl.atomic import COMPANY_WAIT, MIN_COMPANY_WAIT, Arrivals, FlushTimes, GroupCommit
from deployctl.errors import StateError
from deployctl.model import DeploymentSpec
from deployctl.model.intent import Intent
from deployctl.model.state import StateRecord
from deployctl.state import journal as journal_module
from deployctl.state.journal import read_journal
from deployctl.state.local import LocalStateBackend

SPEC = DeploymentSpec(model_uri="models:/m/1")


def intent(name: str) -> Intent:
    return Intent(
        target="t",
        name=name,
        target_uri="local:/x",
        action="create",
        desired=SPEC,
        before=None,
        started_at="2025-01-31T12:00:00.000Z",
    )


def record(name: str) -> StateRecord:
    return StateRecord.applied_now(
        None,
        target="t",
        name=name,
        target_uri="local:/x",
        applied=SPEC,
        live=None,
        prevent_destroy=False,
    )


@contextlib.contextmanager
def os_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every ``os.write`` made in the block, as the bytes written."""
    writes: list[bytes] = []
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    try:
        yield writes
    finally:
        monkeypatch.setattr(os, "write", real_write)


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The journal's fdatasyncs: the journal's size at each."""
    return JournalSyncs(monkeypatch).sizes


def test_intents_written_together_take_one_write_and_one_sync(
    tmp_path: Path, syncs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        session.intend(intent("first"))  # the journal exists
        with os_writes(monkeypatch) as writes:
            session.intend_all([intent(f"d{i}") for i in range(5)])
        assert len(writes) == 1 and writes[0].count(b"\n") == 5
        assert len(syncs) == 2
        assert sorted(session.document.intents) == [f"t/d{i}" for i in range(5)] + ["t/first"]
        contents = read_journal(backend.journal_path)
        assert contents is not None
        assert [e.op for e in contents.entries] == ["intend"] * 6
        assert syncs[-1] == backend.journal_path.stat().st_size  # all five on disk


def test_outcomes_in_a_grouped_block_are_synced_together_at_its_end(
    tmp_path: Path, syncs: list[int]
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        session.record(record("before"))
        assert len(syncs) == 1  # outside a block: durable when it returns
        with session.grouped():
            for i in range(5):
                session.record(record(f"d{i}"))
            assert len(syncs) == 1
        assert len(syncs) == 2
        assert syncs[-1] == backend.journal_path.stat().st_size


def journal_ops(backend: LocalStateBackend) -> list[tuple[str, str]]:
    contents = read_journal(backend.journal_path)
    return [] if contents is None else [(e.op, e.address) for e in contents.entries]


def test_outcomes_in_a_grouped_block_reach_the_journal_only_at_its_end_in_one_write(
    tmp_path: Path, syncs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        session.record(record("before"))  # the journal exists
        with os_writes(monkeypatch) as writes, session.grouped():
            for i in range(3):
                session.record(record(f"d{i}"))
            session.forget("t/before")
            # The session shows them at once; the journal holds none of them yet.
            assert sorted(session.document.records) == ["t/d0", "t/d1", "t/d2"]
            assert writes == [] and journal_ops(backend) == [("record", "t/before")]
        assert len(writes) == 1 and writes[0].count(b"\n") == 4
        assert journal_ops(backend)[1:] == [
            ("record", "t/d0"),
            ("record", "t/d1"),
            ("record", "t/d2"),
            ("forget", "t/before"),
        ]
        assert syncs[-1] == backend.journal_path.stat().st_size


def test_an_intent_in_a_grouped_block_writes_the_held_outcomes_first(
    tmp_path: Path, syncs: list[int]
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session, session.grouped():
        session.record(record("a"))
        session.intend(intent("a"))  # the same address: the journal must keep the order
        assert journal_ops(backend) == [("record", "t/a"), ("intend", "t/a")]
        assert syncs[-1] == backend.journal_path.stat().st_size
        assert "t/a" in session.document.intents


def test_held_outcomes_that_cannot_be_written_raise_at_the_end_of_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        session.record(record("first"))  # the journal exists
        block = session.grouped()
        block.__enter__()
        session.record(record("a"))  # held: nothing is written yet

        def full(fd: int, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "write", full)
        with pytest.raises(StateError, match="cannot record t/a in the state journal"):
            block.__exit__(None, None, None)
        monkeypatch.undo()
    assert journal_ops(backend) == []  # folded into the document by the commit
    assert sorted(backend.read().records) == ["t/a", "t/first"]


def test_an_intent_in_a_grouped_block_is_durable_at_once_with_every_line_before_it(
    tmp_path: Path, syncs: list[int]
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        with session.grouped():
            session.record(record("a"))
            assert syncs == []
            session.intend(intent("b"))
            assert len(syncs) == 1 and syncs[0] == backend.journal_path.stat().st_size
        assert len(syncs) == 1  # nothing left to sync at the end


def test_outcomes_that_cannot_be_made_durable_raise_at_the_end_of_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        monkeypatch.setattr(journal_module, "_datasync", failing)
        block = session.grouped()
        block.__enter__()
        session.record(record("a"))  # held: written and synced at the block's end
        with pytest.raises(StateError, match="cannot make the record of t/a durable"):
            block.__exit__(None, None, None)
        monkeypatch.undo()


def test_other_threads_outcomes_are_not_deferred_by_one_threads_block(
    tmp_path: Path, syncs: list[int]
) -> None:
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session, session.grouped():
        session.record(record("mine"))
        other = threading.Thread(target=session.record, args=(record("theirs"),))
        other.start()
        other.join(10)
        assert len(syncs) == 1  # the other thread's record was synced before it returned


# -- the wait for company -------------------------------------------------------------------


def test_the_wait_for_company_is_as_long_as_a_flush_takes_and_none_when_it_is_quick() -> None:
    times = FlushTimes()
    assert times.company_wait() == COMPANY_WAIT  # nothing known yet
    times.last = MIN_COMPANY_WAIT / 2
    assert times.company_wait() == 0.0
    times.last = 0.0005
    assert times.company_wait() == 0.0005
    times.last = 1.0
    assert times.company_wait() == COMPANY_WAIT


def test_a_group_commit_with_quick_flushes_does_not_wait_for_threads_on_their_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arrivals = Arrivals()
    waits: list[float] = []
    real = arrivals.settle

    def settle(timeout: float = COMPANY_WAIT) -> None:
        waits.append(timeout)
        real(timeout)

    monkeypatch.setattr(arrivals, "settle", settle)
    group = GroupCommit(lambda: None, arrivals)
    group.wait()
    group.wait()
    assert waits[0] == COMPANY_WAIT and waits[1] == 0.0


def test_the_journal_waits_for_no_company_once_its_syncs_prove_quick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real = atomic.Arrivals.settle

    def settle(self: Arrivals, timeout: float = COMPANY_WAIT) -> None:
        waits.append(timeout)
        real(self, timeout)

    monkeypatch.setattr(atomic.Arrivals, "settle", settle)
    monkeypatch.setattr(journal_module, "_datasync", lambda fd: None)
    backend = LocalStateBackend(tmp_path / "dev.json", "dev")
    with backend.lock(operation="test") as session:
        session.record(record("a"))
        session.record(record("b"))
    assert waits[:2] == [COMPANY_WAIT, 0.0]
