"""A locked write session on a local state: a journal file per run, one atomic commit at the end.

Each ``record``/``forget``/``intend``/``resolve`` is one line in ``<state>.journal`` (fsynced,
grouped across threads: ``state/journal.py``; ``intend_all`` writes several intents in one write
and one fsync, and inside ``grouped`` a thread's outcomes are written together at the block's
end, with one write and one fsync);
``commit`` folds them into the document with one atomic write, as a compare-and-swap on the
serial, then deletes the journal. See
``deployctl/state/local.py`` for the files and the recovery rules.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deployctl import atomic
from deployctl.errors import LockError, StaleStateError, StateError
from deployctl.model.state import StateDocument
from deployctl.state.history import HistoryEntry
from deployctl.state.journal import JournalEntry, JournalWriter
from deployctl.state.lock import HeldLock
from deployctl.state.lock_holder import lost_lock_error
from deployctl.state.migrate import versions_to_import
from deployctl.state.protocol import LockInfo
from deployctl.state.session_core import JournaledSession, JournaledView, pending_import_error

if TYPE_CHECKING:
    from deployctl.state.local import LocalStateBackend


class LocalStateSession(JournaledSession):
    """A held lock on a local state (``StateSession``); safe to use from many threads.

    Changes are journaled and kept in an in-memory dict, so ``record``/``forget`` cost O(1);
    ``commit`` writes the document once, as a compare-and-swap: only while the stored document
    is still the one this session started from. Leaving the ``with`` block commits, then unlocks.
    """

    def __init__(self, backend: LocalStateBackend, held: HeldLock, document: StateDocument) -> None:
        super().__init__(JournaledView(document))  # the base is what is on disk
        self._backend = backend
        self._held = held
        self._journal: JournalWriter | None = None
        # The threads encoding or appending a journal line: the journal's next fsync waits for
        # them briefly, so that it covers their lines too (``JournalWriter``).
        self._arrivals = atomic.Arrivals()
        self._broken: tuple[str, str] | None = None  # why the session stopped writing, and hint
        # Per thread, inside ``grouped``: the journal line its outcomes are durable up to once
        # synced (``_Owed``), or ``None`` outside.
        self._owed = threading.local()

    @property
    def lock_info(self) -> LockInfo:
        return self._held.info

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
            raise lost_lock_error(
                f"state {self._backend.path}",
                f" (force-unlocked, or taken over after its lease expired?): {now}",
            )

    def _check_not_stale(self, what: str) -> None:
        """The compare-and-swap: refuse to write unless the stored document is our base.

        The lock keeps other deployctl runs out; this catches what got past it (a force-unlock
        followed by another run's commit, a state file replaced by hand).
        """
        base = self._view.base
        if self._backend.stored_version() == (base.lineage, base.serial):
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

    # -- changes ---------------------------------------------------------------------------

    def _append(self, entry: JournalEntry) -> None:
        """One journal line and at most one fsync (grouped with other threads' lines)."""
        self._append_all((entry,))

    def _append_all(self, entries: Sequence[JournalEntry]) -> None:
        """Journal one entry, or several intents: a line per entry that changes anything, then
        at most one fsync for them all (grouped with other threads' lines).

        Inside ``grouped`` an outcome's line is held until the block ends; an intent's line
        is written and synced at once, after the lines the thread holds (the journal keeps
        each thread's order).
        """
        owed: _Owed | None = getattr(self._owed, "lines", None)
        if owed is not None and entries[0].intent is None:  # one outcome, inside ``grouped``
            self._hold(owed, entries[0])
            return
        with self._arrivals.coming():
            lines = [self._line(entry) for entry in entries]
            # The lock check reads the lock file: done before taking the mutex, which the
            # other threads need to append (it is as good there: the lock can be lost at
            # any moment, and an append after that is caught by the next check or the commit).
            self._check_usable()
            with self._mutex:
                self._check_usable(lock=False)
                # An intent always changes something; a single outcome may change nothing.
                if not self._view.changes(entries[0]):
                    return
                held = owed.take() if owed is not None else []
                what = entries[0].address if len(entries) == 1 else f"{len(entries)} changes"
                try:
                    journal = self._journal or self._open_journal()
                    seq = self._write_lines(
                        journal, b"".join([*held, *lines]), what, len(held) + len(lines)
                    )
                except BaseException:
                    if owed is not None:
                        owed.lines[:0] = held  # still to be written at the block's end
                    raise
                for entry in entries:
                    self._view.apply(entry)
        # Outside the mutex so other threads can append while this one waits for the disk.
        self._sync(journal, seq, what)

    def _line(self, entry: JournalEntry) -> bytes:
        try:
            return entry.to_line()
        except (TypeError, ValueError) as exc:
            raise StateError(f"cannot record {entry.address} in state: {exc}") from exc

    def _hold(self, owed: _Owed, entry: JournalEntry) -> None:
        """Apply an outcome to the session's document now, and hold its line for the end of
        ``grouped`` (which checks the lock before writing it)."""
        line = self._line(entry)
        with self._mutex:
            self._check_usable(lock=False)
            if self._view.changes(entry):
                self._view.apply(entry)
                owed.hold(line, entry.address)

    def _write_lines(self, journal: JournalWriter, data: bytes, what: str, count: int = 1) -> int:
        try:
            return journal.append(data, count)
        except OSError as exc:
            raise StateError(
                f"cannot record {what} in the state journal "
                f"{self._backend.journal_path}: {exc.strerror}"
            ) from exc

    def _sync(self, journal: JournalWriter, seq: int, what: str) -> None:
        try:
            journal.sync(seq)
        except OSError as exc:
            raise StateError(
                f"cannot make the record of {what} durable in "
                f"{self._backend.journal_path}: {exc.strerror}",
                hint="the change is kept in memory and written with the state at the end of "
                "the run if the disk allows",
            ) from exc

    # Inside ``grouped`` the calling thread's outcomes are written to the journal at the end.
    holds_grouped_outcomes = True

    @contextlib.contextmanager
    def grouped(self) -> Iterator[None]:
        """The calling thread's outcomes in the block are held in memory (the session's document
        shows them at once) and written to the journal at its end, in one write and one fsync
        (grouped with other threads' lines): nothing of them reaches the journal before the
        block ends, so whatever the block waits for at its end (the changes' targets making
        them durable: ``executor``) is done first. An ``intend`` syncs at once as always,
        covering every line before it (``JournaledSession.grouped``)."""
        if getattr(self._owed, "lines", None) is not None:
            yield  # nested: the outer block writes
            return
        owed = self._owed.lines = _Owed()
        try:
            yield
        except BaseException:
            self._owed.lines = None
            with contextlib.suppress(OSError, StateError):
                self._write_held(owed)
            raise
        self._owed.lines = None
        self._write_held(owed)

    def _write_held(self, owed: _Owed) -> None:
        """Write the lines ``owed`` holds, in one write, and make them durable."""
        if not owed.lines:
            return
        with self._arrivals.coming():
            self._check_usable()
            with self._mutex:
                self._check_usable(lock=False)
                journal = self._journal or self._open_journal()
                held = owed.take()
                seq = self._write_lines(journal, b"".join(held), owed.what, len(held))
        self._sync(journal, seq, owed.what)

    def _open_journal(self) -> JournalWriter:
        try:
            self._journal = JournalWriter.create(
                self._backend.journal_path,
                lineage=self._view.new_lineage(),
                base_serial=self._view.base.serial,
                mode=atomic.existing_mode(self._backend.path),
                arrivals=self._arrivals,
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
            self._backend.write_document(
                document,
                before=self._view.base,
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
            if not self._view.pending:
                return self._view.document
            self._check_usable(lock=False)  # _write checks the serial first, then the lock
            document = self._view.committed()
            self._write(document, "commit")
            self._finish_write(document)
            return document

    def replace(self, document: StateDocument) -> StateDocument:
        """Write ``document`` whole, superseding pending changes (derive it from ``.document``;
        serial and lineage as ``JournaledView.replacement`` says)."""
        with self._mutex:
            self._check_usable(lock=False)
            new = self._view.replacement(document)
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
            if self._view.pending:
                raise pending_import_error(where, self._view.pending)
            missing = versions_to_import(self._view.base, versions, where=where)
            if not missing:
                return self._view.document
            self._check_not_stale("import")
            self._check_lock()
            try:
                self._backend.write_versions(missing, fresh=not self._view.base.exists)
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
        self._view.rebase(document)
        journal, self._journal = self._journal, None
        if journal is not None:
            # The document now holds (or supersedes) every journaled line; a leftover journal
            # after a crash here is recognised as stale by its base serial.
            with contextlib.suppress(OSError):
                journal.close(remove=not keep_journal)

    # -- closing ---------------------------------------------------------------------------

    def _commits_on_close(self) -> bool:
        return self._view.pending > 0 and self._broken is None

    def _release_lock(self) -> BaseException | None:
        journal, self._journal = self._journal, None
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.close(remove=False)
        try:
            self._held.release()
        except LockError as exc:
            return exc
        return None


class _Owed:
    """One thread's outcomes inside ``grouped``, not yet written: their lines, and an address
    to name if writing them fails."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.what = ""

    def hold(self, line: bytes, what: str) -> None:
        self.lines.append(line)
        self.what = what

    def take(self) -> list[bytes]:
        """The lines held, no longer held."""
        lines, self.lines = self.lines, []
        return lines


__all__ = ["LocalStateSession"]
