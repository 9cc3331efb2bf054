"""``migrate`` and ``import_history`` across real backends: local files, PostgreSQL and moto S3.

Each backend pair copies a state of four commits and must give the destination the same story:
the same serials, history entries and documents, the same current document. The servers start
only for the tests that use them (``request.getfixturevalue``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.errors import StateError
from deployctl.model import canonical_json
from deployctl.model.state import StateDocument
from deployctl.state.history import HistoryEntry
from deployctl.state.local import LocalStateBackend
from deployctl.state.migrate import MigrationResult, migrate, versions_to_import
from deployctl.state.protocol import StateBackend

from .helpers import make_record, run_python
from .pg_server import pg_server_fixture, pg_url_fixture  # noqa: F401  (fixtures)
from .s3_server import s3_bucket_fixture, s3_server_fixture, s3_url_fixture  # noqa: F401

Version = tuple[HistoryEntry, StateDocument]
Story = tuple[list[HistoryEntry], list[str], str]

PAIRS = [
    ("local", "pg"),
    ("local", "s3"),
    ("pg", "s3"),
    ("s3", "local"),
    ("pg", "local"),
    ("s3", "pg"),
]
KINDS = ["local", "pg", "s3"]


def open_state(request: pytest.FixtureRequest, kind: str, name: str) -> StateBackend:
    """A state named ``name`` (a folder, a schema or a prefix) in backend ``kind``."""
    if kind == "local":
        tmp_path: Path = request.getfixturevalue("tmp_path")
        return LocalStateBackend(tmp_path / name / "dev.json", "dev")
    if kind == "pg":
        from deployctl.state.postgres import PostgresStateBackend

        url: str = request.getfixturevalue("pg_url")
        return PostgresStateBackend(f"{url}{'&' if '?' in url else '?'}schema={name}", "dev")
    from deployctl.state.s3 import S3StateBackend

    prefix: str = request.getfixturevalue("s3_url")
    return S3StateBackend(f"{prefix}{name}/", "dev")


def four_commits(backend: StateBackend) -> StateDocument:
    """Serials 1-4: two records added, one changed, one removed, one added with live data."""
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
        session.record(make_record("fraud"))
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn", 2))
    with backend.lock(operation="state rm") as session:
        session.forget("local/fraud")
    with backend.lock(operation="apply") as session:
        session.record(make_record("ranker", live=True))
    return backend.read()


def canonical(document: StateDocument) -> str:
    return canonical_json(document.to_json())


def story(backend: StateBackend) -> Story:
    """What a state says of itself: its history, every kept version, its current document."""
    entries = backend.history()
    versions = [canonical(backend.read_version(entry.serial)) for entry in entries]
    return entries, versions, canonical(backend.read())


def committed_versions(backend: StateBackend) -> list[Version]:
    return [(entry, backend.read_version(entry.serial)) for entry in backend.history()]


def files_of(backend: StateBackend) -> dict[str, bytes]:
    """Every file of a local state (document, backup, history), byte for byte."""
    assert isinstance(backend, LocalStateBackend)
    folder = backend.path.parent
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def snapshot(backend: StateBackend) -> object:
    return files_of(backend) if isinstance(backend, LocalStateBackend) else story(backend)


# -- every pair of backends ----------------------------------------------------------------


@pytest.mark.parametrize(("source_kind", "destination_kind"), PAIRS)
def test_migrate_copies_every_version_as_it_was_and_a_second_run_writes_nothing(
    request: pytest.FixtureRequest, source_kind: str, destination_kind: str
) -> None:
    source = open_state(request, source_kind, "source")
    destination = open_state(request, destination_kind, "destination")
    current = four_commits(source)
    before = snapshot(source)

    result = migrate(source, destination, timeout=5)

    assert result == MigrationResult(
        copied=4,
        lineage=str(current.lineage),
        serial=4,
        source=source.describe(),
        destination=destination.describe(),
    )
    copied = story(destination)
    assert copied == story(source)
    assert [e.serial for e in copied[0]] == [1, 2, 3, 4]
    assert [e.command for e in copied[0]] == ["apply", "apply", "state rm", "apply"]
    assert destination.read() == current
    assert snapshot(source) == before

    again = migrate(source, destination, timeout=5)

    assert (again.copied, again.serial) == (0, 4)
    assert story(destination) == copied
    assert snapshot(source) == before


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("destination_kind", KINDS)
def test_a_destination_holding_another_lineage_is_refused_and_left_alone(
    request: pytest.FixtureRequest, destination_kind: str
) -> None:
    source = open_state(request, "local", "source")
    destination = open_state(request, destination_kind, "destination")
    four_commits(source)
    with destination.lock(operation="apply") as session:
        session.record(make_record("other"))
    before = story(destination)

    with pytest.raises(StateError) as err:
        migrate(source, destination, timeout=5)

    message = str(err.value)
    assert f"{destination.describe()} holds another state (lineage" in message
    assert "nothing was written" in message
    assert "\n" not in message
    assert story(destination) == before


def test_the_same_serial_with_other_contents_is_refused(request: pytest.FixtureRequest) -> None:
    source = open_state(request, "local", "source")
    destination = open_state(request, "local", "destination")
    four_commits(source)
    migrate(source, destination, timeout=5)
    for backend, name in ((source, "here"), (destination, "there")):
        with backend.lock(operation="apply") as session:
            session.record(make_record(name))
    before = files_of(destination)

    with pytest.raises(StateError, match=r"serial 5 of lineage .* with other contents"):
        migrate(source, destination, timeout=5)

    assert files_of(destination) == before


def test_a_source_without_state_is_nothing_to_migrate(request: pytest.FixtureRequest) -> None:
    source = open_state(request, "local", "source")
    destination = open_state(request, "local", "destination")

    with pytest.raises(StateError, match="nothing to migrate: there is no state at"):
        migrate(source, destination, timeout=5)

    assert isinstance(destination, LocalStateBackend)
    assert not destination.path.parent.exists()


def test_migrating_a_state_to_itself_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "dev.json"
    four_commits(LocalStateBackend(path, "dev"))
    before = files_of(LocalStateBackend(path))

    with pytest.raises(StateError, match="to itself"):
        migrate(LocalStateBackend(path), LocalStateBackend(path), timeout=0)
    # Another name for the same file is recognised by its lock.
    alias = tmp_path / "state" / ".." / "state" / "dev.json"
    with pytest.raises(StateError, match=r"also named .* to itself"):
        migrate(LocalStateBackend(path), LocalStateBackend(alias), timeout=0)

    assert files_of(LocalStateBackend(path)) == before


@pytest.mark.parametrize("kind", KINDS)
def test_import_is_refused_while_the_session_has_uncommitted_changes(
    request: pytest.FixtureRequest, kind: str
) -> None:
    source = open_state(request, "local", "source")
    destination = open_state(request, kind, "destination")
    four_commits(source)
    versions = committed_versions(source)

    with destination.lock(operation="apply") as session:
        session.record(make_record("churn"))
        with pytest.raises(StateError, match=r"not committed.*nothing was written"):
            session.import_history(versions)
        assert session.document.lineage != versions[0][1].lineage

    assert destination.read().serial == 1  # only the recorded change, committed on exit


# -- completing and partial histories ------------------------------------------------------


@pytest.mark.parametrize("destination_kind", KINDS)
def test_an_interrupted_migrate_is_completed_by_running_it_again(
    request: pytest.FixtureRequest, destination_kind: str
) -> None:
    source = open_state(request, "local", "source")
    destination = open_state(request, destination_kind, "destination")
    four_commits(source)
    versions = committed_versions(source)
    with destination.lock(operation="state migrate") as session:
        assert session.import_history(versions[:2]) == versions[1][1]  # then it was stopped
    assert destination.read().serial == 2

    result = migrate(source, destination, timeout=5)

    assert (result.copied, result.serial) == (2, 4)
    assert story(destination) == story(source)


def test_a_migrate_killed_midway_leaves_a_state_that_the_next_migrate_completes(
    tmp_path: Path,
) -> None:
    source = LocalStateBackend(tmp_path / "a" / "dev.json", "dev")
    destination = LocalStateBackend(tmp_path / "b" / "dev.json", "dev")
    four_commits(source)
    killed = run_python(
        f"""
        import os
        from deployctl.state.local import LocalStateBackend
        from deployctl.state.migrate import migrate

        real_replace = os.replace

        def dying_replace(src, dst):
            if str(dst).endswith("00000003.json"):
                os._exit(9)  # killed while keeping serial 3
            real_replace(src, dst)

        os.replace = dying_replace
        migrate(
            LocalStateBackend({str(source.path)!r}, "dev"),
            LocalStateBackend({str(destination.path)!r}, "dev"),
            timeout=5,
        )
        """
    )
    assert killed.returncode == 9, killed.stderr

    # The first version became the state file before the others were kept: what is there is a
    # state, not a history without its state file (which would read as a deleted state).
    assert destination.read() == source.read_version(1)
    warned: list[str] = []
    result = migrate(
        source, LocalStateBackend(destination.path, "dev", on_warning=warned.append), timeout=5
    )
    assert (result.copied, result.serial) == (3, 4)
    assert story(destination) == story(source)
    assert any("took over the state lock" in w for w in warned)


def test_a_crashed_runs_results_in_the_source_are_committed_there_first_and_copied(
    request: pytest.FixtureRequest,
) -> None:
    import psycopg

    source = open_state(request, "pg", "source")
    destination = open_state(request, "local", "destination")
    four_commits(source)
    crashed = source.lock(operation="apply")
    crashed.record(make_record("late"))
    with psycopg.connect(request.getfixturevalue("pg_url"), autocommit=True) as conn:
        conn.execute(  # the run dies: its connection, and its lock, are gone
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
            "current_database() AND application_name = 'deployctl'"
        )
    shown = source.read()

    result = migrate(source, destination, timeout=5)

    assert (result.copied, result.serial) == (5, 5)
    assert destination.read() == shown
    assert story(destination) == story(source)
    assert destination.history()[-1].command == "state migrate"  # the session that folded it


def test_import_of_versions_already_there_returns_the_current_document(
    request: pytest.FixtureRequest,
) -> None:
    source = open_state(request, "local", "source")
    destination = open_state(request, "local", "destination")
    four_commits(source)
    migrate(source, destination, timeout=5)
    before = files_of(destination)

    with destination.lock(operation="state migrate") as session:
        assert session.import_history(committed_versions(source)[:3]) == destination.read()

    assert files_of(destination) == before


def test_the_current_document_is_copied_when_history_keeps_fewer_versions(
    tmp_path: Path,
) -> None:
    source = LocalStateBackend(tmp_path / "a" / "dev.json", "dev", keep_history=2)
    destination = LocalStateBackend(tmp_path / "b" / "dev.json", "dev")
    current = four_commits(source)

    result = migrate(source, destination, timeout=5)

    assert result.copied == 2
    assert [e.serial for e in destination.history()] == [3, 4]
    assert story(destination) == story(source)
    assert destination.read() == current


def test_a_current_document_without_history_gets_an_entry_naming_the_migrate(
    tmp_path: Path,
) -> None:
    source = LocalStateBackend(tmp_path / "a" / "dev.json", "dev", keep_history=0)
    destination = LocalStateBackend(tmp_path / "b" / "dev.json", "dev")
    current = four_commits(source)

    result = migrate(source, destination, timeout=5)

    assert (result.copied, result.serial) == (1, 4)
    [entry] = destination.history()
    assert entry.serial == 4
    assert entry.command.startswith("state migrate (the source kept no history entry")
    assert entry.summary == "+2 ~0 -0"
    assert destination.read() == current


def test_a_version_that_cannot_be_read_is_skipped(tmp_path: Path) -> None:
    source = LocalStateBackend(tmp_path / "a" / "dev.json", "dev")
    destination = LocalStateBackend(tmp_path / "b" / "dev.json", "dev")
    four_commits(source)
    damaged = source.history_path / "00000002.json"
    damaged.write_bytes(damaged.read_bytes()[:-40])  # its entry still reads, its document not

    result = migrate(source, destination, timeout=5)

    assert (result.copied, result.skipped) == (3, (2,))
    assert [e.serial for e in destination.history()] == [1, 3, 4]
    assert destination.read() == source.read()


def test_versions_must_be_one_lineage_in_increasing_serials(tmp_path: Path) -> None:
    backend = LocalStateBackend(tmp_path / "a" / "dev.json", "dev")
    four_commits(backend)
    versions = committed_versions(backend)
    other = LocalStateBackend(tmp_path / "b" / "dev.json", "dev")
    four_commits(other)
    empty = StateDocument.empty("dev")

    with pytest.raises(StateError, match="serial 3 comes after serial 4"):
        versions_to_import(empty, [versions[3], versions[2]], where="x")
    with pytest.raises(StateError, match="serial 4 is lineage"):
        versions_to_import(empty, [versions[0], committed_versions(other)[3]], where="x")
    assert versions_to_import(empty, [], where="x") == []
