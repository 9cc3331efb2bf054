"""The S3 state lock: a ``<env>.lock`` object holding ``LockInfo`` and a lease renewed while alive.

Taking it: ``put_object(IfNoneMatch='*')``, so only one run can create it. The body is the
``LockInfo`` JSON plus ``lease_seconds`` (60 by default) and ``lease_expires`` (UTC)::

    {"created": "...", "host": "ci-7", "id": "<uuid>", "lease_expires": "...Z",
     "lease_seconds": 60, "operation": "apply", "path": "s3://b/p/prod.json", "pid": 4242,
     "who": "runner"}

Holding it: a daemon thread rewrites the object every ``lease_seconds / 3`` with
``IfMatch=<the ETag it last wrote>``. When that condition fails the lock was taken over or
force-unlocked: the lease is marked lost and the session refuses every further write with a
``LockError`` rather than write over the new holder's work. ``Lease.check`` also renews at once
when the thread has not managed to for two thirds of a lease (a suspended machine, a stopped
thread), so a holder never writes on a lease it cannot prove.

A holder that is gone frees the lock:

- when its lease expired, the next run takes the lock over (``IfMatch`` on the ETag it saw, so
  of several waiting runs exactly one wins) and warns through ``on_warning``. Expiry is judged on
  the store's clock (the lock's Last-Modified against the answer's Date, with one second of
  slack for their resolution), or by watching the same ETag stay unchanged for a whole lease on
  this machine's monotonic clock, so the hosts' clocks never need to agree;
- when it ran on this host and its process no longer exists, at once, with a warning.

Releasing: the renewal stops and the object is deleted only while its ETag is still ours (the
ETag is checked first, then the delete is conditional, for stores that ignore If-Match on DELETE).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from deployctl.errors import LockError, StateError
from deployctl.state.lock_holder import (
    HELD_BY_THIS_PROCESS,
    current_host,
    held_by_this_process,
    holder_summary,
    lock_body,
    lock_info_from_json,
    lost_lock_error,
    new_lock_info,
    other_id_error,
    parse_stamp,
    pid_running,
    stamp,
    unknown_holder,
    waiting_phrase,
)
from deployctl.state.protocol import LockInfo
from deployctl.state.s3_store import Conflict, S3Store, StoredObject

LEASE_SECONDS = 60.0

_POLL_FIRST = 0.05
_POLL_MAX = 1.0
_QUICK_RETRIES = 3
_CLOCK_SLACK = timedelta(seconds=1)  # Last-Modified and Date have one-second resolution


@dataclass(frozen=True)
class _Found:
    """The lock object as read: its holder (``None`` when unreadable) and its lease."""

    info: LockInfo | None
    unreadable: str  # why ``info`` is None
    etag: str
    lease_seconds: float
    expires: datetime | None  # when the lease runs out (store clock when known)
    expired: bool

    def describe(self) -> str:
        if self.info is not None:
            return self.info.describe()
        return f"an unreadable lock object ({self.unreadable})"

    def holder(self) -> str:
        if self.info is None:
            return "an unreadable lock"
        return holder_summary(self.info)


class S3Lock:
    """The lock of one state in a bucket: taken, inspected and removed here."""

    def __init__(
        self,
        store: S3Store,
        key: str,
        *,
        path: str,
        on_warning: Callable[[str], None],
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.store = store
        self.key = key
        self.path = path
        self.on_warning = on_warning
        self.lease_seconds = lease_seconds

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> _Found | None:
        stored = self.store.get(self.key, "read the lock")
        return None if stored is None else self._parse(stored)

    def _parse(self, stored: StoredObject) -> _Found:
        info: LockInfo | None = None
        unreadable = ""
        lease = LEASE_SECONDS
        body_expires: datetime | None = None
        try:
            data = json.loads(stored.body)
            info = lock_info_from_json(data)
            raw_lease = data.get("lease_seconds")
            if isinstance(raw_lease, int | float) and not isinstance(raw_lease, bool):
                lease = float(raw_lease) if raw_lease > 0 else LEASE_SECONDS
            body_expires = parse_stamp(data.get("lease_expires"))
        except ValueError as exc:  # JSON, UTF-8 and LockInfo errors alike
            unreadable = f"it is not valid lock JSON: {exc}"
        expires: datetime | None
        if stored.last_modified is not None and stored.server_time is not None:
            expires = stored.last_modified + timedelta(seconds=lease)
            expired = stored.server_time - _CLOCK_SLACK > expires
        else:  # no server clock to go by: trust the holder's clock
            expires = body_expires
            expired = expires is not None and datetime.now(UTC) > expires
        return _Found(info, unreadable, stored.etag, lease, expires, expired)

    def _placeholder(self, found: _Found) -> LockInfo:
        return unknown_holder(
            found.unreadable,
            created=stamp(found.expires) if found.expires else "unknown",
            path=self.path,
        )

    def info(self) -> LockInfo | None:
        """Who holds the lock, or ``None`` (an unreadable lock gives a placeholder, id "")."""
        found = self._read()
        if found is None:
            return None
        return found.info or self._placeholder(found)

    # -- taking ----------------------------------------------------------------------------

    def _body(self, info: LockInfo) -> bytes:
        expires = datetime.now(UTC) + timedelta(seconds=self.lease_seconds)
        return lock_body(info, lease_seconds=self.lease_seconds, lease_expires=stamp(expires))

    def acquire(self, *, operation: str, timeout: float = 0.0) -> Lease:
        """Create (or take over) the lock, polling up to ``timeout`` seconds; starts renewing."""
        info = new_lock_info(operation, self.path)
        deadline = time.monotonic() + max(0.0, timeout)
        delay = _POLL_FIRST
        seen: dict[str, float] = {}  # ETag -> when this run first saw it (monotonic)
        vanished = 0
        while True:
            started = time.monotonic()
            try:
                etag = self.store.put(
                    self.key, self._body(info), what="create the lock", if_none_match=True
                )
                return Lease(self, info, etag, started).start()
            except Conflict:
                pass
            found = self._read()
            if found is None:  # released between our attempt and the read: try again
                vanished += 1
                if vanished > _QUICK_RETRIES:  # it keeps vanishing: do not spin on the store
                    time.sleep(_POLL_FIRST)
                continue
            vanished = 0
            first_seen = seen.setdefault(found.etag, time.monotonic())
            reason = self._takeover_reason(found, time.monotonic() - first_seen)
            if reason is not None:
                started = time.monotonic()
                try:
                    etag = self.store.put(
                        self.key, self._body(info), what="take over the lock", if_match=found.etag
                    )
                except Conflict:
                    continue  # renewed, released or taken by another run meanwhile
                self.on_warning(
                    f"took over the state lock of {found.holder()} on {self.path}: {reason}"
                )
                return Lease(self, info, etag, started).start()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._held_error(found, timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _POLL_MAX, found.lease_seconds / 4)

    def _takeover_reason(self, found: _Found, unchanged_for: float) -> str | None:
        holder = found.info
        if (
            holder is not None
            and holder.host == current_host()
            and holder.pid != os.getpid()
            and pid_running(holder.pid) is False
        ):
            return f"process {holder.pid} no longer runs on this host"
        if found.expired and found.expires is not None:
            return f"its lease expired at {stamp(found.expires)}"
        if unchanged_for > found.lease_seconds:
            return (
                f"its lease was not renewed for {unchanged_for:.1f}s "
                f"(lease {found.lease_seconds:g}s)"
            )
        return None

    def _held_error(self, found: _Found, timeout: float) -> LockError:
        waited = waiting_phrase(timeout)
        message = f"{waited} the lock on state {self.path}: {found.describe()}"
        holder = found.info
        if holder is not None and held_by_this_process(holder):
            message += HELD_BY_THIS_PROCESS
        if found.expires is not None:
            message += f"; its lease expires at {stamp(found.expires)} unless renewed"
        lock_id = holder.id if holder is not None else ""
        return LockError(
            message,
            hint="wait for that run to finish or retry with '--lock-timeout 5m'; a lock whose "
            "holder died is taken over once its lease expires, or run "
            f"'deployctl force-unlock {lock_id}'".rstrip(),
        )

    # -- removing --------------------------------------------------------------------------

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        """Remove the lock whoever holds it (only if its id is ``lock_id`` when given)."""
        found = self._read()
        if found is None:
            return None
        if lock_id is not None and (found.info is None or found.info.id != lock_id):
            raise other_id_error(self.path, lock_id, found.describe())
        try:
            if not self.store.delete(self.key, what="remove the lock", if_match=found.etag):
                return None
        except Conflict as exc:
            raise LockError(
                f"the lock on state {self.path} changed while it was being removed",
                hint="run 'deployctl force-unlock' again to see who holds it now",
            ) from exc
        return found.info or self._placeholder(found)


class Lease:
    """A lock this process holds; a daemon thread renews it until ``stop`` or ``release``."""

    def __init__(self, lock: S3Lock, info: LockInfo, etag: str, renewed: float) -> None:
        """``renewed``: when (``time.monotonic()``) the write that gave ``etag`` was sent."""
        self.lock = lock
        self.info = info
        self._etag = etag
        self._mutex = threading.Lock()
        self._renewed = renewed
        self._lost: str | None = None
        self._released = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def interval(self) -> float:
        return self.lock.lease_seconds / 3

    def start(self) -> Lease:
        self._thread = threading.Thread(
            target=self._run, name=f"deployctl lease {self.lock.key}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except LockError:
                return  # lost: check() reports it to the session
            except StateError:
                continue  # the store is unreachable now; the next tick tries again

    def stop(self) -> None:
        """Stop renewing and leave the lock to expire (what a process that dies does)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def renew(self) -> None:
        """Extend the lease now; raises ``LockError`` when the lock is no longer ours."""
        with self._mutex:
            self._raise_if_lost()
            started = time.monotonic()  # the store's clock starts the lease no earlier
            try:
                self._etag = self.lock.store.put(
                    self.lock.key,
                    self.lock._body(self.info),
                    what="renew the lock",
                    if_match=self._etag,
                )
            except Conflict:
                try:
                    current = self.lock.info()
                    now = current.describe() if current else "nobody holds it now"
                except StateError:
                    now = "the lock cannot be read now"
                self._lost = f"it was taken over or force-unlocked: {now}"
                self._raise_if_lost()
            self._renewed = started

    def check(self) -> None:
        """Raise ``LockError`` unless the lock is ours; renews first when the lease is ageing."""
        with self._mutex:
            self._raise_if_lost()
            fresh = time.monotonic() - self._renewed < self.lock.lease_seconds * 2 / 3
        if not fresh:
            self.renew()

    def _raise_if_lost(self) -> None:
        if self._released:
            raise LockError(f"the lock on state {self.lock.path} was released")
        if self._lost is not None:
            raise lost_lock_error(f"state {self.lock.path}", f" ({self._lost})")

    def release(self) -> bool:
        """Stop renewing and delete the lock if it is still ours; returns whether it was."""
        self.stop()
        with self._mutex:
            if self._released:
                return False
            self._released = True
            if self._lost is not None:
                return False
            try:
                found = self.lock.store.head(self.lock.key, "check the lock")
                if found is None or found.etag != self._etag:
                    return False
                return self.lock.store.delete(
                    self.lock.key, what="remove the lock", if_match=self._etag
                )
            except Conflict:
                return False
            except StateError as exc:
                raise LockError(
                    f"cannot remove the lock on state {self.lock.path}: {exc}",
                    hint=f"it expires by itself; or run 'deployctl force-unlock {self.info.id}'",
                ) from exc
