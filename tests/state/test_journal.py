"""The session journal: durable O(1) records, crash recovery, commit and exit semantics."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from deployctl import atomic
from deployctl.errors import StateError
from deployctl.state.journal import (
    JOURNAL_FORMAT_VERSION,
    JournalEntry,
    header_line,
)
from deployctl.state.local import LocalStateBackend

from .helpers import make_record, run_python


def _seed(backend: LocalStateBackend, *names: str) -> None:
    with backend.lock(operation="apply") as session:
        for name in names:
            session.record(make_record(name))


def _journal_lines(backend: LocalStateBackend) -> list[dict[str, object]]:
    return [json.loads(line) for line in backend.journal_path.read_text().splitlines()]


def _write_journal(backend: LocalStateBackend, *lines: bytes) -> None:
    backend.journal_path.write_bytes(b"".join(lines))


def _record_line(name: str, version: int = 1) -> bytes:
    return JournalEntry(address=f"local/{name}", record=make_record(name, version)).to_line()


def _count_document_writes(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    writes: list[int] = []
    real_replace = os.replace

    def counting_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == backend.path:
            writes.append(1)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", counting_replace)
    return writes


# -- durability and cost -------------------------------------------------------------------


def test_each_record_is_in_the_journal_when_record_returns(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
        session.forget("local/base")

        lines = _journal_lines(backend)
        assert lines[0]["journal"] == JOURNAL_FORMAT_VERSION
        assert lines[0]["lineage"] == backend.read_document().lineage
        assert lines[0]["base_serial"] == 1
        assert [line.get("op") for line in lines[1:]] == ["record", "forget"]

    assert not backend.journal_path.exists()
    assert sorted(backend.read().records) == ["local/churn"]


def test_recording_costs_no_document_write_until_commit(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(backend, *(f"old-{i}" for i in range(500)))
    writes = _count_document_writes(backend, monkeypatch)

    with backend.lock(operation="apply") as session:
        for i in range(1000):
            session.record(make_record(f"new-{i}"))
        for i in range(100):
            session.forget(f"local/old-{i}")
        assert writes == []
        assert len(session.document.records) == 1400
        size_before = backend.journal_path.stat().st_size
        session.record(make_record("one-more"))
        # One line per record, whatever the size of the state.
        assert backend.journal_path.stat().st_size - size_before == len(_record_line("one-more"))
        session.commit()
        assert writes == [1]

    assert writes == [1]  # nothing left to commit on exit
    assert backend.read().serial == 2
    assert len(backend.read().records) == 1401


def test_document_reflects_records_with_the_serial_commit_will_write(
    backend: LocalStateBackend,
) -> None:
    _seed(backend, "base")
    with backend.lock(operation="apply") as session:
        assert session.document.serial == 1
        session.record(make_record("churn", 2))
        assert session.document.serial == 2
        assert session.document.records["local/churn"].applied.model_uri == "models:/churn/2"
        assert session.pending == 1
        committed = session.commit()
        assert committed.serial == 2
        assert session.document == committed
        assert session.pending == 0


def test_concurrent_records_from_8_threads_lose_nothing(backend: LocalStateBackend) -> None:
    _seed(backend, *(f"w{t}-gone" for t in range(8)))
    errors: list[BaseException] = []

    with backend.lock(operation="apply") as session:
        barrier = threading.Barrier(8)

        def work(t: int) -> None:
            try:
                barrier.wait()
                for i in range(150):
                    session.record(make_record(f"w{t}-{i}"))
                    if i == 75:
                        session.forget(f"local/w{t}-gone")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(session.document.records) == 8 * 150
        assert len(_journal_lines(backend)) == 1 + 8 * 151

    document = backend.read()
    expected = {f"local/w{t}-{i}" for t in range(8) for i in range(150)}
    assert set(document.records) == expected
    assert document.serial == 2


def test_commit_from_one_thread_while_others_record(backend: LocalStateBackend) -> None:
    stop = threading.Event()
    with backend.lock(operation="apply") as session:

        def committer() -> None:
            while not stop.wait(0.002):
                session.commit()

        thread = threading.Thread(target=committer)
        thread.start()
        try:
            for i in range(300):
                session.record(make_record(f"r{i}"))
        finally:
            stop.set()
            thread.join()

    assert len(backend.read().records) == 300


def test_unlocked_reads_during_a_run_never_fail_or_go_back(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    serials: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                serials.append(backend.read().serial)
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with backend.lock(operation="apply") as session:
            for i in range(200):
                session.record(make_record(f"r{i}"))
                if i % 20 == 19:
                    session.commit()
    finally:
        done.set()
        thread.join()

    assert errors == []
    assert serials == sorted(serials)
    assert backend.read().serial == 11


# -- crash recovery ------------------------------------------------------------------------


def test_records_of_a_killed_process_survive_and_are_folded_by_the_next_lock(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    _seed(backend, "base")
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        session = LocalStateBackend(Path({str(backend.path)!r})).lock(operation="apply")
        for i in range(50):
            session.record(make_record(f"crashed-{{i}}"))
        session.forget("local/base")
        os._exit(1)  # no commit, no unlock: as if killed
        """
    )
    assert result.returncode == 1, result.stderr
    assert backend.read_document().serial == 1  # the document itself was not written

    seen = backend.read()
    assert seen.serial == 2  # exactly the serial the fold will produce
    assert set(seen.records) == {f"local/crashed-{i}" for i in range(50)}

    info = backend.lock_info()
    assert info is not None  # left by the dead run: the next lock takes it over
    with backend.lock(operation="apply") as session:
        assert not backend.journal_path.exists()  # folded on entry...
        assert session.document == seen
        assert backend.read_document() == seen  # ...by one write
    assert backend.read() == seen
    assert len(warned) == 1 and f"process {info.pid} is no longer running" in warned[0]
    assert backend.history()[-1].command == "apply (folding in the journal of a crashed run)"


def test_crash_of_a_new_state_keeps_its_lineage(backend: LocalStateBackend) -> None:
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        session = LocalStateBackend(Path({str(backend.path)!r})).lock(operation="apply")
        session.record(make_record("churn"))
        os._exit(1)
        """
    )
    assert result.returncode == 1, result.stderr
    assert not backend.path.exists()

    seen = backend.read()
    assert seen.serial == 1
    assert seen.lineage == _journal_lines(backend)[0]["lineage"]
    with backend.lock(operation="apply"):
        pass
    assert backend.read() == seen


def test_torn_last_journal_line_is_ignored(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    lineage = backend.read().lineage
    assert lineage is not None
    _write_journal(
        backend,
        header_line(lineage, 1),
        _record_line("a"),
        _record_line("b"),
        _record_line("c")[:40],  # the crash hit in the middle of this write
    )

    assert sorted(backend.read().records) == ["local/a", "local/b", "local/base"]
    with backend.lock(operation="apply"):
        pass
    assert sorted(backend.read_document().records) == ["local/a", "local/b", "local/base"]


def test_torn_line_in_the_middle_is_an_error(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    lineage = backend.read().lineage
    assert lineage is not None
    _write_journal(
        backend, header_line(lineage, 1), _record_line("a")[:40] + b"\n", _record_line("b")
    )

    with pytest.raises(StateError, match="line 2 is not JSON"):
        backend.read()
    with pytest.raises(StateError, match="is damaged"):
        backend.lock(operation="apply")
    assert backend.lock_info() is None  # a refused fold does not keep the lock


def test_journal_of_another_lineage_is_an_error(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    _write_journal(backend, header_line("another-lineage", 1), _record_line("a"))

    with pytest.raises(StateError, match="belongs to state lineage another-lineage"):
        backend.read()


def test_journal_ahead_of_the_document_is_an_error(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    lineage = backend.read().lineage
    assert lineage is not None
    _write_journal(backend, header_line(lineage, 5), _record_line("a"))

    with pytest.raises(StateError, match="extends state serial 5"):
        backend.read()


def test_journal_already_folded_is_discarded(backend: LocalStateBackend) -> None:
    # A crash between writing the document and deleting the journal leaves both.
    _seed(backend, "base")
    lineage = backend.read().lineage
    assert lineage is not None
    _write_journal(backend, header_line(lineage, 0), _record_line("base", 9))

    assert backend.read() == backend.read_document()
    with backend.lock(operation="apply") as session:
        assert session.document.serial == 1
    assert not backend.journal_path.exists()
    assert backend.read().records["local/base"].applied.model_uri == "models:/base/1"


def test_journal_with_only_a_header_changes_nothing(backend: LocalStateBackend) -> None:
    _seed(backend, "base")
    lineage = backend.read().lineage
    assert lineage is not None
    _write_journal(backend, header_line(lineage, 1))

    assert backend.read().serial == 1
    with backend.lock(operation="apply"):
        pass
    assert not backend.journal_path.exists()
    assert backend.read_document().serial == 1


# -- commit and exit -----------------------------------------------------------------------


def test_exit_commits_on_keyboard_interrupt(backend: LocalStateBackend) -> None:
    with pytest.raises(KeyboardInterrupt), backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
        raise KeyboardInterrupt

    assert "local/churn" in backend.read_document().records
    assert not backend.journal_path.exists()
    assert backend.lock_info() is None


def test_failed_commit_keeps_the_journal_for_the_next_run(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(backend, "base")
    before = backend.path.read_bytes()
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == backend.path:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StateError, match="Input/output error"):  # noqa: SIM117
        with backend.lock(operation="apply") as session:
            session.record(make_record("churn"))
            with pytest.raises(StateError, match=r"commit of .* failed"):
                session.commit()
            session.record(make_record("fraud"))  # the session goes on after a failed commit
    monkeypatch.setattr(os, "replace", real_replace)

    assert backend.path.read_bytes() == before
    assert backend.lock_info() is None
    assert backend.journal_path.exists()
    seen = backend.read()
    assert seen.serial == 2
    assert sorted(seen.records) == ["local/base", "local/churn", "local/fraud"]
    with backend.lock(operation="apply"):
        pass
    assert backend.read_document() == seen


def test_failed_commit_during_an_exception_is_noted_not_masking(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == backend.path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(RuntimeError, match="boom") as err:  # noqa: SIM117
        with backend.lock(operation="apply") as session:
            session.record(make_record("churn"))
            raise RuntimeError("boom")

    assert any("saving the state failed too" in note for note in err.value.__notes__)
    assert backend.lock_info() is None
    monkeypatch.setattr(os, "replace", real_replace)
    assert "local/churn" in backend.read().records


def test_commit_that_replaced_but_could_not_sync_stops_further_writes(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(backend, "base")
    real_fsync_dir = atomic.fsync_dir

    def failing_fsync_dir(directory: Path) -> None:
        if directory != backend.path.parent:  # the history version is kept durably first
            return real_fsync_dir(directory)
        raise OSError(5, "Input/output error")

    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
        monkeypatch.setattr(atomic, "fsync_dir", failing_fsync_dir)
        with pytest.raises(StateError, match="Input/output error"):
            session.commit()
        monkeypatch.undo()
        # The document was renamed into place, so the journal's base is no longer current:
        # appending to it would write lines the next run discards as already folded.
        with pytest.raises(StateError, match="stopped writing"):
            session.record(make_record("fraud"))
        assert session.pending == 0  # the commit itself is in place

    assert backend.lock_info() is None
    with backend.lock(operation="apply"):
        pass
    assert sorted(backend.read().records) == ["local/base", "local/churn"]
    assert not backend.journal_path.exists()


def test_session_refuses_use_after_close(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        pass

    with pytest.raises(StateError, match="closed"):
        session.record(make_record("churn"))


def test_unserialisable_record_is_refused_before_anything_is_written(
    backend: LocalStateBackend,
) -> None:
    record = make_record("churn")
    bad = type(record)(
        target=record.target,
        name=record.name,
        target_uri=record.target_uri,
        applied=type(record.applied)(model_uri="m", config={"x": float("nan")}),
        live=None,
        applied_at=record.applied_at,
    )
    with backend.lock(operation="apply") as session:
        with pytest.raises(StateError, match="cannot record local/churn"):
            session.record(bad)
        assert session.pending == 0

    assert not backend.path.exists()
