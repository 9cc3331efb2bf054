"""The history objects of an S3 state: ``history/<env>/<serial>.json``, one per committed version.

Each holds the document as committed (the same JSON as the document object) and, in its user
metadata, its ``HistoryEntry`` (``x-amz-meta-deployctl-history``, JSON) and the write id of the
commit that wrote it. A commit writes its history object before the document (step 1 of the
protocol in ``state/s3.py``), checks it after winning (step 3), and a loser puts back what it
replaced; here are those steps, and reading the history back.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace as dc_replace

from deployctl.errors import StateError
from deployctl.state.history import HistoryEntry
from deployctl.state.s3_store import WRITE_ID, Conflict, S3Store, StoredObject

HISTORY_META = "deployctl-history"
_HISTORY_NAME = re.compile(r"(\d{10})\.json")


class StaleBase(Exception):
    """The document is no longer the version a commit started from (another run wrote it)."""


def history_meta(entry: HistoryEntry, write_id: str) -> dict[str, str]:
    """The user metadata of a history object: its write id and its ``HistoryEntry``."""
    return {WRITE_ID: write_id, HISTORY_META: json.dumps(entry.to_json(), sort_keys=True)}


class S3History:
    """The history objects under ``prefix`` of the state whose document is ``document_key``."""

    def __init__(self, store: S3Store, prefix: str, document_key: str) -> None:
        self.store = store
        self.prefix = prefix
        self.document_key = document_key

    def key(self, serial: int) -> str:
        return f"{self.prefix}{serial:010d}.json"

    # -- writing (the commit protocol's steps) ---------------------------------------------

    def put(
        self, base_etag: str | None, key: str, body: bytes, meta: dict[str, str]
    ) -> StoredObject | None:
        """Step 1; returns the leftover object replaced, if any, so a loser can restore it.

        Raises ``StaleBase`` when the document no longer has ``base_etag``, or when another
        run replaced the leftover first.
        """
        what = "write the history object"
        try:
            self.store.put(key, body, what=what, metadata=meta, if_none_match=True)
            return None
        except Conflict:
            pass
        leftover = self.store.get(key, "read the history object")
        current = self.store.head(self.document_key, "check the state document")
        if (current.etag if current else None) != base_etag:
            raise StaleBase(key)
        try:
            self.store.put(
                key,
                body,
                what=what,
                metadata=meta,
                if_match=leftover.etag if leftover else None,
                if_none_match=leftover is None,
            )
        except Conflict:
            raise StaleBase(key) from None
        return leftover

    def keep(self, key: str, body: bytes, meta: dict[str, str]) -> None:
        """Step 3: a loser may have overwritten step 1 after it; put the winner's back."""
        for _ in range(3):
            found = self.store.head(key, "check the history object")
            if found is not None and found.metadata.get(WRITE_ID) == meta[WRITE_ID]:
                return
            try:
                self.store.put(
                    key,
                    body,
                    what="write the history object",
                    metadata=meta,
                    if_match=found.etag if found else None,
                    if_none_match=found is None,
                )
                return
            except Conflict:
                continue

    def undo(self, key: str, write_id: str, replaced: StoredObject | None) -> None:
        """A loser puts back what its step 1 replaced (or deletes its own object)."""
        try:
            found = self.store.head(key, "check the history object")
            if found is None or found.metadata.get(WRITE_ID) != write_id:
                return  # the winner's (or nobody's): leave it
            if replaced is None:
                self.store.delete(key, what="remove the history object", if_match=found.etag)
            else:
                self.store.put(
                    key,
                    replaced.body,
                    what="restore the history object",
                    metadata=replaced.metadata,
                    if_match=found.etag,
                )
        except (Conflict, StateError):
            pass  # best effort: the winner's step 3 repairs it too

    # -- reading ---------------------------------------------------------------------------

    def entries(self, current: int) -> list[HistoryEntry]:
        """The entries of every history object up to serial ``current``, oldest first."""
        keys = self.store.keys(self.prefix, what="list the history")
        kept = [
            (int(m.group(1)), k)
            for k in keys
            if (m := _HISTORY_NAME.fullmatch(k[len(self.prefix) :]))
            and 0 < int(m.group(1)) <= current  # above it: left over by a failed commit
        ]
        entries = self.store.map(lambda item: self._entry(*item), sorted(kept))
        return [e for e in entries if e is not None]

    def _entry(self, serial: int, key: str) -> HistoryEntry | None:
        found = self.store.head(key, "read the history entry")
        if found is None:
            return None
        try:
            data = json.loads(found.metadata.get(HISTORY_META, ""))
            if isinstance(data, dict):
                return dc_replace(HistoryEntry.from_json(data), serial=serial)
        except ValueError:
            pass
        created = found.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ") if found.last_modified else ""
        return HistoryEntry(serial, created, "unknown", "unknown", "unknown", "")


__all__ = ["HISTORY_META", "S3History", "StaleBase", "history_meta"]
