"""What every backend's locked session shares: the state in memory between two commits.

A session starts from the stored document (its **base**) and keeps what it records on top of it
in memory: the records, the open intents, the lineage (a new state gets one at its first write)
and how many journaled changes are **pending** (not yet folded into the stored document).
``JournaledView`` holds that and decides, purely, whether a journal entry changes anything, what
the document is now, and what ``commit`` and ``replace`` write; ``fold`` applies journal
entries to a stored document the same way (what ``read`` shows of a crashed run's journal).

``JournaledSession`` is the frame around it that the local, PostgreSQL and S3 sessions fill in
with their storage: ``record``/``forget``/``intend``/``resolve`` become one journal entry each
(written by the backend's ``_append``; ``intend_all`` opens many intents with one durable
write where the backend can), and leaving the ``with`` block commits what is pending,
then releases the lock, without masking an error already on its way.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace as dc_replace
from types import TracebackType
from typing import Self

from deployctl.errors import StateError
from deployctl.model.intent import Intent
from deployctl.model.state import StateDocument, StateRecord
from deployctl.state.journal import JournalEntry


def fold(
    document: StateDocument, entries: Iterable[JournalEntry], lineage: str | None
) -> StateDocument:
    """``document`` with journaled ``entries`` applied: the document a commit of them writes
    (serial + 1, ``lineage``: the journal's, which a new state takes from it)."""
    records = dict(document.records)
    intents = dict(document.intents)
    for entry in entries:
        entry.apply(records, intents)
    return StateDocument(
        lineage=lineage,
        serial=document.serial + 1,
        environment=document.environment,
        records=records,
        intents=intents,
    )


class JournaledView:
    """A session's state in memory: the stored ``base`` and what was recorded on top of it.

    Not thread-safe by itself: each session guards it with its own mutex, together with the
    storage write that goes with each change.
    """

    def __init__(
        self, base: StateDocument, current: StateDocument | None = None, *, pending: int = 0
    ) -> None:
        """``current`` is the state with ``pending`` changes already journaled on ``base``
        (a crashed run's, folded in memory; by default ``base`` itself)."""
        start = base if current is None else current
        self.base = base
        self.records: dict[str, StateRecord] = dict(start.records)
        self.intents: dict[str, Intent] = dict(start.intents)
        self.lineage = start.lineage
        self.environment = start.environment
        self.pending = pending
        self._snapshot: StateDocument | None = base if current is None else None

    def changes(self, entry: JournalEntry) -> bool:
        """Whether journaling ``entry`` would change anything (see ``JournalEntry.changes``)."""
        return entry.changes(self.records, self.intents)

    def apply(self, entry: JournalEntry) -> None:
        """Take ``entry`` (now journaled) into the state in memory: one more pending change."""
        entry.apply(self.records, self.intents)
        self.pending += 1
        self._snapshot = None

    def new_lineage(self) -> str:
        """The lineage, made at the first write of a new state."""
        if self.lineage is None:
            import uuid  # (and platform): only when a state is first written

            self.lineage = str(uuid.uuid4())
        return self.lineage

    @property
    def document(self) -> StateDocument:
        """The state including the pending changes; serial is what ``commit`` will write.

        A snapshot: the first access after a change copies the record dict (about 40 µs for
        10,000 records), later accesses return the same object.
        """
        if self._snapshot is None:
            self._snapshot = StateDocument(
                lineage=self.lineage,
                serial=self.base.serial + (1 if self.pending else 0),
                environment=self.environment,
                records=dict(self.records),
                intents=dict(self.intents),
            )
        return self._snapshot

    def committed(self) -> StateDocument:
        """The document ``commit`` writes: the pending changes folded in, serial + 1."""
        return StateDocument(
            lineage=self.new_lineage(),
            serial=self.base.serial + 1,
            environment=self.environment,
            records=dict(self.records),
            intents=dict(self.intents),
        )

    def replacement(self, document: StateDocument) -> StateDocument:
        """The document ``replace`` writes for ``document``, superseding pending changes.

        Its serial is one more than the larger of the current serial and the document's own (so
        a pushed state never goes back below the serial it carries); its lineage is the current
        one when it has none (a given, different lineage is the caller's decision).
        """
        return dc_replace(
            document,
            lineage=document.lineage or self.new_lineage(),
            serial=max(self.document.serial, document.serial) + 1,
            environment=document.environment or self.environment,
            records=dict(document.records),
            intents=dict(document.intents),
        )

    def rebase(self, document: StateDocument, *, environment: str | None = None) -> None:
        """``document`` is stored: it is the new base, with nothing pending. ``environment``
        stands in for a document that names none."""
        self.base = document
        self.records = dict(document.records)
        self.intents = dict(document.intents)
        self.lineage = document.lineage
        self.environment = document.environment or environment
        self.pending = 0
        self._snapshot = document


def pending_import_error(where: str, pending: int) -> StateError:
    """Why versions are not imported into a session that recorded changes."""
    return StateError(
        f"cannot import versions into {where}: this run recorded "
        f"{pending} change(s) that are not committed; nothing was written",
        hint="commit them first, or import into a session that records nothing",
    )


class JournaledSession(ABC):
    """A held lock on one state (``StateSession``) around a ``JournaledView``; thread-safe.

    A backend's session writes each change to its journal (``_append``), commits
    (``commit``) and releases its lock (``_release_lock``); this class does the rest.
    """

    def __init__(self, view: JournaledView) -> None:
        self._mutex = threading.RLock()
        self._view = view
        self._closed = False

    @property
    def pending(self) -> int:
        """How many recorded changes are journaled but not yet folded into the document."""
        with self._mutex:
            return self._view.pending

    @property
    def document(self) -> StateDocument:
        """The state including this session's changes; serial is what ``commit`` will write."""
        with self._mutex:
            return self._view.document

    # -- changes ---------------------------------------------------------------------------

    def record(self, record: StateRecord) -> None:
        """Durably record ``record``: one journal entry, written when this returns."""
        self._append(JournalEntry(address=record.address, record=record))

    def forget(self, address: str) -> None:
        """Durably remove ``address``; a no-op when the state does not hold it."""
        self._append(JournalEntry(address=address, record=None))

    def intend(self, intent: Intent) -> None:
        """Durably open an intent for ``intent.address``: one journal entry, as ``record``."""
        self._append(JournalEntry.intend(intent))

    def resolve(self, address: str) -> None:
        """Durably close ``address``'s intent; a no-op when it has none."""
        self._append(JournalEntry.resolve(address))

    def intend_all(self, intents: Sequence[Intent]) -> None:
        """Durably open each of ``intents``, as ``intend`` does, made durable together (one
        journal sync, where the backend groups them: ``_append_all``)."""
        self._append_all([JournalEntry.intend(intent) for intent in intents])

    @abstractmethod
    def _append(self, entry: JournalEntry) -> None:
        """Journal ``entry`` durably and apply it to the view, unless it changes nothing."""

    def grouped(self) -> AbstractContextManager[None]:
        """A block in which the calling thread's outcomes (``record``, ``forget``, ``resolve``)
        may be made durable together when it ends, instead of each before it returns.

        An ``intend`` is durable when it returns, whatever the block, and so is every line the
        thread wrote before it. A failure to make the outcomes durable raises from the block's
        end (``StateError``). By default each outcome is durable when it returns."""
        return contextlib.nullcontext()

    def _append_all(self, entries: Sequence[JournalEntry]) -> None:
        """Journal ``entries`` durably, in order (by default one ``_append`` each)."""
        for entry in entries:
            self._append(entry)

    @abstractmethod
    def commit(self) -> StateDocument:
        """Fold the pending changes into the stored document (serial + 1)."""

    # -- context ---------------------------------------------------------------------------

    def _commits_on_close(self) -> bool:
        """Whether ``close`` commits (a session that stopped writing has already said why)."""
        return self._view.pending > 0

    @abstractmethod
    def _release_lock(self) -> BaseException | None:
        """Release the lock (the session is closed); returns a failure to report, if any."""

    def __enter__(self) -> Self:
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
                if self._commits_on_close():
                    self.commit()
            except BaseException as commit_exc:
                failure = commit_exc
            finally:
                self._closed = True
                released = self._release_lock()
                failure = failure or released
        if failure is None:
            return
        if exc is not None:
            exc.add_note(f"deployctl: saving the state failed too: {failure}")
            return
        raise failure


__all__ = ["JournaledSession", "JournaledView", "fold", "pending_import_error"]
