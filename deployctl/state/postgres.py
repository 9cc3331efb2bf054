"""The PostgreSQL state backend: every environment's state in one database a team shares.

``PostgresStateBackend("postgresql://USER@HOST:PORT/DATABASE[?schema=NAME]", environment)``.
The tables are named ``deployctl_*`` in the ``public`` schema, or in the schema the URL names
(created when missing), and are created or migrated on first use (``postgres_schema``). The
password comes from ``PGPASSWORD``, ``~/.pgpass`` or the URL, and ``describe()`` never shows it
(``postgres_connection``). The locked write session is in ``postgres_session``. psycopg 3 is
imported on first use only (``pip install 'deployctl[postgres]'``).

How the guarantees of ``state/protocol.py`` are kept, per environment:

- **state**: one row (lineage, serial, the document as json — the same JSON text as the local file);
- **record/forget/intend/resolve**: one journal row each (``op``; an intent's JSON in the
  ``record`` column), inserted in its own transaction on the session's connection (durable
  when it returns; O(1)), tagged with ``base_serial``, the serial the
  session started from. ``read()`` folds the rows whose ``base_serial`` is the stored serial (a
  running or crashed run's results; serial + 1 then); the next session starts with a crashed
  run's rows pending and its commit folds them, even with nothing new recorded. Rows with an
  older ``base_serial`` were folded already and the next commit deletes them;
- **commit**: one transaction: ``SELECT … FOR UPDATE``, lineage and serial compared with the
  session's base (``StaleStateError`` otherwise; a new state is an ``INSERT`` that someone else
  may win), the new document with serial + 1, a history row (every version is kept), the
  folded journal rows deleted;
- **lock**: ``pg_try_advisory_lock`` on a key hashed from the schema and the environment, polled
  until ``timeout`` and held on the session's own connection for its whole life, plus a
  ``deployctl_locks`` row saying who holds it. A holder that dies (even ``kill -9``) drops its
  connection, and the server frees its lock: the next run takes it at once, overwrites the
  leftover row and warns. ``lock_info()`` reports the row only while ``pg_locks`` shows the
  advisory lock held. ``force_unlock`` never ends a live holder's connection: it refuses and
  names the server process to stop; it deletes a leftover row whose lock is free;
- **errors**: a failed connection or query is retried (3 attempts, 0.2 s then 0.4 s apart), then
  raised as one-line ``StateError`` naming ``describe()``. A session whose connection dropped
  reconnects and takes its lock back, and goes on only if nobody else took it in between.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from deployctl.errors import LockError, StateError
from deployctl.model.state import StateDocument
from deployctl.state.history import HistoryEntry
from deployctl.state.journal import JournalEntry
from deployctl.state.lock_holder import (
    HELD_BY_THIS_PROCESS,
    held_by_this_process,
    holder_summary,
    new_lock_info,
    other_id_error,
    unknown_holder,
    waiting_phrase,
)
from deployctl.state.postgres_connection import (
    ATTEMPTS,
    BACKOFF,
    Database,
    PostgresLocation,
    require_psycopg,
    timestamp,
)
from deployctl.state.postgres_schema import Layout, prepare, state_lock_key
from deployctl.state.postgres_session import LoadedState, PostgresStateSession
from deployctl.state.protocol import LockInfo

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    Conn = psycopg.Connection[TupleRow]

_POLL_FIRST = 0.05
_POLL_MAX = 0.5


class PostgresStateBackend:
    """State kept in a PostgreSQL database, one row per environment (``StateBackend``)."""

    def __init__(
        self, url: str, environment: str, *, on_warning: Callable[[str], None] | None = None
    ) -> None:
        if not environment:
            raise StateError(
                "the PostgreSQL state backend keeps one state per environment, and none was named",
                hint="name the environment in the manifest, or with -e ENVIRONMENT",
            )
        self.location = PostgresLocation.parse(url)
        self.environment = environment
        self.layout = Layout(self.location.schema)
        self.lock_key = state_lock_key(self.location.schema, environment)
        self._warn = on_warning or logging.getLogger(__name__).warning
        self._ready = False
        self.db = Database(self.location, self.describe())

    def describe(self) -> str:
        return f"{self.location.display} (environment {self.environment})"

    def prepare(self, conn: Conn, *, create: bool) -> bool:
        """Make the tables current (``create``: also when missing); returns whether they exist."""
        if not self._ready:
            self._ready = prepare(conn, self.layout, source=self.describe(), create=create)
        return self._ready

    # -- reading ---------------------------------------------------------------------------

    def load(self, conn: Conn) -> LoadedState:
        """The stored state and its pending journal rows, read in one snapshot."""
        t = self.layout
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute(
                f"SELECT lineage, serial, document FROM {t.states} WHERE environment = %s",
                (self.environment,),
            ).fetchone()
            serial = int(row[1]) if row is not None else 0
            rows = conn.execute(
                f"SELECT seq, lineage, base_serial, op, address, record FROM {t.journal} "
                "WHERE environment = %s AND base_serial >= %s ORDER BY seq",
                (self.environment, serial),
            ).fetchall()
        committed = StateDocument.empty(self.environment) if row is None else self._document(*row)
        return self._resolve(committed, rows)

    def _document(self, lineage: str, serial: int, data: Any) -> StateDocument:
        document = StateDocument.from_json(data, source=self.describe())
        if document.lineage != lineage or document.serial != serial:
            raise StateError(
                f"the state row in {self.describe()} says lineage {lineage} serial {serial}, but "
                f"its document says lineage {document.lineage} serial {document.serial}",
                hint="the row was edited by hand: make its columns match its document, or "
                "restore a version from deployctl_history",
            )
        return document

    def _resolve(self, committed: StateDocument, rows: Sequence[tuple[Any, ...]]) -> LoadedState:
        entries: list[JournalEntry] = []
        lineage = committed.lineage
        for seq, row_lineage, base_serial, op, address, record in rows:
            if base_serial > committed.serial:
                found = f"serial {committed.serial}" if committed.exists else "no state"
                raise StateError(
                    f"journal row {seq} in {self.describe()} extends state serial {base_serial}, "
                    f"but there is {found}: the state was replaced or restored after a run "
                    "crashed",
                    hint="restore the state with that serial from deployctl_history, or delete "
                    "those deployctl_journal rows and run 'deployctl plan' to see what the state "
                    "no longer knows",
                )
            if lineage is not None and row_lineage != lineage:
                raise StateError(
                    f"journal row {seq} in {self.describe()} belongs to state lineage "
                    f"{row_lineage}, not {lineage}",
                    hint="if the state was replaced on purpose, delete the journal rows of the "
                    "other lineage; otherwise restore the state they belong to",
                )
            lineage = row_lineage
            try:
                entries.append(
                    JournalEntry.from_json(
                        {"op": op, "address": address, "record": record, "intent": record}
                    )
                )
            except (ValueError, StateError) as exc:
                raise StateError(
                    f"journal row {seq} in {self.describe()} is damaged: {exc}",
                    hint="fix the row by hand, or delete it and run 'deployctl plan' to see "
                    "what the state no longer knows",
                ) from exc
        return LoadedState(committed, tuple(entries), lineage)

    def read(self) -> StateDocument:
        """The current state, including results a running or crashed run journaled."""

        def work(conn: Conn) -> StateDocument:
            if not self.prepare(conn, create=False):
                return StateDocument.empty(self.environment)
            return self.load(conn).folded()

        return self.db.run("read the state", work)

    def history(self) -> list[HistoryEntry]:
        def work(conn: Conn) -> list[HistoryEntry]:
            if not self.prepare(conn, create=False):
                return []
            rows = conn.execute(
                f"SELECT serial, created, who, host, command, summary FROM {self.layout.history} "
                "WHERE environment = %s ORDER BY serial",
                (self.environment,),
            ).fetchall()
            return [
                HistoryEntry(int(serial), timestamp(created), who, host, command, summary)
                for serial, created, who, host, command, summary in rows
            ]

        return self.db.run("read the state history", work)

    def read_version(self, serial: int) -> StateDocument:
        def work(conn: Conn) -> Any:
            if not self.prepare(conn, create=False):
                return None
            row = conn.execute(
                f"SELECT document FROM {self.layout.history} "
                "WHERE environment = %s AND serial = %s",
                (self.environment, serial),
            ).fetchone()
            return None if row is None else row[0]

        data = self.db.run(f"read state serial {serial}", work)
        if data is None:
            raise StateError(
                f"state serial {serial} is not kept in {self.describe()}",
                hint="'deployctl state history' lists the serials that are kept",
            )
        return StateDocument.from_json(data, source=f"serial {serial} of {self.describe()}")

    # -- the lock --------------------------------------------------------------------------

    def holder_pid(self, conn: Conn) -> int | None:
        """The server process holding this state's advisory lock, or ``None`` when it is free."""
        key = self.lock_key & 0xFFFF_FFFF_FFFF_FFFF
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1",
            (key >> 32, key & 0xFFFF_FFFF),
        ).fetchone()
        return None if row is None else int(row[0] or 0)

    def lock_row(self, conn: Conn, *, for_update: bool = False) -> LockInfo | None:
        row = conn.execute(
            f"SELECT id, operation, who, host, pid, created FROM {self.layout.locks} "
            "WHERE environment = %s" + (" FOR UPDATE" if for_update else ""),
            (self.environment,),
        ).fetchone()
        if row is None:
            return None
        lock_id, operation, who, host, pid, created = row
        return LockInfo(
            lock_id, operation, who, host, int(pid), timestamp(created), self.describe()
        )

    def _anonymous_holder(self, server_pid: int | None) -> LockInfo:
        """Stands for a holder that wrote no row (yet), or that ``pg_locks`` does not show."""
        process = f"PostgreSQL server process {server_pid}" if server_pid else "a connection"
        return unknown_holder(
            f"{process} holds the lock but wrote no holder row",
            created=timestamp(datetime.now(UTC)),
            path=self.describe(),
        )

    def _holder(self, conn: Conn) -> LockInfo | None:
        server_pid = self.holder_pid(conn)
        if server_pid is None:
            return None  # free: a leftover row belongs to a holder that is gone
        return self.lock_row(conn) or self._anonymous_holder(server_pid)

    def lock(self, *, operation: str, timeout: float = 0.0) -> PostgresStateSession:
        """Take the lock, polling up to ``timeout`` seconds; the session owns its connection."""
        require_psycopg()
        import psycopg

        now = datetime.now(UTC)
        info = new_lock_info(operation, self.describe(), created=timestamp(now))
        deadline = time.monotonic() + max(0.0, timeout)
        delay, failures, quick_retries = _POLL_FIRST, 0, 3
        conn: Conn | None = None
        held = False
        try:
            while True:
                try:
                    if conn is None:
                        conn = self.db.connect()
                        self.prepare(conn, create=True)
                    held, other = self._try_lock(conn, info, now)
                    if held:
                        loaded = self.load(conn)
                        break
                except psycopg.OperationalError as exc:
                    held, failures = False, failures + 1
                    if conn is not None:
                        conn.close()  # a lock taken on it is gone with it
                    conn = None
                    if failures == ATTEMPTS:
                        raise self.db.error("take the state lock", exc, attempts=failures) from exc
                    time.sleep(BACKOFF * 2 ** (failures - 1))
                    continue
                if other is None and quick_retries > 0:
                    quick_retries -= 1  # released between our attempt and the look: try again
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._held_error(other or self._anonymous_holder(None), timeout)
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, _POLL_MAX)
        except BaseException as exc:
            if conn is not None:
                if held:
                    self._unclaim(conn, info)
                conn.close()
            if isinstance(exc, psycopg.Error):
                raise self.db.error("take the state lock", exc) from exc
            raise
        if other is not None and other.id != info.id:  # a leftover row of a holder now gone
            self._warn(
                f"took over the state lock of {holder_summary(other)} on {self.describe()}: "
                "its database connection is gone, and the lock with it"
            )
        return PostgresStateSession(self, conn, info, loaded)

    def _try_lock(self, conn: Conn, info: LockInfo, now: datetime) -> tuple[bool, LockInfo | None]:
        """``(True, leftover row replaced)`` when the lock was taken, else ``(False, holder)``."""
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()
        if row is None or not row[0]:
            return False, self._holder(conn)
        with conn.transaction():
            previous = self.lock_row(conn, for_update=True)
            conn.execute(
                f"INSERT INTO {self.layout.locks} "
                "(environment, id, operation, who, host, pid, created) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (environment) DO UPDATE SET "
                "id = EXCLUDED.id, operation = EXCLUDED.operation, who = EXCLUDED.who, "
                "host = EXCLUDED.host, pid = EXCLUDED.pid, created = EXCLUDED.created",
                (self.environment, info.id, info.operation, info.who, info.host, info.pid, now),
            )
        return True, previous

    def _unclaim(self, conn: Conn, info: LockInfo) -> None:
        """Delete our holder row after a failed start (the advisory lock goes with ``conn``)."""
        import psycopg

        with contextlib.suppress(psycopg.Error):
            conn.execute(
                f"DELETE FROM {self.layout.locks} WHERE environment = %s AND id = %s",
                (self.environment, info.id),
            )

    def _held_error(self, holder: LockInfo, timeout: float) -> LockError:
        message = f"{waiting_phrase(timeout)} the lock on state {self.describe()}: "
        message += holder.describe()
        if held_by_this_process(holder):
            message += HELD_BY_THIS_PROCESS
        return LockError(
            message,
            hint="wait for that run to finish, or retry with '--lock-timeout 5m' to wait for it; "
            "a run that was killed frees its lock by itself as soon as its database connection "
            "closes",
        )

    def lock_info(self) -> LockInfo | None:
        def work(conn: Conn) -> LockInfo | None:
            return self._holder(conn) if self.prepare(conn, create=False) else None

        return self.db.run("read the state lock", work)

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        """Delete a leftover holder row; refuses while the holder's connection is alive.

        Ending another run's connection could cut it off in the middle of recording a result,
        so that is left to a person who has checked that run (``pg_terminate_backend``).
        """

        def work(conn: Conn) -> LockInfo | None:
            if not self.prepare(conn, create=False):
                return None
            with conn.transaction():
                row = self.lock_row(conn, for_update=True)
                server_pid = self.holder_pid(conn)
                current = row
                if current is None and server_pid is not None:
                    current = self._anonymous_holder(server_pid)
                if current is None:
                    return None
                if lock_id is not None and current.id != lock_id:
                    raise other_id_error(self.describe(), lock_id, current.describe())
                if server_pid is not None:
                    raise LockError(
                        f"state {self.describe()} is {current.describe()}, and that run is still "
                        f"connected (PostgreSQL server process {server_pid}), so its lock is not "
                        "removed",
                        hint="stop that run: its lock is released when it exits or its "
                        "connection closes; if it hangs, end the connection with "
                        f"SELECT pg_terminate_backend({server_pid})",
                    )
                conn.execute(
                    f"DELETE FROM {self.layout.locks} WHERE environment = %s AND id = %s",
                    (self.environment, current.id),
                )
                return current

        return self.db.run("remove the state lock", work)
