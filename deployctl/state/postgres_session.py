"""A locked write session on a PostgreSQL state: journal rows per action, one compare-and-swap.

The session owns the connection that holds the state's advisory lock, and does all its writes
on it: each ``record``/``forget``/``intend``/``resolve`` is one journal row in its own
transaction (durable when it returns, O(1); an intend row keeps the intent in its ``record``
column); ``commit`` and ``replace`` are one transaction each that checks the stored
lineage and serial against the session's base under ``SELECT … FOR UPDATE`` before writing
serial + 1, a history row, and deleting the folded journal rows.

When the connection drops, the server frees the lock with it. The next call reconnects and
takes the lock back; it goes on only if the holder row is still this session's (nobody took the
lock in between), and otherwise stops writing with ``LockError`` (or ``StaleStateError`` when
the other run committed meanwhile). A write whose reply was lost and that did go through is
recognised on retry by the session's lock id in the state row, so it is not reported as stale.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from deployctl.errors import StaleStateError, StateError
from deployctl.model.state import StateDocument
from deployctl.state.history import HistoryEntry, change_summary
from deployctl.state.journal import JournalEntry
from deployctl.state.lock_holder import lost_lock_error
from deployctl.state.migrate import versions_to_import
from deployctl.state.postgres_connection import ATTEMPTS, BACKOFF, require_psycopg
from deployctl.state.protocol import LockInfo
from deployctl.state.session_core import JournaledSession, JournaledView, fold

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    from deployctl.state.postgres import PostgresStateBackend

    Conn = psycopg.Connection[TupleRow]

T = TypeVar("T")

_REPLAN = "another run wrote the state meanwhile: run 'deployctl plan' again and apply the new plan"


# A deployctl_history row without its environment: serial, lineage, created, who, host, command,
# summary and the document's JSON.
HistoryRow = tuple[int, str | None, datetime, str, str, str, str, str]


def _dumps(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _history_row(entry: HistoryEntry, document: StateDocument, where: str) -> HistoryRow:
    """An imported version as a history row, its entry unchanged (``created`` as a time)."""
    try:
        created = datetime.fromisoformat(entry.created)
    except ValueError:
        raise StateError(
            f"cannot import serial {entry.serial} into {where}: its history entry's time "
            f"{entry.created!r} is not an ISO 8601 time; nothing was written",
            hint="fix 'created' in that version's history entry in the source state",
        ) from None
    try:
        payload = _dumps(document.to_json())
    except (TypeError, ValueError) as exc:
        raise StateError(
            f"the state serial {entry.serial} cannot be written as JSON: {exc}"
        ) from exc
    return (
        document.serial,
        document.lineage,
        created if created.tzinfo is not None else created.replace(tzinfo=UTC),
        entry.who,
        entry.host,
        entry.command,
        entry.summary,
        payload,
    )


@dataclass(frozen=True)
class LoadedState:
    """The stored state (``committed``) and the journal rows that extend it (``pending``)."""

    committed: StateDocument
    pending: tuple[JournalEntry, ...]
    lineage: str | None  # the committed one, or that of the pending rows of a new state

    def folded(self) -> StateDocument:
        """The state with the pending rows applied (serial + 1 when there are any)."""
        if not self.pending:
            return self.committed
        return fold(self.committed, self.pending, self.lineage)


class PostgresStateSession(JournaledSession):
    """A held lock on a PostgreSQL state (``StateSession``); safe to use from many threads."""

    def __init__(
        self, backend: PostgresStateBackend, conn: Conn, info: LockInfo, loaded: LoadedState
    ) -> None:
        # The base is what is stored; a crashed run's journal rows extend it, and are pending:
        # the next commit folds them too.
        environment = loaded.committed.environment or backend.environment
        current = dc_replace(loaded.folded(), environment=environment)
        super().__init__(JournaledView(loaded.committed, current, pending=len(loaded.pending)))
        self._backend = backend
        self._conn: Conn | None = conn
        self._info = info
        self._broken: str | None = None

    # -- introspection ---------------------------------------------------------------------

    @property
    def lock_info(self) -> LockInfo:
        return self._info

    # -- the connection --------------------------------------------------------------------

    def _check_usable(self) -> None:
        where = self._backend.describe()
        if self._closed:
            raise StateError(f"the session on {where} is closed")
        if self._broken is not None:
            raise StateError(
                f"the state session on {where} stopped writing: {self._broken}",
                hint="run 'deployctl plan' to see what the state knows now",
            )

    def _call(self, what: str, work: Callable[[Conn], T]) -> T:
        """``work`` on the lock's connection, reconnecting (and re-locking) on connection errors."""
        require_psycopg()
        import psycopg

        db = self._backend.db
        for attempt in range(1, ATTEMPTS + 1):
            try:
                conn = self._conn
                if conn is None or conn.closed:
                    conn = self._reconnect()
                return work(conn)
            except psycopg.OperationalError as exc:
                self._drop_connection()
                if attempt == ATTEMPTS:
                    raise db.error(what, exc, attempts=attempt) from exc
            except psycopg.Error as exc:
                raise db.error(what, exc) from exc
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _reconnect(self) -> Conn:
        """A new connection holding the lock again, if nobody else took it meanwhile."""
        backend = self._backend
        conn = backend.db.connect()
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (backend.lock_key,)).fetchone()
            holder = backend.lock_row(conn)
            if row is not None and row[0]:
                if holder is not None and holder.id == self._info.id:
                    self._conn = conn
                    return conn
                conn.execute("SELECT pg_advisory_unlock(%s)", (backend.lock_key,))
                holder = None
            stored = conn.execute(
                f"SELECT lineage, serial FROM {backend.layout.states} WHERE environment = %s",
                (backend.environment,),
            ).fetchone()
        finally:
            if self._conn is not conn:
                conn.close()
        where = backend.describe()
        self._broken = "its database connection dropped and another run took the lock"
        now = (stored[0], int(stored[1])) if stored is not None else None
        base = self._view.base
        if now != ((base.lineage, base.serial) if base.exists else None):
            raise StaleStateError(
                f"this run lost the lock on state {where} when its database connection dropped, "
                f"and another run wrote the state since (it is now "
                f"{f'serial {now[1]}' if now else 'gone'}); nothing more is written to it",
                hint=_REPLAN,
            )
        now_held = holder.describe() if holder else "nobody holds it now"
        raise lost_lock_error(
            f"state {where}", f" when its database connection dropped: {now_held}"
        )

    # -- changes ---------------------------------------------------------------------------

    def _append(self, entry: JournalEntry) -> None:
        """One journal row, in its own transaction."""
        address = entry.address
        try:
            data = entry.payload()
            payload = None if data is None else _dumps(data)
        except (TypeError, ValueError) as exc:
            raise StateError(f"cannot record {address} in state: {exc}") from exc
        backend = self._backend
        with self._mutex:
            self._check_usable()
            if not self._view.changes(entry):
                return
            values = (
                backend.environment,
                self._view.new_lineage(),
                self._view.base.serial,
                entry.op,
                address,
                payload,
            )
            self._call(
                f"record {address} in the state journal",
                lambda conn: conn.execute(
                    f"INSERT INTO {backend.layout.journal} "
                    "(environment, lineage, base_serial, op, address, record) "
                    "VALUES (%s, %s, %s, %s, %s, %s::json)",
                    values,
                ),
            )
            self._view.apply(entry)

    def commit(self) -> StateDocument:
        """Fold the journal into the document: one transaction, serial + 1, history kept."""
        with self._mutex:
            if not self._view.pending:
                return self._view.document
            self._check_usable()
            document = self._view.committed()
            self._write(document, "commit the state")
            return document

    def replace(self, document: StateDocument) -> StateDocument:
        """Write ``document`` whole, superseding pending changes (derive it from ``.document``).

        Its serial is one more than the larger of this session's serial and the document's own;
        its lineage is the current one when it has none.
        """
        with self._mutex:
            self._check_usable()
            new = self._view.replacement(document)
            self._write(new, "replace the state")
            return new

    def import_history(
        self, versions: Sequence[tuple[HistoryEntry, StateDocument]]
    ) -> StateDocument:
        """Write committed versions of another copy of this state as they were, the last one as
        the state row (``StateSession.import_history``); only those above the stored serial.

        One transaction: the history rows, then the state row (a compare-and-swap on the
        session's base, as ``commit``), then the folded journal rows deleted. Refused
        (``StateError``, nothing written) while journal rows are pending, for another lineage, or
        for one of the stored serials with other contents.
        """
        where = self._backend.describe()
        with self._mutex:
            self._check_usable()
            if self._view.pending:
                raise StateError(
                    f"cannot import versions into {where}: {self._view.pending} recorded change(s) "
                    "are not committed yet; nothing was written",
                    hint="commit them first (a crashed run's changes are committed by the next "
                    "run that takes the lock, e.g. 'deployctl apply'), then import again",
                )
            missing = versions_to_import(self._view.base, versions, where=where)
            if not missing:
                return self._view.document
            rows = [_history_row(entry, document, where) for entry, document in missing]
            document = missing[-1][1]
            self._store("import versions", document, rows[-1][-1], rows)
            return document

    def _write(self, document: StateDocument, what: str) -> None:
        try:
            payload = _dumps(document.to_json())
        except (TypeError, ValueError) as exc:
            raise StateError(f"the state cannot be written as JSON: {exc}") from exc
        base = self._view.base
        summary = change_summary(base if base.exists else None, document)
        created = datetime.now(UTC)
        info = self._info
        entry = (document.serial, document.lineage, created, info.who, info.host, info.operation)
        self._store(what, document, payload, [(*entry, summary, payload)])

    def _store(
        self, what: str, document: StateDocument, payload: str, history: Sequence[HistoryRow]
    ) -> None:
        """One transaction: the compare-and-swap writing ``document`` (``payload``) and its
        ``history`` rows (``_swap``); then ``document`` is the new base."""
        import psycopg

        def work(conn: Conn) -> None:
            try:
                with conn.transaction():
                    self._swap(conn, document, payload, history)
            except psycopg.errors.UniqueViolation as exc:
                raise self._stale("another run created it first") from exc

        self._call(what, work)
        self._wrote(document)

    def _wrote(self, document: StateDocument) -> None:
        """``document`` is stored: it is the new base."""
        self._view.rebase(document, environment=self._view.environment)

    def _swap(
        self, conn: Conn, document: StateDocument, payload: str, history: Sequence[HistoryRow]
    ) -> None:
        """The compare-and-swap, writing ``document`` (``payload``) and its ``history`` rows;
        runs inside a transaction."""
        backend, base, t = self._backend, self._view.base, self._backend.layout
        env = backend.environment
        row = conn.execute(
            f"SELECT lineage, serial, lock_id FROM {t.states} WHERE environment = %s FOR UPDATE",
            (env,),
        ).fetchone()
        if row is not None and int(row[1]) == document.serial and row[2] == self._info.id:
            return  # this very write went through before the connection dropped
        values = (document.lineage, document.serial, payload, self._info.id, env)
        if row is None:
            if base.exists:
                raise self._stale("its row was deleted")
            conn.execute(
                f"INSERT INTO {t.states} (lineage, serial, document, lock_id, environment) "
                "VALUES (%s, %s, %s::json, %s, %s)",
                values,
            )
        elif not base.exists or row[0] != base.lineage or int(row[1]) != base.serial:
            lineage = "" if row[0] == base.lineage else f" of lineage {row[0]}"
            raise self._stale(f"it is now serial {row[1]}{lineage}")
        else:
            conn.execute(
                f"UPDATE {t.states} SET lineage = %s, serial = %s, document = %s::json, "
                "lock_id = %s, updated = now() WHERE environment = %s",
                values,
            )
        # A state deleted by hand and started again reuses serials: its new history wins.
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {t.history} (environment, serial, lineage, created, who, host, "
                "command, summary, document) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::json) "
                "ON CONFLICT (environment, serial) DO UPDATE SET lineage = EXCLUDED.lineage, "
                "created = EXCLUDED.created, who = EXCLUDED.who, host = EXCLUDED.host, "
                "command = EXCLUDED.command, summary = EXCLUDED.summary, "
                "document = EXCLUDED.document",
                [(env, *row) for row in history],
            )
        conn.execute(
            f"DELETE FROM {t.journal} WHERE environment = %s AND base_serial < %s",
            (env, document.serial),
        )

    def _stale(self, now: str) -> StaleStateError:
        self._broken = f"the state changed under it ({now})"
        base = self._view.base
        started = f"serial {base.serial}" if base.exists else "no state"
        return StaleStateError(
            f"the state in {self._backend.describe()} changed since this run read it "
            f"(at {started}): {now}; nothing was written",
            hint=_REPLAN,
        )

    # -- closing ---------------------------------------------------------------------------

    def _commits_on_close(self) -> bool:
        return self._view.pending > 0 and self._broken is None

    def _release_lock(self) -> None:
        """Delete the holder row, then free the advisory lock and close the connection."""
        import psycopg

        conn, self._conn = self._conn, None
        if conn is None:
            return None  # the lock went with the connection; the next taker replaces the row
        backend = self._backend
        try:
            conn.execute(
                f"DELETE FROM {backend.layout.locks} WHERE environment = %s AND id = %s",
                (backend.environment, self._info.id),
            )
            conn.execute("SELECT pg_advisory_unlock(%s)", (backend.lock_key,))
        except psycopg.Error:
            pass  # the server frees the lock when the connection closes anyway
        finally:
            conn.close()
