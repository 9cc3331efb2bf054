"""The PostgreSQL state tables: their layout, the numbered migrations that create them, lock keys.

Every table is named ``deployctl_*`` so that they can share a schema (``public`` by default, or
the URL's ``?schema=NAME``) with other applications:

=========================  ================================================================
``deployctl_schema_version``  one row per applied migration (version, description, applied)
``deployctl_states``          one row per environment: lineage, serial, the document (json),
                              the lock id of the run that wrote it, updated
``deployctl_journal``         one row per action recorded and not yet folded: environment,
                              lineage, base_serial, seq, op (record/forget/intend/resolve),
                              address, record (the record, or an intend row's intent)
``deployctl_history``         every committed version: environment, serial, lineage, created,
                              who, host, command, summary, document
``deployctl_locks``           who holds each environment's lock (LockInfo fields); the lock
                              itself is a session-level advisory lock (see ``state_lock_key``)
=========================  ================================================================

``MIGRATIONS[i]`` is schema version ``i + 1``. ``prepare`` applies the missing ones in order, in
one transaction, under a transaction-level advisory lock (two first runs never race on ``CREATE
TABLE``), and refuses a database whose version is newer than this deployctl knows. A new version
appends one ``Migration`` here and a test in ``tests/state/test_postgres_backend.py``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployctl.errors import StateError

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

DEFAULT_SCHEMA = "public"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_schema_name(name: str) -> str:
    """``name`` if it can name a schema (letters, digits, underscores); raises ``StateError``."""
    if not _SCHEMA_NAME.match(name):
        raise StateError(
            f"{name!r} is not a usable PostgreSQL schema name for the deployctl state",
            hint="use letters, digits and underscores (at most 63), e.g. ?schema=deployctl",
        )
    return name


def advisory_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for ``parts`` in deployctl's own key namespace."""
    digest = hashlib.blake2b("\0".join(("deployctl", *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def state_lock_key(schema: str, environment: str) -> int:
    """The key of one environment's state lock (states in other schemas are other locks)."""
    return advisory_key("state-lock", schema, environment)


@dataclass(frozen=True)
class Layout:
    """The qualified table names in one schema (the schema name is checked, then quoted)."""

    schema: str

    def _table(self, name: str) -> str:
        return f'"{check_schema_name(self.schema)}".deployctl_{name}'

    @property
    def quoted_schema(self) -> str:
        return f'"{check_schema_name(self.schema)}"'

    @property
    def versions(self) -> str:
        return self._table("schema_version")

    @property
    def states(self) -> str:
        return self._table("states")

    @property
    def journal(self) -> str:
        return self._table("journal")

    @property
    def history(self) -> str:
        return self._table("history")

    @property
    def locks(self) -> str:
        return self._table("locks")


@dataclass(frozen=True)
class Migration:
    """One schema version: statements (``{schema}`` is the quoted schema) run in order."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "states, journal, history and locks",
        (
            """CREATE TABLE IF NOT EXISTS {schema}.deployctl_states (
                environment text PRIMARY KEY,
                lineage text NOT NULL,
                serial bigint NOT NULL,
                document jsonb NOT NULL,
                lock_id text,
                updated timestamptz NOT NULL DEFAULT now()
            )""",
            """CREATE TABLE IF NOT EXISTS {schema}.deployctl_journal (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                environment text NOT NULL,
                lineage text NOT NULL,
                base_serial bigint NOT NULL,
                op text NOT NULL CHECK (op IN ('record', 'forget')),
                address text NOT NULL,
                record jsonb,
                created timestamptz NOT NULL DEFAULT now()
            )""",
            """CREATE INDEX IF NOT EXISTS deployctl_journal_by_base
                ON {schema}.deployctl_journal (environment, base_serial, seq)""",
            """CREATE TABLE IF NOT EXISTS {schema}.deployctl_history (
                environment text NOT NULL,
                serial bigint NOT NULL,
                lineage text NOT NULL,
                created timestamptz NOT NULL,
                who text NOT NULL,
                host text NOT NULL,
                command text NOT NULL,
                summary text NOT NULL,
                document jsonb NOT NULL,
                PRIMARY KEY (environment, serial)
            )""",
            """CREATE TABLE IF NOT EXISTS {schema}.deployctl_locks (
                environment text PRIMARY KEY,
                id text NOT NULL,
                operation text NOT NULL,
                who text NOT NULL,
                host text NOT NULL,
                pid integer NOT NULL,
                created timestamptz NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "journal rows for intents (intend, resolve)",
        (
            """ALTER TABLE {schema}.deployctl_journal
                DROP CONSTRAINT IF EXISTS deployctl_journal_op_check""",
            """ALTER TABLE {schema}.deployctl_journal ADD CONSTRAINT deployctl_journal_op_check
                CHECK (op IN ('record', 'forget', 'intend', 'resolve'))""",
        ),
    ),
    Migration(
        3,
        "documents and records as json, not jsonb (kept exactly as written)",
        (
            # jsonb normalises numbers (1e20 comes back as an integer, which would show as a
            # change on every plan) and cannot hold \u0000: json keeps the text as written.
            """ALTER TABLE {schema}.deployctl_states
                ALTER COLUMN document TYPE json USING document::json""",
            """ALTER TABLE {schema}.deployctl_journal
                ALTER COLUMN record TYPE json USING record::json""",
            """ALTER TABLE {schema}.deployctl_history
                ALTER COLUMN document TYPE json USING document::json""",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(conn: psycopg.Connection[TupleRow], layout: Layout) -> int | None:
    """The schema version of the tables, or ``None`` when deployctl never created them."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (layout.versions,)).fetchone()
    if row is None or not row[0]:
        return None
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {layout.versions}").fetchone()
    return int(row[0]) if row is not None else 0


def refuse_newer(found: int, source: str, known: int = SCHEMA_VERSION) -> None:
    """Raise ``StateError`` when the tables are newer than this deployctl knows."""
    if found > known:
        raise StateError(
            f"{source} has deployctl table schema version {found}, newer than this deployctl "
            f"knows ({known})",
            hint="upgrade deployctl to the version the rest of your team uses",
        )


def migrate(
    conn: psycopg.Connection[TupleRow],
    layout: Layout,
    *,
    source: str,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> int:
    """Apply the missing ``migrations`` in order in one transaction; returns the version now.

    ``conn`` must be in autocommit mode. A failing step rolls every step back.
    """
    newest = migrations[-1].version if migrations else 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("migrate", layout.schema),))
        if layout.schema != DEFAULT_SCHEMA:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {layout.quoted_schema}")
        conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {layout.versions} (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied timestamptz NOT NULL DEFAULT now()
            )"""
        )
        found = current_version(conn, layout) or 0
        refuse_newer(found, source, newest)
        for migration in migrations:
            if migration.version <= found:
                continue
            for statement in migration.statements:
                conn.execute(statement.format(schema=layout.quoted_schema))
            conn.execute(
                f"INSERT INTO {layout.versions} (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
    return max(found, newest)


def prepare(
    conn: psycopg.Connection[TupleRow], layout: Layout, *, source: str, create: bool
) -> bool:
    """Make the tables current; returns whether they exist.

    With ``create`` False (reading), tables that were never created are left alone: reading a
    state nobody wrote needs no privilege to create tables.
    """
    found = current_version(conn, layout)
    if found == SCHEMA_VERSION:
        return True
    if found is not None:
        refuse_newer(found, source)
    elif not create:
        return False
    migrate(conn, layout, source=source)
    return True
