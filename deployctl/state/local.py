"""The local state backend: one JSON document per environment, e.g. ``state/dev.json``.

Next to the document live its previous version (``.backup``), the last committed versions with
who made them (``<env>.history/``), the lock (``.lock``) and, during or after a run that crashed,
the journal of changes not yet folded in (``.journal``). Every write is atomic
(``deployctl.atomic``), so no crash loses or corrupts the state, and a compare-and-swap on the
serial, so a session never overwrites what another writer committed; see ``state/README.md``
for the format and the recovery rules. The locked session is in ``local_session``, the kept
versions in ``local_history``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from deployctl import atomic
from deployctl.errors import StateError
from deployctl.model.state import STATE_FORMAT_VERSION, StateDocument, utc_now
from deployctl.model.values import indented_json, strict_loads
from deployctl.state.history import HistoryEntry, change_summary
from deployctl.state.journal import JournalContents, read_journal, remove_journal
from deployctl.state.local_history import LocalHistory
from deployctl.state.protocol import LockInfo

if TYPE_CHECKING:
    from deployctl.state.local_session import LocalStateSession
    from deployctl.state.lock import LockFile
from deployctl.state.session_core import fold

DEFAULT_KEEP_HISTORY = 50


def serialize_document(document: StateDocument) -> bytes:
    """The on-disk form: indented, sorted, newline-terminated JSON (diff-friendly)."""
    try:
        text = indented_json(document.to_json())
    except (TypeError, ValueError) as exc:
        raise StateError(f"the state cannot be written as JSON: {exc}") from exc
    return (text + "\n").encode("utf-8")


class _JournalState(Enum):
    NONE = "none"  # no journal
    STALE = "stale"  # already folded (or superseded) by the document: delete it
    EMPTY = "empty"  # a header without changes
    PENDING = "pending"  # changes the document does not have yet


class LocalStateBackend:
    """State kept in a JSON file on the local filesystem (``StateBackend``)."""

    def __init__(
        self,
        path: Path,
        environment: str | None = None,
        *,
        on_warning: Callable[[str], None] | None = None,
        keep_history: int = DEFAULT_KEEP_HISTORY,
        lease_seconds: float | None = None,
    ) -> None:
        """``environment`` is recorded in a state that does not exist yet (it is ``None`` else).

        ``on_warning`` receives one-line warnings (a lock taken over from a dead run, a lease
        that could not be renewed); ``keep_history`` is how many committed versions are kept;
        ``lease_seconds`` is how long a lock outlives its last renewal for runs on other hosts
        (default ``state.lock.DEFAULT_LEASE_SECONDS``).
        """
        if keep_history < 0:
            raise ValueError("keep_history cannot be negative")
        if lease_seconds is not None and lease_seconds <= 0:
            raise ValueError("the lease must be positive")
        self._given = path
        self.path = Path(path)
        self.environment = environment
        self.warn = on_warning or logging.getLogger(__name__).warning
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._history = LocalHistory(self.path, keep=keep_history, warn=self.warn)
        self.history_path = self._history.path
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lease_seconds = lease_seconds
        self._locks: LockFile | None = None

    @property
    def _lock_file(self) -> LockFile:
        """The lock, made on first use: a command that only reads (``plan``) takes none, and
        does not even import the lock's modules."""
        if self._locks is None:
            from deployctl.state.lock import DEFAULT_LEASE_SECONDS, LockFile

            lease = self._lease_seconds or DEFAULT_LEASE_SECONDS
            self._locks = LockFile(self.path, lease_seconds=lease, on_warning=self.warn)
        return self._locks

    @property
    def keep_history(self) -> int:
        """How many committed versions are kept."""
        return self._history.keep

    def describe(self) -> str:
        return str(self._given)

    # -- reading ---------------------------------------------------------------------------

    def _recovery_hint(self) -> str:
        if self.backup_path.exists():
            return (
                f"the previous version is in {self.backup_path}: check it, then copy it over "
                f"{self.path} to recover"
            )
        return (
            f"there is no {self.backup_path.name} to recover from; restore {self.path} from "
            "version control or your backups"
        )

    def read_document(self) -> StateDocument:
        """The document file alone, without any journal (``empty`` when there is none)."""
        source = str(self.path)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._check_not_lost()
            return StateDocument.empty(self.environment)
        except OSError as exc:
            raise StateError(f"cannot read the state file {source}: {exc.strerror}") from exc
        try:
            data = strict_loads(raw)
        except ValueError as exc:  # JSON syntax and UTF-8 errors alike
            raise StateError(
                f"the state file {source} is corrupt (not JSON: {exc})", hint=self._recovery_hint()
            ) from exc
        try:
            return StateDocument.from_json(data, source=f"the state file {source}")
        except StateError as exc:
            version = data.get("format_version") if isinstance(data, dict) else None
            if isinstance(version, int) and version > STATE_FORMAT_VERSION:
                raise  # upgrading deployctl is the fix, not the backup
            message = exc.message if source in exc.message else f"{source}: {exc.message}"
            raise StateError(message, hint=self._recovery_hint()) from exc

    def stored_version(self) -> tuple[str | None, int] | None:
        """The stored document's lineage and serial, read cheaply (without building records);
        ``None`` when that is not simple (then ``read_document`` says what is wrong)."""
        try:
            data = strict_loads(self.path.read_bytes())
        except FileNotFoundError:
            return None if self.backup_path.exists() else (None, 0)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format_version") != STATE_FORMAT_VERSION:
            return None
        lineage, serial = data.get("lineage"), data.get("serial")
        if not isinstance(lineage, str) or not isinstance(serial, int) or isinstance(serial, bool):
            return None
        return lineage, serial

    def _check_not_lost(self) -> None:
        """A missing state file that was written before is an error, never a fresh lineage."""
        if self.backup_path.exists():
            raise StateError(
                f"the state file {self.path} is missing, but its backup {self.backup_path} "
                "exists: the state was deleted or moved",
                hint=f"check {self.backup_path}, then copy it to {self.path} to recover; if the "
                f"state was removed on purpose, delete {self.backup_path} and {self.history_path} "
                "too",
            )
        if self.journal_path.exists():
            return  # a crashed run's journal says whether the state existed (see _resolve)
        kept = self._history.version_files()
        if kept:
            serial, newest = kept[-1]
            raise StateError(
                f"the state file {self.path} is missing, but its history {self.history_path} "
                f"keeps serial {serial}: the state was deleted or moved",
                hint=f'restore {self.path} from the "document" in {newest}; if the state was '
                f"removed on purpose, delete {self.history_path} too",
            )

    def _resolve(
        self, document: StateDocument, journal: JournalContents | None
    ) -> tuple[StateDocument, _JournalState]:
        """The document with the journal's changes folded in (in memory), and what it held."""
        if journal is None:
            return document, _JournalState.NONE
        where = f"the state journal {self.journal_path}"
        if document.exists and journal.lineage != document.lineage:
            raise StateError(
                f"{where} belongs to state lineage {journal.lineage}, but {self.path} is lineage "
                f"{document.lineage}",
                hint=f"if {self.path} was replaced on purpose, move the journal away; otherwise "
                "restore the state file that matches it",
            )
        if journal.base_serial < document.serial:
            return document, _JournalState.STALE
        if journal.base_serial > document.serial:
            found = f"serial {document.serial}" if document.exists else "no state file"
            raise StateError(
                f"{where} extends state serial {journal.base_serial}, but there is {found} at "
                f"{self.path}: the state file was replaced or restored after the crash",
                hint="restore the state file with that serial (see the .backup file), or move "
                "the journal away and run 'deployctl plan' to see what the state no longer knows",
            )
        if not journal.entries:
            return document, _JournalState.EMPTY
        return fold(document, journal.entries, journal.lineage), _JournalState.PENDING

    def read(self) -> StateDocument:
        """The current state, including changes a crashed run journaled (serial + 1 then)."""
        # Journal first, document second. A journal's base serial is the document serial when
        # it was started and serials only grow, so a document read afterwards is never behind
        # it: a commit in between makes the journal merely stale. The other order could pair
        # an old document with a journal started after a commit and report a bogus mismatch.
        journal = read_journal(self.journal_path)
        resolved, _ = self._resolve(self.read_document(), journal)
        return resolved

    # -- history ---------------------------------------------------------------------------

    def history(self) -> list[HistoryEntry]:
        """The kept committed versions, oldest first (the last ``keep_history`` commits)."""
        return self._history.entries()

    def read_version(self, serial: int) -> StateDocument:
        """The document as committed at ``serial``; ``StateError`` when it is not kept."""
        path = self._history.version_path(serial)
        try:
            data = self._history.load(path)
        except FileNotFoundError:
            current = self.read_document()
            if current.exists and current.serial == serial:
                return current  # committed before history was kept
            kept = [s for s, _ in self._history.version_files()]
            which = f"serials {kept[0]} to {kept[-1]} are" if kept else "no version is"
            raise StateError(
                f"state serial {serial} is not kept in {self.describe()}",
                hint=f"{which} kept in {self.history_path} (the last {self.keep_history} commits)",
            ) from None
        except OSError as exc:
            raise StateError(f"cannot read the state history file {path}: {exc}") from exc
        return StateDocument.from_json(
            data["document"], source=f"serial {serial} in the state history file {path}"
        )

    # -- writing ---------------------------------------------------------------------------

    def write_document(
        self, document: StateDocument, *, before: StateDocument, info: LockInfo, command: str
    ) -> None:
        """Commit ``document``: keep it in the history first, then atomically replace the state
        file (keeping the current one as ``.backup``), then prune the history.

        A crash after the history write leaves a kept version that was never committed; the
        next commit of that serial replaces it.
        """
        data = serialize_document(document)
        if self.keep_history > 0:
            entry = HistoryEntry(
                serial=document.serial,
                created=utc_now(),
                who=info.who,
                host=info.host,
                command=command,
                summary=change_summary(before if before.exists else None, document),
            )
            self._history.write(entry, data)
        atomic.write_atomic(self.path, data, backup=self.backup_path)
        self._history.prune()

    def write_versions(
        self, versions: Sequence[tuple[HistoryEntry, StateDocument]], *, fresh: bool
    ) -> None:
        """Write committed versions of another copy as they were: the kept versions (the last
        ``keep_history``) first, the state file last, then prune the history.

        When there is no state file (``fresh``), the first kept version is written as the state
        file before the others: a missing state file next to kept versions reads as a deleted
        state (``_check_not_lost``), so an interrupted import must leave one, of a version that
        is kept, for the next import to complete.
        """
        kept = list(versions[-self.keep_history :]) if self.keep_history > 0 else []
        if fresh and kept:
            entry, first = kept.pop(0)
            data = serialize_document(first)
            self._history.write(entry, data)
            atomic.write_atomic(self.path, data, backup=self.backup_path)
            if not kept:  # that was the last version
                self._history.prune()
                return
        for entry, document in kept:
            self._history.write(entry, serialize_document(document))
        atomic.write_atomic(self.path, serialize_document(versions[-1][1]), backup=self.backup_path)
        self._history.prune()

    # -- locking ---------------------------------------------------------------------------

    def lock(self, *, operation: str, timeout: float = 0.0) -> LocalStateSession:
        """Take the lock and fold in any journal a crashed run left; returns the session."""
        held = self._lock_file.acquire(operation=operation, timeout=timeout)
        try:
            # We hold the lock, so nobody else is writing: temporaries are a crash's leftovers.
            for leftover in [*atomic.leftover_temps(self.path), *self._history.temps()]:
                with contextlib.suppress(OSError):
                    leftover.unlink()
            self._lock_file.remove_leftovers()
            document = self._recover(held.info)
            from deployctl.state.local_session import LocalStateSession  # locked runs only

            return LocalStateSession(self, held, document)
        except BaseException:
            held.release()
            raise

    def _recover(self, info: LockInfo) -> StateDocument:
        """Fold a crashed run's journal into the document (one write), then delete it."""
        document = self.read_document()
        if not self.journal_path.exists():
            return document
        resolved, found = self._resolve(document, read_journal(self.journal_path))
        if found is _JournalState.PENDING:
            try:
                self.write_document(
                    resolved,
                    before=document,
                    info=info,
                    command=f"{info.operation} (folding in the journal of a crashed run)",
                )
            except atomic.ReplacedButNotSynced as exc:
                # The fold is in place; keeping the journal is safe (it is stale now).
                raise StateError(
                    f"folded the journal into {self.path} but could not sync its directory: {exc}"
                ) from exc
            except OSError as exc:
                raise StateError(
                    f"cannot fold the state journal into {self.path}: {exc}",
                    hint="the journal is kept; fix the problem (free space? permissions?) "
                    "and run again",
                ) from exc
        remove_journal(self.journal_path)
        return resolved

    def lock_info(self) -> LockInfo | None:
        return self._lock_file.info()

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        return self._lock_file.force_unlock(lock_id)
