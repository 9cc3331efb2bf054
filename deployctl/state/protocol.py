"""The seam to state storage: a backend reads the document and hands out locked write sessions.

The local JSON file is the first backend; a PostgreSQL one comes later behind the same Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from deployctl.model import JSONObject
from deployctl.state.document import StateDocument, StateRecord


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
        """Durably record the result of one action for ``record.address``."""
        ...

    def forget(self, address: str) -> None:
        """Durably remove ``address`` from the state."""
        ...

    def replace(self, document: StateDocument) -> StateDocument:
        """Write a whole new document (keeps lineage unless it is a new state); returns it."""
        ...

    def commit(self) -> StateDocument:
        """Fold recorded changes into the document (serial + 1, atomic write, backup kept)."""
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
