"""The local state backend: one JSON document per environment, e.g. ``state/dev.json``.

Next to the document live its previous version (``.backup``), the last committed versions with
who made them (``.history/``), the lock (``.lock``) and, during or after a run that crashed, the
journal of changes not yet folded in (``.journal``). Every write is atomic (``deployctl.atomic``),
so no crash loses or corrupts the state, and a compare-and-swap on the serial, so a session never
overwrites what another writer committed; see ``state/README.md`` for the format and the
recovery rules.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace as dc_replace
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any

from deployctl import atomic
from deployctl.errors import LockError, StaleStateError, StateError
from deployctl.model.intent import Intent
from deployctl.model.state import STATE_FORMAT_VERSION, StateDocument, StateRecord, utc_now
from deployctl.model.values import strict_loads
from deployctl.state.history import HistoryEntry, change_summary
from deployctl.state.journal import (
    JournalContents,
    JournalEntry,
    JournalWriter,
    read_journal,
    remove_journal,
)
from deployctl.state.lock import DEFAULT_LEASE_SECONDS, HeldLock, LockFile
from deployctl.state.migrate import versions_to_import
from deployctl.state.protocol import LockInfo

DEFAULT_KEEP_HISTORY = 50

# A kept version is ``<state>.history/<serial, zero-padded>.json``; its entry comes first, so that
# listing the history reads a few bytes per version instead of whole documents.
_VERSION_NAME = re.compile(r"^(\d+)\.json$")
_VERSION_TEMP = re.compile(r"^\.\d+\.json\.[0-9a-f]{32}\.tmp$")
_VERSION_HEAD = b'{\n  "entry": '
_ENTRY_PEEK = 16384


def serialize_document(document: StateDocument) -> bytes:
    """The on-disk form: indented, sorted, newline-terminated JSON (diff-friendly)."""
    try:
        text = json.dumps(document.to_json(), indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StateError(f"the state cannot be written as JSON: {exc}") from exc
    return (text + "\n").encode("utf-8")


def version_file_bytes(entry: HistoryEntry, document: bytes) -> bytes:
    """A kept version: ``{"entry": <HistoryEntry>, "document": <the state file's JSON>}``."""
    head = json.dumps(entry.to_json(), sort_keys=True).encode("ascii")
    return _VERSION_HEAD + head + b',\n  "document": ' + document.rstrip(b"\n") + b"\n}\n"


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
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        """``environment`` is recorded in a state that does not exist yet (it is ``None`` else).

        ``on_warning`` receives one-line warnings (a lock taken over from a dead run, a lease
        that could not be renewed); ``keep_history`` is how many committed versions are kept;
        ``lease_seconds`` is how long a lock outlives its last renewal for runs on other hosts.
        """
        if keep_history < 0:
            raise ValueError("keep_history cannot be negative")
        self._given = path
        self.path = Path(path)
        self.environment = environment
        self.keep_history = keep_history
        self.warn = on_warning or logging.getLogger(__name__).warning
        self.backup_path = self.path.with_name(self.path.name + ".backup")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.history_path = self.path.with_name(self.path.name + ".history")
        self._lock_file = LockFile(self.path, lease_seconds=lease_seconds, on_warning=self.warn)
        self.lock_path = self._lock_file.path

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

    def _stored_version(self) -> tuple[str | None, int] | None:
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
        kept = self._version_files()
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
        records = dict(document.records)
        intents = dict(document.intents)
        for entry in journal.entries:
            entry.apply(records, intents)
        folded = StateDocument(
            lineage=journal.lineage,
            serial=document.serial + 1,
            environment=document.environment,
            records=records,
            intents=intents,
        )
        return folded, _JournalState.PENDING

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

    def _version_path(self, serial: int) -> Path:
        return self.history_path / f"{serial:08d}.json"

    def _version_files(self) -> list[tuple[int, Path]]:
        """The kept versions as (serial, file), oldest first."""
        try:
            names = os.listdir(self.history_path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(
                f"cannot list the state history {self.history_path}: {exc.strerror}"
            ) from exc
        matches = (_VERSION_NAME.match(name) for name in names)
        return sorted((int(m.group(1)), self.history_path / m.group(0)) for m in matches if m)

    def _load_version(self, path: Path) -> dict[str, Any]:
        """A kept version's JSON; raises ``FileNotFoundError`` when it is gone."""
        raw = path.read_bytes()
        try:
            data = strict_loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("entry"), dict):
                raise ValueError("not an object with an 'entry' object")
            if "document" not in data:
                raise ValueError("no 'document'")
        except ValueError as exc:
            raise self._damaged_version(path, exc) from exc
        return data

    def _damaged_version(self, path: Path, exc: Exception) -> StateError:
        return StateError(
            f"the state history file {path} is damaged: {exc}",
            hint="delete it (the state and the other kept versions do not depend on it)",
        )

    def _read_entry(self, path: Path) -> HistoryEntry:
        with open(path, "rb") as handle:
            head = handle.read(_ENTRY_PEEK)
        if head.startswith(_VERSION_HEAD):
            with contextlib.suppress(ValueError):
                text = head[len(_VERSION_HEAD) :].decode("utf-8", "replace")
                value, _ = json.JSONDecoder().raw_decode(text)
                if isinstance(value, dict):
                    return HistoryEntry.from_json(value)
        data = self._load_version(path)  # written another way (by hand?): parse it all
        try:
            return HistoryEntry.from_json(data["entry"])
        except ValueError as exc:
            raise self._damaged_version(path, exc) from exc

    def history(self) -> list[HistoryEntry]:
        """The kept committed versions, oldest first (the last ``keep_history`` commits)."""
        entries: list[HistoryEntry] = []
        for _, path in self._version_files():
            try:
                entries.append(self._read_entry(path))
            except FileNotFoundError:
                continue  # pruned by a commit meanwhile
            except OSError as exc:
                raise StateError(f"cannot read the state history file {path}: {exc}") from exc
        return entries

    def read_version(self, serial: int) -> StateDocument:
        """The document as committed at ``serial``; ``StateError`` when it is not kept."""
        path = self._version_path(serial)
        try:
            data = self._load_version(path)
        except FileNotFoundError:
            current = self.read_document()
            if current.exists and current.serial == serial:
                return current  # committed before history was kept
            kept = [s for s, _ in self._version_files()]
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

    def _write_version(self, entry: HistoryEntry, document: bytes) -> None:
        """Keep a version (atomically, durably, private when the state file is)."""
        target = self._version_path(entry.serial)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = atomic.temp_path(target)
        try:
            atomic.write_new_file(
                staged, version_file_bytes(entry, document), mode=atomic.existing_mode(self.path)
            )
            os.replace(staged, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise
        atomic.fsync_dir(target.parent)

    def _prune_history(self) -> None:
        """Keep only the last ``keep_history`` versions (a failure only warns)."""
        try:
            kept = self._version_files()
            for _, path in kept[: max(0, len(kept) - self.keep_history)]:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        except (OSError, StateError) as exc:
            self.warn(f"could not remove old versions from the state history: {exc}")

    # -- writing ---------------------------------------------------------------------------

    def _write(
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
            self._write_version(entry, data)
        atomic.write_atomic(self.path, data, backup=self.backup_path)
        self._prune_history()

    def _import(
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
            self._write_version(entry, data)
            atomic.write_atomic(self.path, data, backup=self.backup_path)
            if not kept:  # that was the last version
                self._prune_history()
                return
        for entry, document in kept:
            self._write_version(entry, serialize_document(document))
        atomic.write_atomic(self.path, serialize_document(versions[-1][1]), backup=self.backup_path)
        self._prune_history()

    # -- locking ---------------------------------------------------------------------------

    def lock(self, *, operation: str, timeout: float = 0.0) -> LocalStateSession:
        """Take the lock and fold in any journal a crashed run left; returns the session."""
        held = self._lock_file.acquire(operation=operation, timeout=timeout)
        try:
            # We hold the lock, so nobody else is writing: temporaries are a crash's leftovers.
            for leftover in [*atomic.leftover_temps(self.path), *self._history_temps()]:
                with contextlib.suppress(OSError):
                    leftover.unlink()
            self._lock_file.remove_leftovers()
            document = self._recover(held.info)
            return LocalStateSession(self, held, document)
        except BaseException:
            held.release()
            raise

    def _history_temps(self) -> list[Path]:
        try:
            names = os.listdir(self.history_path)
        except OSError:
            return []
        return [self.history_path / name for name in names if _VERSION_TEMP.match(name)]

    def _recover(self, info: LockInfo) -> StateDocument:
        """Fold a crashed run's journal into the document (one write), then delete it."""
        document = self.read_document()
        if not self.journal_path.exists():
            return document
        resolved, found = self._resolve(document, read_journal(self.journal_path))
        if found is _JournalState.PENDING:
            try:
                self._write(
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


class LocalStateSession:
    """A held lock on a local state (``StateSession``); safe to use from many threads.

    Changes are journaled and kept in an in-memory dict, so ``record``/``forget`` cost O(1);
    ``commit`` writes the document once, as a compare-and-swap: only while the stored document
    is still the one this session started from. Leaving the ``with`` block commits, then unlocks.
    """

    def __init__(self, backend: LocalStateBackend, held: HeldLock, document: StateDocument) -> None:
        self._backend = backend
        self._held = held
        self._mutex = threading.RLock()
        self._base = document  # what is on disk
        self._records: dict[str, StateRecord] = dict(document.records)
        self._intents: dict[str, Intent] = dict(document.intents)
        self._lineage = document.lineage
        self._environment = document.environment
        self._pending = 0
        self._journal: JournalWriter | None = None
        self._snapshot: StateDocument | None = document
        self._broken: tuple[str, str] | None = None  # why the session stopped writing, and hint
        self._closed = False

    # -- introspection ---------------------------------------------------------------------

    @property
    def lock_info(self) -> LockInfo:
        return self._held.info

    @property
    def pending(self) -> int:
        """How many recorded changes are journaled but not yet folded into the document."""
        with self._mutex:
            return self._pending

    @property
    def document(self) -> StateDocument:
        """The state including this session's changes; serial is what ``commit`` will write.

        A snapshot: the first access after a change copies the record dict (about 40 µs for
        10,000 records), later accesses return the same object.
        """
        with self._mutex:
            if self._snapshot is None:
                self._snapshot = StateDocument(
                    lineage=self._lineage,
                    serial=self._base.serial + (1 if self._pending else 0),
                    environment=self._environment,
                    records=dict(self._records),
                    intents=dict(self._intents),
                )
            return self._snapshot

    # -- guards ----------------------------------------------------------------------------

    def _check_usable(self, *, lock: bool = True) -> None:
        if self._closed:
            raise StateError(f"the session on {self._backend.path} is closed")
        if self._broken is not None:
            reason, hint = self._broken
            raise StateError(
                f"the state session on {self._backend.path} stopped writing: {reason}", hint=hint
            )
        if lock:
            self._check_lock()

    def _check_lock(self) -> None:
        if not self._held.still_held():
            holder = self._backend.lock_info()
            now = holder.describe() if holder else "nobody holds it now"
            raise LockError(
                f"this run lost the lock on state {self._backend.path} (force-unlocked, or taken "
                f"over after its lease expired?): {now}; nothing more is written to the state",
                hint="let the other run finish, then run 'deployctl plan' to reconcile the "
                "state with what the targets report",
            )

    def _check_not_stale(self, what: str) -> None:
        """The compare-and-swap: refuse to write unless the stored document is our base.

        The lock keeps other deployctl runs out; this catches what got past it (a force-unlock
        followed by another run's commit, a state file replaced by hand).
        """
        base = self._base
        if self._backend._stored_version() == (base.lineage, base.serial):
            return
        stored = self._backend.read_document()
        if stored.lineage == base.lineage and stored.serial == base.serial:
            return
        path = self._backend.path
        now = f"serial {stored.serial}" if stored.exists else "no state file"
        if stored.exists and stored.lineage != base.lineage:
            now += f" of another lineage ({stored.lineage})"
        started = f"serial {base.serial}" if base.exists else "no state"
        kept = self._set_journal_aside()
        where = (
            f"; what this run recorded is kept in {kept} (it was done on the targets)"
            if kept is not None
            else ""
        )
        self._broken = (
            "another writer changed the state",
            "run 'deployctl plan' again to see the state as it is now" + where,
        )
        raise StaleStateError(
            f"{what} of {path} refused: the state changed while this run held its lock (it is "
            f"now {now}, this run started from {started}): someone force-unlocked it and wrote "
            "it, or replaced the file; nothing was written",
            hint=f"run 'deployctl plan' again to see the state as it is now{where}",
        )

    def _set_journal_aside(self) -> Path | None:
        """Move this session's journal away from the next run, which would discard it as stale
        (or refuse it): it holds results of actions that were done."""
        journal = self._journal
        path = self._backend.journal_path
        if journal is None or not self._held.still_held() or not journal.is_at(path):
            return None  # without the lock, the file at that path may be another run's
        aside = path.with_name(f"{path.name}.rejected-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, aside)
        except OSError:
            return None
        return aside

    def _new_lineage(self) -> str:
        if self._lineage is None:
            self._lineage = str(uuid.uuid4())
        return self._lineage

    # -- changes ---------------------------------------------------------------------------

    def record(self, record: StateRecord) -> None:
        """Durably record ``record`` (one journal line and at most one fsync)."""
        self._append(JournalEntry(address=record.address, record=record))

    def forget(self, address: str) -> None:
        """Durably remove ``address``; a no-op when the state does not hold it."""
        self._append(JournalEntry(address=address, record=None))

    def intend(self, intent: Intent) -> None:
        """Durably open an intent for ``intent.address`` (one journal line, as ``record``)."""
        self._append(JournalEntry.intend(intent))

    def resolve(self, address: str) -> None:
        """Durably close ``address``'s intent; a no-op when it has none."""
        self._append(JournalEntry.resolve(address))

    def _append(self, entry: JournalEntry) -> None:
        try:
            line = entry.to_line()
        except (TypeError, ValueError) as exc:
            raise StateError(f"cannot record {entry.address} in state: {exc}") from exc
        with self._mutex:
            self._check_usable()
            if not entry.changes(self._records, self._intents):
                return
            journal = self._journal
            if journal is None:
                journal = self._open_journal()
            try:
                seq = journal.append(line)
            except OSError as exc:
                raise StateError(
                    f"cannot record {entry.address} in the state journal "
                    f"{self._backend.journal_path}: {exc.strerror}"
                ) from exc
            entry.apply(self._records, self._intents)
            self._pending += 1
            self._snapshot = None
        try:
            # Outside the mutex so other threads can append while this one waits for the disk.
            journal.sync(seq)
        except OSError as exc:
            raise StateError(
                f"cannot make the record of {entry.address} durable in "
                f"{self._backend.journal_path}: {exc.strerror}",
                hint="the change is kept in memory and written with the state at the end of "
                "the run if the disk allows",
            ) from exc

    def _open_journal(self) -> JournalWriter:
        try:
            self._journal = JournalWriter.create(
                self._backend.journal_path,
                lineage=self._new_lineage(),
                base_serial=self._base.serial,
                mode=atomic.existing_mode(self._backend.path),
            )
        except OSError as exc:
            raise StateError(
                f"cannot create the state journal {self._backend.journal_path}: {exc.strerror}"
            ) from exc
        return self._journal

    def _write(self, document: StateDocument, what: str) -> None:
        """Write ``document`` as the new base; a failure leaves the journal to the next run."""
        self._check_not_stale(what)
        self._check_lock()
        try:
            self._backend._write(
                document,
                before=self._base,
                info=self._held.info,
                command=self._held.info.operation,
            )
        except atomic.ReplacedButNotSynced as exc:
            # The new document is in place but its rename may not survive a power loss, so the
            # journal must stay as it is (stale if the rename holds, needed if it does not), and
            # a new journal would have to replace it: stop writing instead.
            self._broken = (
                f"{what} could not be made durable ({exc})",
                f"every change recorded so far is kept in {self._backend.journal_path} and is "
                "folded into the state on the next run",
            )
            self._finish_write(document, keep_journal=True)
            raise StateError(
                f"{what} of {self._backend.path}: {exc}",
                hint=f"the journal {self._backend.journal_path} is kept; check the disk",
            ) from exc
        except OSError as exc:
            raise StateError(
                f"{what} of {self._backend.path} failed: {exc}",
                hint=f"every recorded change is kept in {self._backend.journal_path} and "
                "folded into the state on the next run",
            ) from exc

    def commit(self) -> StateDocument:
        """Fold pending changes into the document: one atomic write, serial + 1, backup kept."""
        with self._mutex:
            if not self._pending:
                return self.document
            self._check_usable(lock=False)  # _write checks the serial first, then the lock
            document = StateDocument(
                lineage=self._new_lineage(),
                serial=self._base.serial + 1,
                environment=self._environment,
                records=dict(self._records),
                intents=dict(self._intents),
            )
            self._write(document, "commit")
            self._finish_write(document)
            return document

    def replace(self, document: StateDocument) -> StateDocument:
        """Write ``document`` whole, superseding pending changes (derive it from ``.document``).

        Its serial is one more than the larger of this session's serial and the document's own
        (so a pushed state never goes back below the serial it carries); its lineage is the
        current one when it has none (a given, different lineage is the caller's decision).
        """
        with self._mutex:
            self._check_usable(lock=False)
            lineage = document.lineage or self._new_lineage()
            new = dc_replace(
                document,
                lineage=lineage,
                serial=max(self.document.serial, document.serial) + 1,
                environment=document.environment or self._environment,
                records=dict(document.records),
                intents=dict(document.intents),
            )
            self._write(new, "replace")
            self._finish_write(new)
            return new

    def import_history(
        self, versions: Sequence[tuple[HistoryEntry, StateDocument]]
    ) -> StateDocument:
        """Write committed versions of another copy of this state as they were, the last one
        as the state file (``StateSession.import_history``); only those above the stored serial.

        Refused (``StateError``, nothing written) while this session has recorded changes, for
        another lineage, or for one of the stored serials with other contents.
        """
        with self._mutex:
            self._check_usable(lock=False)
            where = self._backend.describe()
            if self._pending:
                raise StateError(
                    f"cannot import versions into {where}: this run recorded "
                    f"{self._pending} change(s) that are not committed; nothing was written",
                    hint="commit them first, or import into a session that records nothing",
                )
            missing = versions_to_import(self._base, versions, where=where)
            if not missing:
                return self.document
            self._check_not_stale("import")
            self._check_lock()
            try:
                self._backend._import(missing, fresh=not self._base.exists)
            except OSError as exc:
                # Part of it may be written (the history, or an older version as the state
                # file): the stored serial is no longer this session's base.
                self._broken = (
                    f"importing versions failed ({exc})",
                    "run the import (deployctl state migrate) again: it writes what is missing",
                )
                raise StateError(
                    f"importing versions into {where} failed: {exc}",
                    hint="fix the problem (free space? permissions?) and run the import "
                    "(deployctl state migrate) again: it writes only what is missing",
                ) from exc
            document = missing[-1][1]
            self._finish_write(document)
            return document

    def _finish_write(self, document: StateDocument, *, keep_journal: bool = False) -> None:
        self._base = document
        self._records = dict(document.records)
        self._intents = dict(document.intents)
        self._lineage = document.lineage
        self._environment = document.environment
        self._pending = 0
        self._snapshot = document
        journal, self._journal = self._journal, None
        if journal is not None:
            # The document now holds (or supersedes) every journaled line; a leftover journal
            # after a crash here is recognised as stale by its base serial.
            with contextlib.suppress(OSError):
                journal.close(remove=not keep_journal)

    # -- context ---------------------------------------------------------------------------

    def __enter__(self) -> LocalStateSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(exc)

    def close(self, exc: BaseException | None = None) -> None:
        """Commit what is pending, then release the lock (what ``__exit__`` does).

        When the commit fails the journal stays for the next run; the error is raised, or, while
        ``exc`` is propagating, attached to it as a note so the original error is not masked.
        """
        with self._mutex:
            if self._closed:
                return
            failure: BaseException | None = None
            try:
                if self._pending and self._broken is None:  # a broken session already said why
                    self.commit()
            except BaseException as commit_exc:
                failure = commit_exc
            finally:
                self._closed = True
                journal, self._journal = self._journal, None
                if journal is not None:
                    with contextlib.suppress(OSError):
                        journal.close(remove=False)
                try:
                    self._held.release()
                except LockError as release_exc:
                    failure = failure or release_exc
        if failure is None:
            return
        if exc is not None:
            exc.add_note(f"deployctl: saving the state failed too: {failure}")
            return
        raise failure
