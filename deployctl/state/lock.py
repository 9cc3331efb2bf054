"""The state lock: an exclusive ``<state>.lock`` file saying who holds it, freed when they are gone.

The file is created with ``O_CREAT | O_EXCL`` (atomic on local filesystems and on NFS) and holds
``LockInfo`` JSON with two more keys that readers tolerate when missing: ``lease_expires``, pushed
forward in place by a thread of the holding run every third of the lease, and ``process`` (the
kernel boot, pid namespace and start time of the holder's process, on Linux), which tells a pid
that was reused from the holder's own.

A lock whose holder is gone is taken over by the next run, with a warning
(``state/lock_takeover.py``):

- the holder ran on this machine (same host name and, when recorded, same kernel boot and pid
  namespace) and its process no longer exists (or its pid now belongs to another process):
  at once;
- the holder ran elsewhere (another host sharing the disk, e.g. over NFS): once its lease
  expired, i.e. nobody renewed it for a whole lease.

A live holder on this machine keeps its lock whatever its lease says: it may be in the middle of
a plugin call while stopped in a debugger or starved of CPU. A lock without a lease from another
host (written by an older deployctl) and an unreadable lock file are only removed by
``force-unlock``.

Removing a lock (release, takeover, force-unlock) is race-free between processes: the lock file
is renamed to a unique name, which only one process can do to a given file, then checked to be
the very file that was inspected; one that is not (another run replaced it meanwhile) is put back
with ``link``, which never overwrites a lock created in between (``state/lock_files.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deployctl.errors import LockError
from deployctl.model.state import utc_now
from deployctl.state.lock_files import LockPath
from deployctl.state.lock_holder import (
    HELD_BY_THIS_PROCESS,
    STAMP_FORMAT,
    holder_summary,
    lock_info_from_json,
    new_lock_info,
    other_id_error,
    stamp,
    unknown_holder,
    waiting_phrase,
)
from deployctl.state.lock_takeover import (
    HELD_IDS,
    FileHolder,
    ProcessMark,
    Unreadable,
    lock_file_bytes,
    own_mark,
)
from deployctl.state.protocol import LockInfo

DEFAULT_LEASE_SECONDS = 60.0

# Serialises this process's create/check/remove steps on lock files, so that one thread's
# release cannot remove a lock another thread took between that release's check and its unlink.
_PROCESS_MUTEX = threading.Lock()

_POLL_FIRST = 0.02
_POLL_MAX = 0.5
_QUICK_RETRIES = 3

_datasync = getattr(os, "fdatasync", os.fsync)


class LockFile:
    """The lock of one state file: ``<state path>.lock``."""

    def __init__(
        self,
        state_path: Path,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("the lease must be positive")
        self.state_path = state_path
        self.path = state_path.with_name(state_path.name + ".lock")
        self.lease_seconds = lease_seconds
        self.warn = on_warning or logging.getLogger(__name__).warning
        self.files = LockPath(self.path, self.warn)

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> FileHolder | Unreadable | None:
        try:
            with open(self.path, "rb") as handle:
                st = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Unreadable(f"cannot read it: {exc.strerror}", utc_now())
        try:
            return FileHolder.parse(raw, (st.st_dev, st.st_ino))
        except ValueError as exc:  # includes JSON and UTF-8 decoding errors
            when = datetime.fromtimestamp(st.st_mtime, UTC).strftime(STAMP_FORMAT)
            return Unreadable(f"it is not valid lock JSON ({exc})", when)

    def _placeholder(self, unreadable: Unreadable) -> LockInfo:
        return unknown_holder(
            f"unreadable lock file: {unreadable.reason}",
            created=unreadable.modified,
            path=str(self.state_path),
        )

    def info(self) -> LockInfo | None:
        """Who holds the lock, or ``None`` (an unreadable lock file gives a placeholder, id "")."""
        found = self._read()
        if isinstance(found, Unreadable):
            return self._placeholder(found)
        return found.info if found is not None else None

    def lease_expires(self) -> str | None:
        """When the current holder's lease runs out (``None``: no lock, or one without a lease)."""
        found = self._read()
        return found.lease_expires if isinstance(found, FileHolder) else None

    # -- taking ----------------------------------------------------------------------------

    def acquire(self, *, operation: str, timeout: float = 0.0) -> HeldLock:
        """Create the lock file, polling up to ``timeout`` seconds while someone else holds it.

        A holder known to be gone (see the module docstring) is taken over at once, with a
        warning, also while waiting.
        """
        info = new_lock_info(operation, str(self.state_path))
        process = own_mark()
        deadline = time.monotonic() + max(0.0, timeout)
        delay = _POLL_FIRST
        quick_retries = _QUICK_RETRIES
        removed: list[tuple[Path, FileHolder, str]] = []  # stale locks moved aside, not yet deleted
        won = False
        try:
            while True:
                held = self._try_create(info, process)
                if held is not None:
                    won = True
                    return held
                found = self._read()
                if found is None:
                    if quick_retries > 0:  # released between our attempt and the read: retry now
                        quick_retries -= 1
                        continue
                    found = Unreadable("it cannot be opened (a dangling link?)", utc_now())
                if isinstance(found, FileHolder):
                    reason = found.stale_reason()
                    if reason is not None and quick_retries > 0:
                        quick_retries -= 1
                        aside = self._take_over(found)
                        if aside is not None:
                            removed.append((aside, found, reason))
                        continue  # create ours now (or see who was faster)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._held_error(found, timeout)
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, _POLL_MAX)
                quick_retries = _QUICK_RETRIES
        finally:
            for aside, holder, reason in removed:
                what = f"the state lock of {holder_summary(holder.info)} on {self.state_path}"
                if won:
                    self.warn(f"took over {what}: {reason}")
                else:
                    self.warn(f"removed {what} ({reason}), but another run took the lock first")
                # Only now that ours exists: the new lock cannot get the old one's inode number.
                with contextlib.suppress(OSError):
                    os.unlink(aside)

    def _take_over(self, holder: FileHolder) -> Path | None:
        """Move ``holder``'s lock file aside if it is still exactly that file; returns where.

        The caller deletes the moved file only after creating its own lock, so that the new
        lock cannot get the old one's inode number and be mistaken for it by a slower racer.
        """
        with _PROCESS_MUTEX:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise self.files.cannot("inspect", exc) from exc
            if (st.st_dev, st.st_ino) != holder.identity:
                return None  # already replaced: look again
            return self.files.move_aside(lambda _st, raw: raw == holder.raw)

    def _try_create(self, info: LockInfo, process: ProcessMark | None) -> HeldLock | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(
                f"cannot create the state directory {self.path.parent}: {exc.strerror}"
            ) from exc
        expires = stamp(datetime.now(UTC) + timedelta(seconds=self.lease_seconds))
        data = lock_file_bytes(info, expires, process)
        with _PROCESS_MUTEX:
            HELD_IDS.add(info.id)  # before the file exists: our threads must see it as live
            try:
                fd = self.files.create(data)
            except BaseException:
                HELD_IDS.discard(info.id)
                raise
            if fd is None:
                HELD_IDS.discard(info.id)
                return None
            return HeldLock(self, info, fd, process, expires)

    def remove_leftovers(self, *, older_than: float = 600.0) -> None:
        """Delete temporary lock files a crashed run left, once old enough that no run can
        still be using them (``LockPath.remove_leftovers``)."""
        self.files.remove_leftovers(older_than=older_than)

    # -- refusing ----------------------------------------------------------------------------

    def _held_error(self, holder: FileHolder | Unreadable, timeout: float) -> LockError:
        waited = waiting_phrase(timeout)
        if isinstance(holder, Unreadable):
            return LockError(
                f"{waited} the lock on state {self.state_path}: the lock file {self.path} exists "
                f"but {holder.reason}; a deployctl process may be writing it right now, or one "
                "crashed while taking the lock",
                hint=f"if no deployctl run is using this state, delete {self.path}",
            )
        info = holder.info
        message = f"{waited} the lock on state {self.state_path}: {info.describe()}"
        remedy = f"run 'deployctl force-unlock {info.id}'"
        if holder.on_this_machine():
            if info.pid == os.getpid():
                message += HELD_BY_THIS_PROCESS
            elif holder.alive_here() is None:
                message += f"; whether process {info.pid} still runs cannot be told"
        elif holder.lease_expires is None:
            message += (
                "; it runs on another host (or container) without a lease (an older deployctl "
                "took it), so it does not free itself"
            )
        else:
            message += (
                f"; it runs on another host (or container), which renews its lease (now until "
                f"{holder.lease_expires}): the lock frees itself if that run dies"
            )
        return LockError(
            message,
            hint="wait for that run to finish, retry with '--lock-timeout 5m' to wait for it, or, "
            f"if that process is gone, {remedy}",
        )

    # -- removing ---------------------------------------------------------------------------

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        """Remove the lock whoever holds it (only if its id is ``lock_id`` when given)."""
        with _PROCESS_MUTEX:
            found = self._read()
            if found is None:
                return None
            if isinstance(found, Unreadable):
                if lock_id is not None:
                    raise LockError(
                        f"the lock file {self.path} exists but {found.reason}, so its id cannot "
                        f"be compared with {lock_id}",
                        hint="if no deployctl run is using this state, run 'deployctl "
                        "force-unlock' without a lock id",
                    )
            elif lock_id is not None and found.info.id != lock_id:
                raise self._other_id(found.info, lock_id)

            def matches(_st: os.stat_result, raw: bytes) -> bool:
                if lock_id is None:
                    return True
                with contextlib.suppress(ValueError):
                    return lock_info_from_json(json.loads(raw)).id == lock_id
                return False

            removed = self.files.remove(matches)
            if removed is None:
                if lock_id is not None and (now := self.info()) is not None:
                    raise self._other_id(now, lock_id)
                return None
            try:
                return lock_info_from_json(json.loads(removed))
            except ValueError:
                if isinstance(found, Unreadable):
                    return self._placeholder(found)
                return self._placeholder(Unreadable("it is not valid lock JSON", utc_now()))

    def _other_id(self, info: LockInfo, lock_id: str) -> LockError:
        return other_id_error(str(self.state_path), lock_id, info.describe())


class HeldLock:
    """A lock this process took: renews its lease, and releases it only while it is still its.

    The lock file stays open, which keeps its inode number from being reused: the file at the
    lock path is still ours exactly when it has that device and inode number.
    """

    def __init__(
        self,
        lock_file: LockFile,
        info: LockInfo,
        fd: int,
        process: ProcessMark | None,
        lease_expires: str,
    ) -> None:
        self.lock_file = lock_file
        self.info = info
        self.lease_expires = lease_expires
        self._fd = fd
        self._process = process
        st = os.fstat(fd)
        self._identity = (st.st_dev, st.st_ino)
        self._mutex = threading.Lock()
        self._released = False
        self._stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_loop, name=f"deployctl lock lease {info.id}", daemon=True
        )
        self._renewer.start()

    def still_held(self) -> bool:
        """Whether the lock file is still ours (not force-unlocked, not taken over)."""
        if self._released:
            return False
        try:
            st = os.stat(self.lock_file.path)
        except FileNotFoundError:
            return False
        except OSError:
            found = self.lock_file._read()
            return isinstance(found, FileHolder) and found.info.id == self.info.id
        return (st.st_dev, st.st_ino) == self._identity

    def renew(self) -> bool:
        """Push the lease forward; ``False`` (and nothing written) once the lock is not ours.

        The content keeps its size (fixed-width time stamp), so a reader never sees a
        truncated file; raises ``OSError`` when the write fails.
        """
        with self._mutex:
            if self._released or not self.still_held():
                return False
            seconds = self.lock_file.lease_seconds
            expires = stamp(datetime.now(UTC) + timedelta(seconds=seconds))
            data = lock_file_bytes(self.info, expires, self._process)
            written = os.pwrite(self._fd, data, 0)
            if written != len(data) or os.fstat(self._fd).st_size != len(data):
                os.ftruncate(self._fd, len(data))
                os.pwrite(self._fd, data, 0)
            _datasync(self._fd)
            self.lease_expires = expires
            return True

    def _renew_loop(self) -> None:
        interval = self.lock_file.lease_seconds / 3
        failing = False
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    return
                failing = False
            except OSError as exc:
                if not failing:
                    self.lock_file.warn(
                        f"cannot renew the lease of the state lock {self.lock_file.path}: "
                        f"{exc.strerror}; runs on other hosts may take the lock over after "
                        f"{self.lease_expires}"
                    )
                failing = True

    def release(self) -> bool:
        """Remove the lock file if it is still ours; returns whether it was."""
        try:
            with _PROCESS_MUTEX, self._mutex:
                if self._released:
                    return False
                self._released = True
                self._stop.set()
                try:
                    identity = self._identity
                    removed = self.lock_file.files.remove(
                        lambda st, _raw: (st.st_dev, st.st_ino) == identity
                    )
                except LockError as exc:
                    raise LockError(
                        exc.message, hint=f"run 'deployctl force-unlock {self.info.id}'"
                    ) from exc
                finally:
                    # Only now: while open, the inode number cannot be reused by another file.
                    with contextlib.suppress(OSError):
                        os.close(self._fd)
                    HELD_IDS.discard(self.info.id)
                return removed is not None
        finally:
            if self._renewer is not threading.current_thread():
                self._renewer.join(timeout=5)
