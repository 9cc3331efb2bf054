"""State: what deployctl last applied, where it is kept, and how it is changed safely.

``StateDocument``/``StateRecord`` are the format, ``StateBackend``/``StateSession`` the seam,
and ``LocalStateBackend`` the JSON-file backend (atomic writes, a lock file, a journal).
"""

from __future__ import annotations

from deployctl.state.document import STATE_FORMAT_VERSION, StateDocument, StateRecord
from deployctl.state.local import LocalStateBackend, LocalStateSession
from deployctl.state.protocol import LockInfo, StateBackend, StateSession

__all__ = [
    "STATE_FORMAT_VERSION",
    "LocalStateBackend",
    "LocalStateSession",
    "LockInfo",
    "StateBackend",
    "StateDocument",
    "StateRecord",
    "StateSession",
]
