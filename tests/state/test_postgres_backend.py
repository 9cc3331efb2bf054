"""PostgresStateBackend against a real PostgreSQL server: documents, journal, history, lock, schema.

The server comes from ``pg_server.py`` (a throwaway one, or ``DEPLOYCTL_TEST_PG_URL``); every
test gets a database of its own. Tests that need processes (kill -9) are in
``test_postgres_processes.py``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace as dc_replace
from typing import Any

import pytest

from deployctl.errors import LockError, StaleStateError, StateError
from deployctl.model.state import StateDocument
from deployctl.state.postgres import PostgresStateBackend
from deployctl.state.postgres_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Layout,
    Migration,
    current_version,
    migrate,
)

from .helpers import make_record
from .pg_server import PgServer, pg_server_fixture, pg_url_fixture  # noqa: F401  (fixtures)


def sql(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``query`` on the test database directly (as another client would)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query.encode(), params)
        return cursor.fetchall() if cursor.description else []


def drop_deployctl_connections(url: str) -> None:
    """End every deployctl connection to the database, as a network failure or a DBA would."""
    sql(
        url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
        "current_database() AND application_name = 'deployctl' AND pid <> pg_backend_pid()",
    )


@pytest.fixture
def warnings_seen() -> list[str]:
    return []


@pytest.fixture
def backend(pg_url: str, warnings_seen: list[str]) -> PostgresStateBackend:
    return PostgresStateBackend(pg_url, "dev", on_warning=warnings_seen.append)


def _commit(backend: PostgresStateBackend, *names: str, version: int = 1) -> StateDocument:
    with backend.lock(operation="apply") as session:
        for name in names:
            session.record(make_record(name, version))
        return session.commit()


# -- URL, describe, psycopg ---------------------------------------------------------------


def test_describe_names_user_host_database_and_environment_without_the_password() -> None:
    backend = PostgresStateBackend(
        "postgresql://deployctl:s3cret@db.internal:5432/deployctl?sslmode=require&password=p4ss",
        "prod",
    )

    assert (
        backend.describe() == "postgresql://deployctl@db.internal:5432/deployctl (environment prod)"
    )


def test_describe_shows_a_schema_other_than_public() -> None:
    backend = PostgresStateBackend("postgres://db/deployctl?schema=team_a", "dev")

    assert backend.describe() == "postgres://db/deployctl?schema=team_a (environment dev)"


@pytest.mark.parametrize(
    "url", ["postgresql://db/x?schema=bad-name", "postgresql://db/x?schema=", "mysql://db/x"]
)
def test_unusable_urls_are_state_errors(url: str) -> None:
    with pytest.raises(StateError):
        PostgresStateBackend(url, "dev")


def test_importing_the_backend_does_not_import_psycopg() -> None:
    code = "import sys, deployctl.state.postgres; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


def test_missing_psycopg_is_a_state_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # makes `import psycopg` fail
    backend = PostgresStateBackend("postgresql://db/deployctl", "dev")

    with pytest.raises(StateError, match=r"pip install 'deployctl\[postgres\]'"):
        backend.read()


def test_an_unreachable_server_is_a_one_line_error_within_seconds() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    backend = PostgresStateBackend(f"postgresql://deployctl:s3cret@127.0.0.1:{port}/x", "dev")

    started = time.monotonic()
    with pytest.raises(StateError) as caught:
        backend.read()

    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "\n" not in message
    assert backend.describe() in message
    assert "tried 3 times" in message
    assert "s3cret" not in message


# -- reading and writing -------------------------------------------------------------------


def test_a_state_never_written_reads_as_empty_without_creating_tables(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    assert backend.read() == StateDocument.empty("dev")
    assert backend.history() == []
    assert backend.lock_info() is None
    assert sql(pg_url, "SELECT to_regclass('deployctl_states')") == [(None,)]


def test_records_round_trip_through_the_database(backend: PostgresStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn", live=True))
        session.record(make_record("fraud", 2))
        session.record(make_record("gone"))
        session.forget("local/gone")
        written = session.commit()

    read = backend.read()
    assert read == written
    assert sorted(read.records) == ["local/churn", "local/fraud"]
    assert read.records["local/churn"] == make_record("churn", live=True)
    assert read.environment == "dev"
    assert uuid.UUID(str(read.lineage)).version == 4


def test_the_stored_document_is_the_state_json(backend: PostgresStateBackend, pg_url: str) -> None:
    written = _commit(backend, "churn")

    [(document, serial, lineage)] = sql(
        pg_url, "SELECT document, serial, lineage FROM deployctl_states WHERE environment = 'dev'"
    )
    assert document == written.to_json()
    assert (serial, lineage) == (1, written.lineage)


def test_every_commit_bumps_the_serial_and_keeps_the_lineage(
    backend: PostgresStateBackend,
) -> None:
    first = _commit(backend, "churn")
    second = _commit(backend, "fraud")
    with backend.lock(operation="state rm") as session:
        third = session.replace(session.document.without("local/churn"))

    assert [first.serial, second.serial, third.serial] == [1, 2, 3]
    assert first.lineage == second.lineage == third.lineage == backend.read().lineage


def test_a_session_without_changes_writes_nothing(backend: PostgresStateBackend) -> None:
    _commit(backend, "churn")
    with backend.lock(operation="apply") as session:
        assert session.commit().serial == 1
        session.forget("local/not-there")

    assert backend.read().serial == 1
    assert [entry.serial for entry in backend.history()] == [1]


def test_environments_are_separate_states(pg_url: str) -> None:
    dev = PostgresStateBackend(pg_url, "dev")
    prod = PostgresStateBackend(pg_url, "prod")
    _commit(dev, "churn")
    # Each environment has its own lock: holding one does not block the other.
    with prod.lock(operation="apply") as session, dev.lock(operation="apply"):
        session.record(make_record("fraud"))

    assert sorted(dev.read().records) == ["local/churn"]
    assert sorted(prod.read().records) == ["local/fraud"]
    assert prod.read().environment == "prod"


def test_a_schema_in_the_url_keeps_the_tables_there(pg_url: str) -> None:
    team_a = PostgresStateBackend(f"{pg_url}?schema=team_a", "dev")
    public = PostgresStateBackend(pg_url, "dev")
    with team_a.lock(operation="apply") as session, public.lock(operation="apply"):
        session.record(make_record("churn"))  # another schema: another lock

    assert sorted(team_a.read().records) == ["local/churn"]
    assert public.read().records == {}
    assert sql(pg_url, "SELECT count(*) FROM team_a.deployctl_states") == [(1,)]


def test_many_threads_record_through_one_session(backend: PostgresStateBackend) -> None:
    with backend.lock(operation="apply") as session:

        def work(worker: int) -> None:
            for index in range(10):
                session.record(make_record(f"m{worker}-{index}"))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert len(backend.read().records) == 40


# -- journal -------------------------------------------------------------------------------


def test_each_record_is_one_journal_row_and_leaves_the_document_alone(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    _commit(backend, "churn")
    with backend.lock(operation="apply") as session:
        session.record(make_record("fraud"))
        session.forget("local/churn")

        rows = sql(
            pg_url,
            "SELECT base_serial, op, address FROM deployctl_journal WHERE environment = 'dev' "
            "ORDER BY seq",
        )
        assert rows == [(1, "record", "local/fraud"), (1, "forget", "local/churn")]
        assert sql(pg_url, "SELECT serial FROM deployctl_states") == [(1,)]

    assert sql(pg_url, "SELECT count(*) FROM deployctl_journal") == [(0,)]


def test_an_abandoned_sessions_journal_is_read_and_folded_by_the_next_commit(
    backend: PostgresStateBackend, pg_url: str, warnings_seen: list[str]
) -> None:
    _commit(backend, "churn")
    crashed = backend.lock(operation="apply")
    crashed.record(make_record("fraud"))
    crashed.forget("local/churn")
    drop_deployctl_connections(pg_url)  # the run dies without committing

    read = backend.read()
    assert sorted(read.records) == ["local/fraud"]
    assert read.serial == 2  # what the fold will write: a plan made now stays valid

    with backend.lock(operation="apply") as session:
        assert session.document == read
        session.record(make_record("more"))
    assert warnings_seen and "took over the state lock of apply" in warnings_seen[0]
    folded = backend.read()
    assert (folded.serial, sorted(folded.records)) == (2, ["local/fraud", "local/more"])
    assert sql(pg_url, "SELECT count(*) FROM deployctl_journal") == [(0,)]
    assert backend.history()[-1].summary == "+2 ~0 -1"


def test_a_crashed_first_run_is_folded_with_its_own_lineage(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    crashed = backend.lock(operation="apply")
    crashed.record(make_record("churn"))
    lineage = crashed.document.lineage
    drop_deployctl_connections(pg_url)

    assert (backend.read().serial, backend.read().lineage) == (1, lineage)
    with backend.lock(operation="apply"):
        pass  # leaving the session commits the crashed run's results

    assert sql(pg_url, "SELECT serial, lineage FROM deployctl_states") == [(1, lineage)]


def test_stale_journal_rows_are_ignored_and_deleted_at_the_next_commit(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    written = _commit(backend, "churn")
    sql(
        pg_url,
        "INSERT INTO deployctl_journal (environment, lineage, base_serial, op, address) "
        "VALUES ('dev', %s, 0, 'forget', 'local/churn')",
        (written.lineage,),
    )

    assert backend.read() == written
    _commit(backend, "fraud")
    assert sql(pg_url, "SELECT count(*) FROM deployctl_journal") == [(0,)]


def test_journal_rows_beyond_the_stored_serial_are_an_error(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    written = _commit(backend, "churn")
    sql(
        pg_url,
        "INSERT INTO deployctl_journal (environment, lineage, base_serial, op, address) "
        "VALUES ('dev', %s, 5, 'forget', 'local/churn')",
        (written.lineage,),
    )

    with pytest.raises(StateError, match="extends state serial 5, but there is serial 1"):
        backend.read()


# -- compare-and-swap ----------------------------------------------------------------------


def test_a_commit_from_a_stale_serial_is_rejected_and_changes_nothing(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    _commit(backend, "churn")
    with backend.lock(operation="apply") as session:
        session.record(make_record("fraud"))
        # A writer that ignored the lock (an old tool, a hand edit) commits serial 2.
        sql(
            pg_url,
            "UPDATE deployctl_states SET serial = 2, "
            "document = (document::jsonb || '{\"serial\": 2}')::json",
        )
        with pytest.raises(StaleStateError, match="it is now serial 2") as caught:
            session.commit()
    assert "deployctl plan" in str(caught.value)

    after = backend.read()
    assert (after.serial, sorted(after.records)) == (2, ["local/churn"])
    assert [entry.serial for entry in backend.history()] == [1]


def test_a_first_commit_loses_to_a_state_created_meanwhile(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    import psycopg

    other = PostgresStateBackend(f"{pg_url}?schema=elsewhere", "dev")
    theirs = _commit(other, "theirs")
    with backend.lock(operation="apply") as session, psycopg.connect(pg_url) as racer:
        session.record(make_record("mine"))
        # Another writer's INSERT of the same environment, committed while ours waits on it.
        racer.execute(
            b"INSERT INTO deployctl_states (environment, lineage, serial, document) "
            b"SELECT environment, lineage, serial, document FROM elsewhere.deployctl_states"
        )
        threading.Timer(0.2, racer.commit).start()
        with pytest.raises(StaleStateError, match="another run created it first"):
            session.commit()

    assert backend.read() == theirs


def test_a_run_that_lost_its_connection_cannot_commit_over_a_newer_state(
    backend: PostgresStateBackend, pg_url: str, warnings_seen: list[str]
) -> None:
    _commit(backend, "churn")
    first = backend.lock(operation="apply")
    first.record(make_record("fraud"))
    drop_deployctl_connections(pg_url)  # its lock is gone with its connection

    second = PostgresStateBackend(pg_url, "dev")
    with second.lock(operation="apply") as session:
        session.record(make_record("other"))

    with pytest.raises(StaleStateError, match="lost the lock"):
        first.commit()
    first.close()
    final = backend.read()
    # The second run folded what the first had journaled before it lost the lock.
    assert (final.serial, sorted(final.records)) == (
        2,
        ["local/churn", "local/fraud", "local/other"],
    )


def test_a_session_whose_connection_dropped_goes_on_when_nobody_took_the_lock(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    with backend.lock(operation="apply") as session:
        session.record(make_record("churn"))
        drop_deployctl_connections(pg_url)
        session.record(make_record("fraud"))  # reconnects and takes its lock back

        assert backend.lock_info() == session.lock_info

    assert sorted(backend.read().records) == ["local/churn", "local/fraud"]
    assert backend.lock_info() is None


def test_a_state_that_cannot_be_read_is_refused_and_the_lock_released(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    _commit(backend, "churn")
    sql(pg_url, """UPDATE deployctl_states SET document = '{"format_version": 1}'""")

    with pytest.raises(StateError, match="lacks a string 'lineage'"):
        backend.lock(operation="apply")
    assert backend.lock_info() is None
    assert sql(pg_url, "SELECT count(*) FROM deployctl_locks") == [(0,)]


def test_values_come_back_exactly_as_written(backend: PostgresStateBackend) -> None:
    # jsonb would turn 1e20 into an integer (a change on every plan) and refuse "\x00".
    config = {"text": "a\x00b", "big": 1e20, "one": 1.0, "tiny": 5e-324, "int": 10**18}
    record = make_record("churn")
    record = dc_replace(record, applied=dc_replace(record.applied, config=config))
    with backend.lock(operation="apply") as session:
        session.record(record)
        assert session.document.records["local/churn"].applied.config == config
    stored = backend.read().records["local/churn"].applied.config
    assert stored == config
    assert {k: type(v) for k, v in stored.items()} == {k: type(v) for k, v in config.items()}
    assert backend.read_version(1).records["local/churn"].applied.config == config


# -- history -------------------------------------------------------------------------------


def test_history_lists_every_version_with_its_summary(backend: PostgresStateBackend) -> None:
    _commit(backend, "churn", "fraud")
    _commit(backend, "churn", version=2)
    with backend.lock(operation="destroy") as session:
        session.forget("local/fraud")

    history = backend.history()
    assert [(e.serial, e.command, e.summary) for e in history] == [
        (1, "apply", "+2 ~0 -0"),
        (2, "apply", "+0 ~1 -0"),
        (3, "destroy", "+0 ~0 -1"),
    ]
    assert all(e.who and e.host and e.created.endswith("Z") for e in history)
    assert history[0].created <= history[1].created <= history[2].created


def test_read_version_returns_old_documents(backend: PostgresStateBackend) -> None:
    first = _commit(backend, "churn")
    second = _commit(backend, "churn", version=2)

    assert backend.read_version(1) == first
    assert backend.read_version(2) == second == backend.read()


def test_read_version_of_a_serial_not_kept_names_the_backend(
    backend: PostgresStateBackend,
) -> None:
    _commit(backend, "churn")

    with pytest.raises(StateError, match=r"serial 7 is not kept in postgresql://"):
        backend.read_version(7)


# -- locking -------------------------------------------------------------------------------


def test_the_lock_row_says_who_holds_it(backend: PostgresStateBackend) -> None:
    with backend.lock(operation="apply") as session:
        info = backend.lock_info()
        assert info == session.lock_info
        assert info is not None
        assert (info.operation, info.path) == ("apply", backend.describe())

    assert backend.lock_info() is None


def test_a_second_backend_waits_up_to_the_timeout_then_names_the_holder(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    other = PostgresStateBackend(pg_url, "dev")
    with backend.lock(operation="apply") as session:
        started = time.monotonic()
        with pytest.raises(LockError) as caught:
            other.lock(operation="plan", timeout=0.3)
        waited = time.monotonic() - started

    assert 0.3 <= waited < 2
    message = str(caught.value)
    assert "timed out after 0.3s" in message
    assert session.lock_info.describe() in message


def test_a_waiter_gets_the_lock_when_the_holder_releases(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    other = PostgresStateBackend(pg_url, "dev")
    session = backend.lock(operation="apply")
    threading.Timer(0.2, session.close).start()

    with other.lock(operation="apply", timeout=5) as second:
        assert second.lock_info.operation == "apply"


def test_a_leftover_holder_row_is_not_a_lock_and_is_replaced_with_a_warning(
    backend: PostgresStateBackend, pg_url: str, warnings_seen: list[str]
) -> None:
    _commit(backend, "churn")
    sql(
        pg_url,
        "INSERT INTO deployctl_locks (environment, id, operation, who, host, pid, created) "
        "VALUES ('dev', 'old-id', 'apply', 'runner', 'ci-7', 123, now())",
    )

    assert backend.lock_info() is None
    with backend.lock(operation="apply"):
        pass
    assert warnings_seen == [
        f"took over the state lock of apply (pid 123 on host ci-7, user runner) on "
        f"{backend.describe()}: its database connection is gone, and the lock with it"
    ]


def test_force_unlock_refuses_while_the_holder_is_connected(
    backend: PostgresStateBackend,
) -> None:
    with backend.lock(operation="apply") as session:
        with pytest.raises(LockError, match="still connected") as caught:
            backend.force_unlock()
        assert "pg_terminate_backend" in str(caught.value)
        with pytest.raises(LockError, match="not locked with id nope"):
            backend.force_unlock("nope")
        assert backend.lock_info() == session.lock_info


def test_force_unlock_removes_a_leftover_row(backend: PostgresStateBackend, pg_url: str) -> None:
    _commit(backend, "churn")
    sql(
        pg_url,
        "INSERT INTO deployctl_locks (environment, id, operation, who, host, pid, created) "
        "VALUES ('dev', 'old-id', 'apply', 'runner', 'ci-7', 123, now())",
    )

    with pytest.raises(LockError, match="not locked with id other"):
        backend.force_unlock("other")
    removed = backend.force_unlock("old-id")
    assert removed is not None and (removed.id, removed.pid) == ("old-id", 123)
    assert backend.force_unlock() is None
    assert sql(pg_url, "SELECT count(*) FROM deployctl_locks") == [(0,)]


# -- schema and migrations -----------------------------------------------------------------


def test_first_use_creates_the_tables_at_the_current_version(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    with backend.lock(operation="apply"):
        pass

    versions = sql(pg_url, "SELECT version FROM deployctl_schema_version ORDER BY version")
    assert versions == [(m.version,) for m in MIGRATIONS]
    assert versions[-1] == (SCHEMA_VERSION,)


def test_first_runs_racing_on_an_empty_database_both_succeed(pg_url: str) -> None:
    errors: list[BaseException] = []

    def first_run(environment: str) -> None:
        try:
            _commit(PostgresStateBackend(pg_url, environment), "churn")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_run, args=(f"env{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sql(pg_url, "SELECT count(*) FROM deployctl_states") == [(4,)]


def test_a_newer_schema_version_asks_for_an_upgrade(
    backend: PostgresStateBackend, pg_url: str
) -> None:
    _commit(backend, "churn")
    sql(pg_url, "INSERT INTO deployctl_schema_version (version, description) VALUES (99, 'x')")
    fresh = PostgresStateBackend(pg_url, "dev")

    for attempt in (fresh.read, lambda: fresh.lock(operation="apply")):
        with pytest.raises(StateError, match="schema version 99, newer than") as caught:
            attempt()
        assert "upgrade deployctl" in str(caught.value)


def test_migrations_apply_in_order_and_a_failing_step_changes_nothing(pg_url: str) -> None:
    import psycopg

    layout = Layout("public")
    extra = Migration(
        SCHEMA_VERSION + 1,
        "a note per state",
        ("ALTER TABLE {schema}.deployctl_states ADD note text",),
    )
    broken = Migration(
        SCHEMA_VERSION + 2, "broken", ("ALTER TABLE {schema}.deployctl_states ADD note text",)
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert current_version(conn, layout) is None
        assert migrate(conn, layout, source="db", migrations=MIGRATIONS) == SCHEMA_VERSION
        assert (
            migrate(conn, layout, source="db", migrations=(*MIGRATIONS, extra))
            == SCHEMA_VERSION + 1
        )
        with pytest.raises(psycopg.errors.DuplicateColumn):
            migrate(conn, layout, source="db", migrations=(*MIGRATIONS, extra, broken))
        assert current_version(conn, layout) == SCHEMA_VERSION + 1
        with pytest.raises(StateError, match="upgrade deployctl"):
            migrate(conn, layout, source="db", migrations=MIGRATIONS)
