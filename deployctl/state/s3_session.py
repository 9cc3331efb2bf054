"""A locked write session on an S3 state: journal objects per change, one commit at the end.

See ``deployctl/state/s3.py`` for the objects and the commit protocol.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from deployctl.errors import LockError, StateError
from deployctl.model.state import StateDocument, utc_now
from deployctl.state.history import HistoryEntry, change_summary
from deployctl.state.journal import JOURNAL_FORMAT_VERSION, JournalEntry
from deployctl.state.migrate import versions_to_import
from deployctl.state.protocol import LockInfo
from deployctl.state.s3_lock import Lease
from deployctl.state.s3_store import Conflict
from deployctl.state.session_core import JournaledSession, JournaledView, pending_import_error

if TYPE_CHECKING:
    from deployctl.state.s3 import S3StateBackend, StoredVersion


class UncertainCommitError(StateError):
    """Writing the document failed without an answer: it may or may not have been written.

    The session asks ``settle`` (the document's write id tells) before it writes again, so the
    changes it journals next extend the right serial.
    """

    def __init__(self, cause: StateError, *, write_id: str, document: StateDocument) -> None:
        super().__init__(
            f"{cause.message}; whether serial {document.serial} was written is not known",
            hint="the recorded changes are kept in the journal: the next run that takes the "
            "lock folds in whatever the state lacks",
        )
        self.write_id = write_id
        self.document = document


class S3StateSession(JournaledSession):
    """A held lock on an S3 state (``StateSession``); safe to use from many threads.

    ``record``/``forget``/``intend``/``resolve`` write one journal object each (one PUT, in
    parallel across threads) and change an in-memory dict; ``commit`` writes the document once.
    Every write first checks the lease (``Lease.check``): a session whose lock was taken over
    raises ``LockError``.
    """

    def __init__(self, backend: S3StateBackend, lease: Lease, version: StoredVersion) -> None:
        super().__init__(JournaledView(version.document))
        self._backend = backend
        self._lease = lease
        self._base = version  # the view's base, with the ETag of its object
        self._seq = 0
        self._uncertain: UncertainCommitError | None = None

    @property
    def lease(self) -> Lease:
        """The lock's lease (``lease.stop()`` leaves it to expire, as a crashed run would)."""
        return self._lease

    @property
    def lock_info(self) -> LockInfo:
        return self._lease.info

    def _check_usable(self) -> None:
        if self._closed:
            raise StateError(f"the session on {self._backend.describe()} is closed")
        self._lease.check()
        if self._uncertain is not None:
            # Journal objects must extend the serial that is really there.
            base = self._backend.settle(self._base, self._uncertain)
            self._uncertain = None
            if base is not self._base:
                # The write went through: what it wrote is the state, as after a commit (it
                # held every change recorded until then: each record settles first).
                self._wrote(base)

    # -- changes ---------------------------------------------------------------------------

    def _append(self, entry: JournalEntry) -> None:
        """One journal object, written when this returns (one PUT, in parallel across
        threads)."""
        with self._mutex:
            self._check_usable()
            if not self._view.changes(entry):
                return
            self._seq += 1
            info = self._lease.info
            key = (
                f"{self._backend.journal_prefix}{self._base.document.serial:010d}/"
                f"{self._seq:010d}-{info.id}.json"
            )
            try:
                data = json.loads(entry.to_line())
                data.update(
                    journal=JOURNAL_FORMAT_VERSION,
                    lineage=self._view.new_lineage(),
                    base_serial=self._base.document.serial,
                    holder=info.to_json(),
                )
                body = json.dumps(data, sort_keys=True, allow_nan=False).encode()
            except (TypeError, ValueError) as exc:
                raise StateError(f"cannot record {entry.address} in state: {exc}") from exc
            self._view.apply(entry)
        try:
            # Outside the mutex so other threads can record while this one waits for the store.
            self._backend.store.put(key, body, what="journal a change in", if_none_match=True)
        except Conflict as exc:  # the key holds this run's lock id: only a lost lock gets here
            raise LockError(
                f"the journal object s3://{self._backend.bucket}/{key} already exists: another "
                f"run is using this run's lock on {self._backend.describe()}"
            ) from exc
        except StateError as exc:
            raise StateError(
                f"cannot record {entry.address}: {exc.message}",
                hint="the change is kept in memory and written with the state at the end of "
                "the run if the store allows",
            ) from exc

    def commit(self) -> StateDocument:
        """Fold pending changes into the document: one conditional write, serial + 1."""
        with self._mutex:
            if not self._view.pending:
                return self._view.document
            self._check_usable()
            if not self._view.pending:  # an uncertain commit turned out to have written it all
                return self._view.document
            return self._write(self._view.committed())

    def replace(self, document: StateDocument) -> StateDocument:
        """Write ``document`` whole, superseding pending changes (as the local backend does)."""
        with self._mutex:
            self._check_usable()
            return self._write(self._view.replacement(document))

    def _write(self, document: StateDocument) -> StateDocument:
        """Commit ``document`` (the caller checked the session first, settling any doubt)."""
        self._lease.renew()  # proves the lock is ours and gives the commit a whole lease
        before = self._base.document
        info = self._lease.info
        entry = HistoryEntry(
            serial=document.serial,
            created=utc_now(),
            who=info.who,
            host=info.host,
            command=info.operation,
            summary=change_summary(before if before.exists else None, document),
        )
        try:
            self._wrote(self._backend.commit_version(self._base, document, entry))
        except UncertainCommitError as exc:
            self._uncertain = exc
            raise
        return document

    def import_history(
        self, versions: Sequence[tuple[HistoryEntry, StateDocument]]
    ) -> StateDocument:
        """Write committed versions of another copy of this state as they were, the last one as
        the document (``StateSession.import_history``); only those above the stored serial.

        Refused (``StateError``, nothing written) while this session has recorded changes, for
        another lineage, or for one of the stored serials with other contents.
        """
        where = self._backend.describe()
        with self._mutex:
            self._check_usable()
            if self._view.pending:
                raise pending_import_error(where, self._view.pending)
            missing = versions_to_import(self._base.document, versions, where=where)
            if not missing:
                return self._view.document
            try:
                self._wrote(self._backend.import_versions(self._base, missing, self._lease))
            except UncertainCommitError as exc:
                self._uncertain = exc
                raise
            return self._base.document

    def _wrote(self, version: StoredVersion) -> None:
        """``version`` is stored: it is the new base, with nothing pending."""
        self._base = version
        self._view.rebase(version.document)
        self._seq = 0

    # -- closing ---------------------------------------------------------------------------

    def _release_lock(self) -> BaseException | None:
        try:
            self._lease.release()
        except (LockError, StateError) as exc:
            return exc
        return None
