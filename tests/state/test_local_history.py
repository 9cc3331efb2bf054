"""The local backend's history of committed versions, and its compare-and-swap commit."""

from __future__ import annotations

import json
import os
import socket
import stat
import uuid
from pathlib import Path

import pytest

from deployctl.errors import StaleStateError, StateError
from deployctl.model.state import StateDocument
from deployctl.state.local import LocalStateBackend

from .helpers import load, make_record, run_python


def _commit(backend: LocalStateBackend, *names: str, operation: str = "apply") -> StateDocument:
    with backend.lock(operation=operation) as session:
        for name in names:
            session.record(make_record(name))
    return backend.read()


def _version_file(backend: LocalStateBackend, serial: int) -> Path:
    return backend.path.with_name("dev.history") / f"{serial:08d}.json"


# -- history -------------------------------------------------------------------------------


def test_every_commit_keeps_its_version_with_who_made_it(backend: LocalStateBackend) -> None:
    committed = _commit(backend, "churn", "fraud")

    kept = load(_version_file(backend, 1))
    assert StateDocument.from_json(kept["document"]) == committed
    entry = kept["entry"]
    assert entry["serial"] == 1
    assert entry["command"] == "apply"  # the lock's operation
    assert entry["host"] == socket.gethostname()
    assert entry["summary"] == "+2 ~0 -0"
    assert entry["created"].endswith("Z")
    assert sorted(os.listdir(backend.history_path)) == ["00000001.json"]


def test_history_lists_every_version_oldest_first_with_its_changes(
    backend: LocalStateBackend,
) -> None:
    _commit(backend, "churn", "fraud")
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn", 2))
        session.forget("local/fraud")
        session.record(make_record("extra"))
    with backend.lock(operation="state rm") as session:
        session.replace(session.document.without("local/extra"))

    history = backend.history()

    assert [(e.serial, e.command, e.summary) for e in history] == [
        (1, "apply", "+2 ~0 -0"),
        (2, "apply", "+1 ~1 -1"),
        (3, "state rm", "+0 ~0 -1"),
    ]
    assert all(e.who == history[0].who and e.who for e in history)


def test_read_version_returns_each_committed_document(backend: LocalStateBackend) -> None:
    first = _commit(backend, "churn")
    second = _commit(backend, "fraud")

    assert backend.read_version(1) == first
    assert backend.read_version(2) == second
    assert backend.read_version(2) == backend.read()


def test_only_the_last_n_versions_are_kept(state_path: Path) -> None:
    backend = LocalStateBackend(state_path, keep_history=3)
    documents = [_commit(backend, f"d{i}") for i in range(5)]

    assert [e.serial for e in backend.history()] == [3, 4, 5]
    assert sorted(os.listdir(backend.history_path)) == [f"{s:08d}.json" for s in (3, 4, 5)]
    assert backend.read_version(3) == documents[2]
    with pytest.raises(StateError) as err:
        backend.read_version(2)
    assert f"state serial 2 is not kept in {backend.describe()}" in str(err.value)
    assert "serials 3 to 5 are kept" in str(err.value)


def test_fifty_versions_are_kept_by_default(backend: LocalStateBackend) -> None:
    assert backend.keep_history == 50


def test_keep_history_zero_keeps_none(state_path: Path) -> None:
    backend = LocalStateBackend(state_path, keep_history=0)
    committed = _commit(backend, "churn")

    assert backend.history() == []
    assert not backend.history_path.exists()
    assert backend.read_version(1) == committed  # the current document is always there


def test_a_state_never_written_has_no_history(backend: LocalStateBackend) -> None:
    assert backend.history() == []
    with pytest.raises(StateError, match="no version is kept"):
        backend.read_version(1)


def test_a_commit_without_changes_keeps_no_version(backend: LocalStateBackend) -> None:
    _commit(backend, "churn")
    with backend.lock(operation="plan") as session:
        session.commit()

    assert [e.serial for e in backend.history()] == [1]


def test_current_version_is_readable_without_a_kept_file(backend: LocalStateBackend) -> None:
    # A state last written by a deployctl that kept no history.
    committed = _commit(backend, "churn")
    _version_file(backend, 1).unlink()

    assert backend.read_version(1) == committed
    assert backend.history() == []


def test_version_is_kept_before_the_state_file_is_replaced(backend: LocalStateBackend) -> None:
    _commit(backend, "churn")
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        path = Path({str(backend.path)!r})
        real_replace = os.replace

        def dying_replace(src, dst):
            if Path(dst) == path:
                os._exit(9)  # the version is kept; the state file is not replaced yet
            real_replace(src, dst)

        session = LocalStateBackend(path).lock(operation="apply")
        session.record(make_record("fraud"))
        os.replace = dying_replace
        session.commit()
        """
    )
    assert result.returncode == 9, result.stderr
    assert backend.read_document().serial == 1
    assert load(_version_file(backend, 2))["entry"]["serial"] == 2

    # The next run folds the journal into serial 2, which replaces that version.
    with backend.lock(operation="plan"):
        pass
    assert backend.read_version(2) == backend.read()
    assert backend.history()[-1].command == "plan (folding in the journal of a crashed run)"


def test_versions_are_as_private_as_the_state_file(backend: LocalStateBackend) -> None:
    _commit(backend, "churn")
    os.chmod(backend.path, 0o600)
    _commit(backend, "fraud")

    assert stat.S_IMODE(os.stat(_version_file(backend, 2)).st_mode) == 0o600


def test_a_version_written_in_another_key_order_is_still_listed(
    backend: LocalStateBackend,
) -> None:
    _commit(backend, "churn")
    path = _version_file(backend, 1)
    data = load(path)
    path.write_text(json.dumps({"document": data["document"], "entry": data["entry"]}))

    assert [e.serial for e in backend.history()] == [1]


def test_a_damaged_version_is_an_error_naming_it(backend: LocalStateBackend) -> None:
    _commit(backend, "churn")
    _version_file(backend, 1).write_text("{half")

    with pytest.raises(StateError) as err:
        backend.history()
    assert str(_version_file(backend, 1)) in str(err.value)
    with pytest.raises(StateError, match="is damaged"):
        backend.read_version(1)


def test_leftover_temporary_versions_are_removed_under_the_lock(
    backend: LocalStateBackend,
) -> None:
    _commit(backend, "churn")
    leftover = backend.history_path / f".00000002.json.{uuid.uuid4().hex}.tmp"
    leftover.write_text("{half")

    assert [e.serial for e in backend.history()] == [1]
    with backend.lock(operation="apply"):
        pass
    assert not leftover.exists()


# -- compare-and-swap ----------------------------------------------------------------------


def test_commit_after_another_run_wrote_the_force_unlocked_state_is_refused(
    backend: LocalStateBackend,
) -> None:
    _commit(backend, "base")
    first = backend.lock(operation="apply")
    first.record(make_record("churn"))
    backend.force_unlock()
    _commit(backend, "other")  # folds what the first run had journaled, then adds its own
    before = backend.path.read_bytes()

    with pytest.raises(StaleStateError) as err:
        first.commit()
    first.close()

    message = str(err.value)
    assert str(backend.path) in message
    assert "it is now serial 3, this run started from serial 1" in message
    assert "run 'deployctl plan' again" in message
    assert backend.path.read_bytes() == before  # nothing written
    assert [e.serial for e in backend.history()] == [1, 2, 3]
    assert backend.lock_info() is None


def test_a_state_replaced_under_a_held_lock_is_not_overwritten(
    backend: LocalStateBackend,
) -> None:
    _commit(backend, "base")
    session = backend.lock(operation="apply")
    session.record(make_record("churn"))
    replaced = StateDocument(lineage=str(uuid.uuid4()), serial=7, environment="dev")
    backend.path.write_text(json.dumps(replaced.to_json()))  # by hand, ignoring the lock

    with pytest.raises(StaleStateError, match="another lineage") as err:
        session.close()

    assert backend.read_document() == replaced
    # What the run recorded was done on the targets: it is kept, away from the next run.
    kept = list(backend.path.parent.glob("dev.json.journal.rejected-*"))
    assert len(kept) == 1 and str(kept[0]) in str(err.value)
    assert "local/churn" in kept[0].read_text()
    assert not backend.journal_path.exists()
    assert backend.lock_info() is None
    with backend.lock(operation="apply"):  # the next run is not blocked by it
        pass


def test_a_new_state_created_meanwhile_is_not_overwritten(backend: LocalStateBackend) -> None:
    session = backend.lock(operation="import")
    backend.force_unlock()
    other = _commit(backend, "other")

    with pytest.raises(StaleStateError, match="this run started from no state"):
        session.replace(StateDocument.empty("dev").with_record(make_record("churn")))
    session.close()

    assert backend.read() == other


def test_a_refused_session_stops_recording(backend: LocalStateBackend) -> None:
    _commit(backend, "base")
    session = backend.lock(operation="apply")
    session.record(make_record("churn"))
    backend.path.write_text(json.dumps(StateDocument(backend.read().lineage, 9, "dev").to_json()))
    with pytest.raises(StaleStateError):
        session.commit()

    with pytest.raises(StateError, match="another writer changed the state"):
        session.record(make_record("fraud"))
    session.close()  # already reported: closing only unlocks
    assert backend.lock_info() is None
