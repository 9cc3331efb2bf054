"""LocalStateBackend: the document file, atomic writes, the backup, serial and lineage."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

import jsonschema
import pytest

from deployctl import atomic
from deployctl.errors import StateError
from deployctl.model.state import StateDocument
from deployctl.state.local import LocalStateBackend

from .helpers import load, make_record, run_python

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "state.schema.json"


def _write_two_versions(backend: LocalStateBackend) -> tuple[bytes, bytes]:
    """Commit one record, then a second: returns the file bytes after each write."""
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
    first = backend.path.read_bytes()
    with backend.lock(operation="apply") as session:
        session.record(make_record("fraud"))
    return first, backend.path.read_bytes()


# -- reading and writing -------------------------------------------------------------------


def test_missing_file_reads_as_empty_state(backend: LocalStateBackend) -> None:
    document = backend.read()

    assert document == StateDocument.empty()
    assert not backend.path.exists()


def test_missing_file_reads_with_configured_environment(state_path: Path) -> None:
    assert LocalStateBackend(state_path, environment="dev").read().environment == "dev"


def test_records_round_trip_through_the_file(backend: LocalStateBackend) -> None:
    records = [make_record("churn", live=True), make_record("fraud", 2)]
    with backend.lock(operation="apply") as session:
        for record in records:
            session.record(record)
        written = session.commit()

    read = backend.read()
    assert read == written
    assert dict(read.records) == {r.address: r for r in records}


def test_file_is_indented_sorted_json_with_trailing_newline(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))

    text = backend.path.read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_parent_directories_are_created(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "a" / "b" / "prod.json")
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))

    assert backend.read().serial == 1


def test_describe_returns_the_path_as_given() -> None:
    assert LocalStateBackend(Path("state/dev.json")).describe() == "state/dev.json"


def test_written_document_validates_against_the_json_schema(backend: LocalStateBackend) -> None:
    schema = load(SCHEMA_PATH)
    jsonschema.Draft202012Validator.check_schema(schema)
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn", live=True))
        session.record(make_record("fraud"))
        session.commit()
        old = session.document.records["local/churn"]
        session.record(
            old.superseded_by(
                make_record("churn", 2).applied, None, "2025-02-01T00:00:00Z", old.target_uri
            )
        )

    jsonschema.Draft202012Validator(schema).validate(load(backend.path))


def test_schema_rejects_a_record_with_an_unknown_field(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
    data = load(backend.path)
    data["deployments"][0]["surprise"] = 1

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, load(SCHEMA_PATH), cls=jsonschema.Draft202012Validator)


def test_file_permissions_are_kept_across_writes(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
    os.chmod(backend.path, 0o600)
    with backend.lock(operation="apply") as session:
        session.record(make_record("fraud"))

    assert stat.S_IMODE(os.stat(backend.path).st_mode) == 0o600
    with backend.lock(operation="apply") as session:
        session.record(make_record("more"))
        assert stat.S_IMODE(os.stat(backend.journal_path).st_mode) == 0o600


# -- serial and lineage --------------------------------------------------------------------


def test_first_write_sets_a_uuid4_lineage_and_serial_1(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        assert session.document.lineage is None  # nothing written yet
        session.record(make_record("churn"))

    document = backend.read()
    assert document.serial == 1
    assert document.lineage is not None
    assert uuid.UUID(document.lineage).version == 4


def test_every_write_bumps_serial_and_keeps_lineage(backend: LocalStateBackend) -> None:
    _write_two_versions(backend)
    lineage = backend.read().lineage
    with backend.lock(operation="state rm") as session:
        session.replace(session.document.without("local/churn"))

    document = backend.read()
    assert document.serial == 3
    assert document.lineage == lineage


def test_commit_without_changes_writes_nothing(backend: LocalStateBackend) -> None:
    _write_two_versions(backend)
    before = backend.path.read_bytes()
    with backend.lock(operation="apply") as session:
        assert session.commit().serial == 2
        session.forget("local/not-there")

    assert backend.path.read_bytes() == before


def test_replace_keeps_the_current_lineage_when_given_none(backend: LocalStateBackend) -> None:
    _write_two_versions(backend)
    current = backend.read()
    with backend.lock(operation="state push") as session:
        written = session.replace(StateDocument(lineage=None, serial=99, environment="dev"))

    assert written.lineage == current.lineage
    assert written.serial == 100  # never below the serial the document carries
    assert backend.read() == written
    with backend.lock(operation="state rm") as session:
        older = session.replace(StateDocument(lineage=None, serial=5, environment="dev"))
    assert older.serial == 101  # and never below the current one


def test_replace_accepts_a_different_lineage_as_the_callers_decision(
    backend: LocalStateBackend,
) -> None:
    _write_two_versions(backend)
    other = str(uuid.uuid4())
    with backend.lock(operation="state push") as session:
        session.replace(StateDocument(lineage=other, serial=0, environment=None))

    assert backend.read().lineage == other
    assert backend.read().serial == 3


def test_replace_of_a_new_state_creates_its_lineage(backend: LocalStateBackend) -> None:
    with backend.lock(operation="import") as session:
        written = session.replace(StateDocument.empty("dev").with_record(make_record("churn")))

    assert written.lineage is not None
    assert written.serial == 1
    assert backend.read() == written


def test_replace_supersedes_pending_records_with_a_higher_serial(
    backend: LocalStateBackend,
) -> None:
    _write_two_versions(backend)
    with backend.lock(operation="apply") as session:
        session.record(make_record("extra"))
        assert session.document.serial == 3  # what a commit would write
        written = session.replace(session.document.without("local/churn"))
        assert session.pending == 0

    assert written.serial == 4  # above every serial a reader could have seen
    assert sorted(backend.read().records) == ["local/extra", "local/fraud"]
    assert not backend.journal_path.exists()


# -- backup --------------------------------------------------------------------------------


def test_first_write_has_no_backup(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))

    assert not backend.backup_path.exists()


def test_backup_holds_the_previous_version(backend: LocalStateBackend) -> None:
    first, second = _write_two_versions(backend)

    assert backend.backup_path.read_bytes() == first
    assert backend.path.read_bytes() == second
    assert first != second


def test_backup_is_copied_where_hard_links_are_not_supported(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    first, _ = _write_two_versions(backend)

    assert backend.backup_path.read_bytes() == first


# -- corrupt files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"", b"\xff\xfe", b"[]", b'{"format_version": 1}', b'{"lineage": "x"}'],
    ids=["syntax", "empty", "not-utf8", "array", "no-lineage", "no-version"],
)
def test_corrupt_file_names_the_file_and_the_backup(
    backend: LocalStateBackend, content: bytes
) -> None:
    _write_two_versions(backend)
    backend.path.write_bytes(content)

    with pytest.raises(StateError) as err:
        backend.read()

    message = str(err.value)
    assert str(backend.path) in message
    assert f"{backend.backup_path}" in message
    assert "copy it over" in message


def test_corrupt_file_without_backup_says_there_is_none(backend: LocalStateBackend) -> None:
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text("garbage")

    with pytest.raises(StateError, match=r"there is no dev\.json\.backup"):
        backend.read()


def test_missing_file_whose_backup_exists_is_an_error_naming_the_backup(
    backend: LocalStateBackend,
) -> None:
    _write_two_versions(backend)
    backend.path.unlink()  # deleted or moved, by hand or by a script

    with pytest.raises(StateError) as err:
        backend.read()  # never a silent fresh lineage

    message = str(err.value)
    assert f"the state file {backend.path} is missing" in message
    assert f"copy it to {backend.path}" in message and str(backend.backup_path) in message
    with pytest.raises(StateError, match="is missing"):
        backend.lock(operation="apply")
    assert backend.lock_info() is None
    assert not backend.path.exists()


def test_missing_file_with_only_history_is_an_error_naming_the_history(
    backend: LocalStateBackend,
) -> None:
    with backend.lock(operation="apply") as session:  # one write: no backup yet
        session.record(make_record("churn"))
    backend.path.unlink()

    with pytest.raises(StateError, match="keeps serial 1") as err:
        backend.read()
    assert str(backend.history_path / "00000001.json") in str(err.value)


def test_state_removed_with_its_backup_and_history_starts_afresh(
    backend: LocalStateBackend,
) -> None:
    _write_two_versions(backend)
    for path in (backend.path, backend.backup_path, *backend.history_path.iterdir()):
        path.unlink()

    assert backend.read() == StateDocument.empty()


def test_malformed_record_names_the_file(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
    data = load(backend.path)
    del data["deployments"][0]["target_uri"]
    backend.path.write_text(json.dumps(data))

    with pytest.raises(StateError, match="is malformed") as err:
        backend.read()
    assert str(backend.path) in str(err.value)


def test_newer_format_version_asks_for_an_upgrade(backend: LocalStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
    data = load(backend.path)
    data["format_version"] = 2
    backend.path.write_text(json.dumps(data))

    with pytest.raises(StateError, match="newer than this deployctl supports") as err:
        backend.read()
    assert str(backend.path) in str(err.value)
    assert "upgrade deployctl" in str(err.value)


def test_lock_refuses_a_corrupt_state_and_releases_the_lock(backend: LocalStateBackend) -> None:
    backend.path.parent.mkdir(parents=True)
    backend.path.write_text("garbage")

    with pytest.raises(StateError):
        backend.lock(operation="apply")
    assert backend.lock_info() is None


# -- atomicity and crashes -----------------------------------------------------------------


def test_failed_rename_leaves_old_state_intact(
    backend: LocalStateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, before = _write_two_versions(backend)
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == backend.path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    with backend.lock(operation="state rm") as session:
        monkeypatch.setattr(os, "replace", failing_replace)
        with pytest.raises(StateError, match="No space left on device"):
            session.replace(session.document.without("local/churn"))
        monkeypatch.setattr(os, "replace", real_replace)

    assert backend.path.read_bytes() == before
    assert backend.read().serial == 2
    leftovers = [p.name for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []  # the temporary file is cleaned up on failure


def test_process_killed_between_temp_file_and_rename_leaves_old_state(
    backend: LocalStateBackend, warned: list[str]
) -> None:
    _, before = _write_two_versions(backend)
    result = run_python(
        f"""
        import os
        from pathlib import Path
        from deployctl.state.local import LocalStateBackend

        path = Path({str(backend.path)!r})
        real_replace = os.replace

        def dying_replace(src, dst):
            if Path(dst) == path:
                os._exit(9)  # the temp file is complete and fsynced; the rename never happens
            real_replace(src, dst)

        session = LocalStateBackend(path).lock(operation="state rm")
        os.replace = dying_replace
        session.replace(session.document.without("local/churn"))
        """
    )
    assert result.returncode == 9, result.stderr

    temps = [p for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(temps) == 1  # the half-done write...
    assert backend.path.read_bytes() == before  # ...never touched the state
    assert backend.read().serial == 2
    assert sorted(backend.read().records) == ["local/churn", "local/fraud"]

    lock = backend.lock_info()
    assert lock is not None  # left by the dead process, until the next run takes it over
    with backend.lock(operation="apply") as session:
        session.record(make_record("after"))
    assert [p for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert backend.read().serial == 3
    assert len(warned) == 1 and f"process {lock.pid} is no longer running" in warned[0]


def test_leftover_temp_files_are_ignored_by_read(backend: LocalStateBackend) -> None:
    _write_two_versions(backend)
    (backend.path.parent / f".dev.json.{uuid.uuid4().hex}.tmp").write_text("{half")

    assert backend.read().serial == 2


def test_temporary_names_are_unique_found_as_leftovers_and_not_shared_with_a_forked_child(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dev.json"
    names = [atomic.temp_path(path).name for _ in range(1000)]
    assert len(set(names)) == len(names)
    for name in names[:3]:
        (tmp_path / name).write_text("{half")
    assert atomic.leftover_temps(path) == sorted(tmp_path / name for name in names[:3])

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next name, then out at once
        os.write(write, atomic.temp_path(path).name.encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    ours = atomic.temp_path(path).name
    # ".dev.json." + 32 hex digits + ".tmp": the child's differ from ours, not just by a count.
    assert child.startswith(".dev.json.") and len(child) == len(ours)
    assert child[10:26] != ours[10:26]


def test_other_files_in_the_directory_are_not_cleaned_up(backend: LocalStateBackend) -> None:
    _write_two_versions(backend)
    keep = [
        backend.path.parent / "prod.json",
        backend.path.parent / f".prod.json.{uuid.uuid4().hex}.tmp",  # another state's write
        backend.path.parent / "README.md",
    ]
    for path in keep:
        path.write_text("x")
    with backend.lock(operation="apply") as session:
        session.record(make_record("x"))

    assert all(path.exists() for path in keep)
