"""The S3 state backend: one environment's state as objects under ``s3://bucket/prefix/``.

Works with AWS S3 and S3-compatible stores (MinIO, Ceph, ...) that implement conditional writes
(If-None-Match and If-Match on PutObject); object versioning is not needed. ``AWS_ENDPOINT_URL``
and the usual AWS credential chain are honoured (``s3_store.py``). For environment ``prod``::

    prod.json                           the current document (the same JSON as a local state file)
    prod.lock                           the lock: LockInfo plus a lease (``s3_lock.py``)
    prod.journal/<base>/<seq>-<id>.json one object per record/forget/intend/resolve not yet
                                        committed (a journal entry, ``state/journal.py``): <base> is
                                        the serial it extends, <seq> its order in the run, <id>
                                        the run's lock id (both numbers zero-padded to 10 digits,
                                        so a listing is in order and two runs never collide)
    history/prod/<serial>.json          every committed version (same JSON); its HistoryEntry is
                                        the object's ``x-amz-meta-deployctl-history`` (JSON;
                                        ``s3_history.py``)

Reading: journal objects are listed first, then the document is read; objects extending the
document's serial are folded in (serial + 1, as the commit will write), older ones are already
folded (stale) and skipped. A commit between the listing and the reads is noticed (an object
vanished) and the read starts again.

Committing (the lock held and its lease just renewed):

1. the new version goes to ``history/<env>/<serial+1>.json`` with ``IfNoneMatch='*'``, so
   history exists before the document points at it. An object already there is left over by a
   commit that crashed (or lost) before step 2: it is replaced (``IfMatch`` on its ETag, so of two
   runs only one can) only while the document still has the ETag this run started from;
2. the document is written with ``IfMatch=<ETag read>`` (``IfNoneMatch='*'`` for the first), so of
   two writers from the same version exactly one succeeds; the other gets ``StaleStateError``
   and puts step 1's history object back as it found it (or deletes its own);
3. the winner checks that the history object is still its own (rewrites it otherwise), then
   deletes the journal objects of every serial below the new one.

A run that crashed leaves its journal objects; the next ``lock`` folds them in with one commit
(its HistoryEntry names the crashed run, and ``on_warning`` says so) before handing out the
session. A document write whose answer never came (the network failed 3 times) is
``UncertainCommitError``: the session asks the document's write id before it writes again, so
later journal objects extend the serial that is really there. History is kept forever; an S3
lifecycle rule on ``history/`` can expire old versions.

Every object is written whole by one PUT (S3 never shows half an object), so no failure leaves
an unreadable state; what a failure costs is at most a leftover history object or stale journal
objects, both recognised and removed by the next commit.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from deployctl.errors import StaleStateError, StateError
from deployctl.model.state import StateDocument, utc_now
from deployctl.model.values import strict_loads
from deployctl.state.history import HistoryEntry, change_summary
from deployctl.state.journal import JournalEntry
from deployctl.state.local import serialize_document
from deployctl.state.lock_holder import lock_info_from_json
from deployctl.state.protocol import LockInfo
from deployctl.state.s3_history import S3History, StaleBase, history_meta
from deployctl.state.s3_lock import LEASE_SECONDS, Lease, S3Lock
from deployctl.state.s3_session import S3StateSession, UncertainCommitError
from deployctl.state.s3_store import WRITE_ID, Conflict, S3Store, StoredObject
from deployctl.state.session_core import fold

_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_JOURNAL_NAME = re.compile(r"(\d{10})/(\d{10})-([^/]+)\.json")
_READ_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredVersion:
    """A committed document and the ETag of its object (``None`` when there is none yet)."""

    document: StateDocument
    etag: str | None


@dataclass(frozen=True)
class JournalChange:
    """One journal object: a record/forget on top of serial ``base`` by the run ``holder``."""

    key: str
    base: int
    lineage: str
    entry: JournalEntry
    holder: LockInfo | None


class _Vanished(Exception):
    """A journal object listed a moment ago is gone: a commit folded it; read again."""


def _parse_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    problem = None
    if parts.scheme != "s3" or not parts.netloc:
        problem = "it is not of the form s3://bucket/prefix/"
    elif "@" in parts.netloc or parts.query or parts.fragment:
        problem = "credentials and query strings do not belong in it (use the AWS environment)"
    if problem:
        raise StateError(f"invalid S3 state URL {url!r}: {problem}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3StateBackend:
    """State kept as objects in an S3 bucket (``StateBackend``); see the module docstring."""

    def __init__(
        self,
        url: str,
        environment: str,
        *,
        on_warning: Callable[[str], None] | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        if not _ENVIRONMENT.fullmatch(environment or ""):
            raise StateError(f"invalid environment name {environment!r} for the S3 state backend")
        self.url = url
        self.environment = environment
        self.bucket, self.prefix = _parse_url(url)
        self.document_key = f"{self.prefix}{environment}.json"
        self.lock_key = f"{self.prefix}{environment}.lock"
        self.journal_prefix = f"{self.prefix}{environment}.journal/"
        self.history_prefix = f"{self.prefix}history/{environment}/"
        self.on_warning = on_warning or logging.getLogger(__name__).warning
        self.store = S3Store(self.bucket, self.describe())
        self._history = S3History(self.store, self.history_prefix, self.document_key)
        self._lock = S3Lock(
            self.store,
            self.lock_key,
            path=self.describe(),
            on_warning=self.on_warning,
            lease_seconds=lease_seconds,
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.document_key}"

    # -- reading ---------------------------------------------------------------------------

    def _read_version(self) -> StoredVersion:
        stored = self.store.get(self.document_key, "read the state document")
        if stored is None:
            return StoredVersion(StateDocument.empty(self.environment), None)
        return StoredVersion(self._parse(stored, self.describe()), stored.etag)

    def _parse(self, stored: StoredObject, source: str) -> StateDocument:
        try:
            data = strict_loads(stored.body)
        except ValueError as exc:
            raise StateError(
                f"the state {source} is corrupt (not JSON: {exc})",
                hint=f"restore it from a version under s3://{self.bucket}/{self.history_prefix}",
            ) from exc
        return StateDocument.from_json(data, source=source)

    def snapshot(self) -> tuple[StoredVersion, list[JournalChange]]:
        """The document, its ETag and the journal objects extending it (see "Reading" above)."""
        for _ in range(_READ_ATTEMPTS):
            keys = self.store.keys(self.journal_prefix, what="list the journal")
            version = self._read_version()
            serial = version.document.serial
            pending = []
            for key in keys:
                match = _JOURNAL_NAME.fullmatch(key[len(self.journal_prefix) :])
                if match is None:
                    continue  # not ours (a stray upload): never guess at it
                base = int(match.group(1))
                if base > serial:
                    found = f"serial {serial}" if version.document.exists else "no document"
                    raise StateError(
                        f"the journal object s3://{self.bucket}/{key} extends state serial "
                        f"{base}, but there is {found} at {self.describe()}: the document was "
                        "replaced or restored after a run crashed",
                        hint="restore the document with that serial from history/, or delete "
                        f"the objects under s3://{self.bucket}/{self.journal_prefix}{base:010d}/ "
                        "and run 'deployctl plan' to see what the state no longer knows",
                    )
                if base == serial:
                    pending.append(key)
            try:
                return version, self.store.map(self._read_change, pending)
            except _Vanished:
                continue
        raise StateError(f"the state {self.describe()} kept changing while it was read")

    def _read_change(self, key: str) -> JournalChange:
        stored = self.store.get(key, "read the journal object")
        if stored is None:
            raise _Vanished(key)
        where = f"the journal object s3://{self.bucket}/{key}"
        try:
            data = strict_loads(stored.body)
            if not isinstance(data, dict) or not isinstance(data.get("lineage"), str):
                raise ValueError("not a journal object with a 'lineage'")
            entry = JournalEntry.from_json(data)
            holder = data.get("holder")
            info = _lock_info(holder, self.describe()) if isinstance(holder, dict) else None
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(
                f"{where} is damaged ({exc})",
                hint="it holds the result of one action of a crashed run: fix or delete it, "
                "then run 'deployctl plan' to see what the state no longer knows",
            ) from exc
        base = int(key[len(self.journal_prefix) :][:10])
        return JournalChange(key, base, data["lineage"], entry, info)

    def _fold(self, document: StateDocument, changes: list[JournalChange]) -> StateDocument:
        if not changes:
            return document
        lineages = {c.lineage for c in changes} | (
            {document.lineage} if document.lineage else set()
        )
        if len(lineages) > 1:
            raise StateError(
                f"the journal objects under s3://{self.bucket}/{self.journal_prefix} belong to "
                f"another state lineage than {self.describe()} ({', '.join(sorted(lineages))})",
                hint="if the document was replaced on purpose, delete those journal objects; "
                "otherwise restore the document they extend from history/",
            )
        return fold(document, (c.entry for c in changes), changes[0].lineage)

    def read(self) -> StateDocument:
        """The current state, including changes a crashed run journaled (serial + 1 then)."""
        version, changes = self.snapshot()
        return self._fold(version.document, changes)

    # -- committing ------------------------------------------------------------------------

    def commit_version(
        self, base: StoredVersion, document: StateDocument, entry: HistoryEntry
    ) -> StoredVersion:
        """Write ``document`` as the successor of ``base`` (steps 1-3 of the module docstring).

        The caller holds the lock and has just renewed its lease; raises ``StaleStateError``
        when the document is no longer ``base``.
        """
        body = serialize_document(document)
        write_id = uuid.uuid4().hex
        meta = history_meta(entry, write_id)
        key = self._history.key(document.serial)
        replaced = self._put_history(base, key, body, meta)
        try:
            etag = self.store.put(
                self.document_key,
                body,
                what="write the state document",
                metadata={WRITE_ID: write_id},
                if_match=base.etag,
                if_none_match=base.etag is None,
            )
        except Conflict:
            self._history.undo(key, write_id, replaced)
            raise self._stale(base) from None
        except StateError as exc:
            raise UncertainCommitError(exc, write_id=write_id, document=document) from exc
        # Committed: what follows tidies up, and its failures must not make the commit look
        # failed (a retry would then be refused as stale).
        try:
            self._history.keep(key, body, meta)
        except StateError as exc:
            self.on_warning(
                f"committed serial {document.serial} to {self.describe()} but could not check "
                f"its history object ({exc})"
            )
        self._clear_journal(below=document.serial)
        return StoredVersion(document, etag)

    def import_versions(
        self,
        base: StoredVersion,
        versions: Sequence[tuple[HistoryEntry, StateDocument]],
        lease: Lease,
    ) -> StoredVersion:
        """Write committed versions of another copy after ``base`` as they were: a history
        object each (step 1), then the last one as the document (``commit_version``).

        ``lease`` is the lock, checked before each object and renewed before the document. A
        failure leaves history objects above the document's serial, which ``history`` ignores
        and the next commit or import of those serials replaces; a stale ``base`` (the document
        changed) puts back what it found, as a commit does.
        """
        written: list[tuple[str, str, StoredObject | None]] = []
        try:
            for entry, document in versions[:-1]:
                lease.check()
                key = self._history.key(document.serial)
                meta = history_meta(entry, uuid.uuid4().hex)
                replaced = self._put_history(base, key, serialize_document(document), meta)
                written.append((key, meta[WRITE_ID], replaced))
            entry, document = versions[-1]
            lease.renew()
            return self.commit_version(base, document, entry)
        except StaleStateError:
            for key, write_id, replaced in written:
                self._history.undo(key, write_id, replaced)
            raise

    def settle(self, base: StoredVersion, uncertain: UncertainCommitError) -> StoredVersion:
        """The version after an uncertain commit from ``base``: its document if it was written."""
        found = self.store.head(self.document_key, "check the state document")
        if found is not None and found.metadata.get(WRITE_ID) == uncertain.write_id:
            return StoredVersion(uncertain.document, found.etag)
        return base

    def _put_history(
        self, base: StoredVersion, key: str, body: bytes, meta: dict[str, str]
    ) -> StoredObject | None:
        """Step 1 (``S3History.put``); ``StaleStateError`` when the document moved on."""
        try:
            return self._history.put(base.etag, key, body, meta)
        except StaleBase:
            raise self._stale(base) from None

    def _stale(self, base: StoredVersion) -> StaleStateError:
        try:
            now = self._read_version().document
            found = f"it is now at serial {now.serial}" if now.exists else "it was deleted"
        except StateError:
            found = "it cannot be read now"
        return StaleStateError(
            f"the state {self.describe()} changed since this run read it at serial "
            f"{base.document.serial} ({found}); nothing was written",
            hint="another run wrote it although this one held the lock (taken over? "
            "force-unlocked?): run 'deployctl plan' again and apply the new plan",
        )

    def _clear_journal(self, *, below: int) -> None:
        """Delete the journal objects of serials below ``below`` (folded or stale)."""
        try:
            keys = self.store.keys(self.journal_prefix, what="list the journal")
            old = [
                k
                for k in keys
                if (m := _JOURNAL_NAME.fullmatch(k[len(self.journal_prefix) :]))
                and int(m.group(1)) < below
            ]
            if old:
                self.store.delete_many(old, what="remove folded journal objects")
        except StateError as exc:
            self.on_warning(
                f"could not remove folded journal objects of {self.describe()} ({exc}); "
                "they are stale and removed by the next commit"
            )

    # -- locking ---------------------------------------------------------------------------

    def lock(self, *, operation: str, timeout: float = 0.0) -> S3StateSession:
        """Take the lock and fold in any journal a crashed run left; returns the session."""
        lease = self._lock.acquire(operation=operation, timeout=timeout)
        try:
            version, changes = self.snapshot()
            if changes:
                folded = self._fold(version.document, changes)
                crashed = changes[0].holder or lease.info
                entry = HistoryEntry(
                    serial=folded.serial,
                    created=utc_now(),
                    who=crashed.who,
                    host=crashed.host,
                    command=f"{crashed.operation} (recovered from its journal)",
                    summary=change_summary(
                        version.document if version.document.exists else None, folded
                    ),
                )
                lease.renew()
                version = self.commit_version(version, folded, entry)
                self.on_warning(
                    f"folded {len(changes)} change(s) journaled by an interrupted run of "
                    f"{crashed.operation} (pid {crashed.pid} on host {crashed.host}) into "
                    f"{self.describe()} as serial {folded.serial}"
                )
            return S3StateSession(self, lease, version)
        except BaseException:
            lease.release()
            raise

    def lock_info(self) -> LockInfo | None:
        return self._lock.info()

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        return self._lock.force_unlock(lock_id)

    # -- history ---------------------------------------------------------------------------

    def history(self) -> list[HistoryEntry]:
        """Every committed version up to the current serial, oldest first."""
        return self._history.entries(self._read_version().document.serial)

    def read_version(self, serial: int) -> StateDocument:
        """The document as committed at ``serial``; ``StateError`` when it is not kept."""
        missing = StateError(f"serial {serial} is not kept in {self.describe()}")
        if serial < 1 or serial > self._read_version().document.serial:
            raise missing
        stored = self.store.get(self._history.key(serial), "read the history object")
        if stored is None:
            raise missing
        return self._parse(stored, f"s3://{self.bucket}/{stored.key}")


def _lock_info(data: dict[str, Any], path: str) -> LockInfo:
    return lock_info_from_json({**data, "path": data.get("path", path)})
