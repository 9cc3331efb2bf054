"""The seam to state storage: a backend reads the document and hands out locked write sessions.

Three backends sit behind these Protocols: the local JSON file (``state/local.py``), PostgreSQL
(``state/postgres.py``) and S3-compatible object storage (``state/s3.py``). The planner and the
executor never know which one is in use.

Every backend gives the same guarantees:

- ``read`` returns the last committed document with any results a crashed run recorded folded
  in (a journal is never lost);
- ``lock`` is exclusive across processes and hosts, and frees itself when its holder is gone
  (PostgreSQL: the advisory lock dies with the connection; S3 and local: a lease renewed while
  the holder lives, taken over with a warning once it expired, or at once when the holder ran on
  this host and its process no longer exists);
- ``record``/``forget`` are durable when they return and cost O(1) in the size of the state;
- so are ``intend``/``resolve``: an intent (a call about to be made, ``model.intent``) is a
  journal entry like a record, closed by its address's next ``record``/``forget``/``resolve``.
  ``read`` and ``document`` show the open ones as ``StateDocument.intents``; a commit keeps
  those still open in the document (``pending_intents``), so none is lost by a fold;
- ``commit`` is a compare-and-swap on the serial: it fails with ``StaleStateError`` when another
  writer committed since the session read the document, and never leaves a half-written state;
- every committed version is kept as history (``history``/``read_version``), and can be
  written into another backend as it was (``import_history``: ``deployctl state migrate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from deployctl.model import JSONObject
from deployctl.model.intent import Intent
from deployctl.model.state import StateDocument, StateRecord
from deployctl.state.history import HistoryEntry


@dataclass(frozen=True)
class LockInfo:
    """Who holds a state lock (Terraform's LockInfo)."""

    id: str
    operation: str
    who: str
    host: str
    pid: int
    created: str
    path: str

    def to_json(self) -> JSONObject:
        return {
            "id": self.id,
            "operation": self.operation,
            "who": self.who,
            "host": self.host,
            "pid": self.pid,
            "created": self.created,
            "path": self.path,
        }

    def describe(self) -> str:
        return (
            f"locked by {self.operation} (pid {self.pid} on host {self.host}, user {self.who}) "
            f"since {self.created}, lock id {self.id}"
        )


class StateSession(Protocol):
    """A held lock on one state, through which it is changed. Thread-safe.

    ``record`` and ``forget`` are durable when they return and cost O(1) in the size of the state
    (the local backend appends to a journal); ``commit`` folds them into the document, bumping
    the serial once. Leaving the ``with`` block commits what was recorded, even on an exception,
    then releases the lock.
    """

    @property
    def document(self) -> StateDocument:
        """The state as it is now, including what was recorded in this session."""
        ...

    def record(self, record: StateRecord) -> None:
        """Durably record the result of one action for ``record.address`` (closing its intent)."""
        ...

    def forget(self, address: str) -> None:
        """Durably remove ``address`` from the state (its record and its intent)."""
        ...

    def intend(self, intent: Intent) -> None:
        """Durably record that a call for ``intent.address`` is about to be made (O(1)); it
        stays open in ``document.intents`` until the address's outcome is recorded."""
        ...

    def resolve(self, address: str) -> None:
        """Durably close ``address``'s open intent, leaving its record as it is (a no-op when
        it has none): the call changed nothing, or its outcome is recorded already."""
        ...

    def replace(self, document: StateDocument) -> StateDocument:
        """Write a whole new document (keeps lineage unless it is a new state); returns it."""
        ...

    def commit(self) -> StateDocument:
        """Fold recorded changes into the document (serial + 1, atomic write, backup kept)."""
        ...

    def import_history(
        self, versions: Sequence[tuple[HistoryEntry, StateDocument]]
    ) -> StateDocument:
        """Write committed versions of another copy of this state, as they were; returns the
        current document.

        ``versions`` (oldest first, one lineage, strictly increasing serials) keep their serials
        and history entries; the last becomes the current document. The history is written
        first and the document last, with the backend's usual atomic, conditional or
        transactional write. Only the versions above the stored serial are written (none: the
        stored document is returned). Raises ``StateError`` and writes nothing when the state
        is another lineage, has one of their serials with other contents, or this session has
        recorded changes that are not committed (see ``deployctl.state.migrate``).
        """
        ...

    def __enter__(self) -> StateSession: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class StateBackend(Protocol):
    """Where one environment's state lives."""

    def describe(self) -> str:
        """A short human name for messages, e.g. the file path."""
        ...

    def read(self) -> StateDocument:
        """The current state without locking (including changes recorded by a crashed run)."""
        ...

    def lock(self, *, operation: str, timeout: float = 0.0) -> StateSession:
        """Take the exclusive lock, waiting up to ``timeout`` seconds; raises ``LockError``."""
        ...

    def lock_info(self) -> LockInfo | None:
        """Who holds the lock now, or ``None``."""
        ...

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        """Remove the lock (only if its id is ``lock_id`` when given); returns what was removed."""
        ...

    def history(self) -> list[HistoryEntry]:
        """Every kept committed version, oldest first (empty for a state never written)."""
        ...

    def read_version(self, serial: int) -> StateDocument:
        """The document as committed at ``serial``; raises ``StateError`` when it is not kept."""
        ...
