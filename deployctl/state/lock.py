"""The state lock: an exclusive ``<state>.lock`` file saying who holds it (Terraform semantics).

The file is created with ``O_CREAT | O_EXCL``, which is atomic on local filesystems, and holds
``LockInfo`` JSON. A lock whose holder died is reported as such but never taken over
automatically: only ``force-unlock`` removes someone else's lock (leased locks come later).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from deployctl.atomic import fsync_dir
from deployctl.errors import LockError
from deployctl.state.document import utc_now
from deployctl.state.protocol import LockInfo

# Serialises this process's create/check/remove steps on lock files, so that one thread's
# release cannot remove a lock another thread took between that release's check and its unlink.
_PROCESS_MUTEX = threading.Lock()

_POLL_FIRST = 0.02
_POLL_MAX = 0.5


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # containers often have a uid without a passwd entry
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _host() -> str:
    return socket.gethostname()


def pid_running(pid: int) -> bool | None:
    """Whether ``pid`` runs on this host: ``True``, ``False``, or ``None`` when unknowable."""
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return None
    return True


def lock_info_from_json(data: object) -> LockInfo:
    """Parse lock file content; raises ``ValueError`` when it is not ``LockInfo`` JSON."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    try:
        pid = data["pid"]
        if not isinstance(pid, int) or isinstance(pid, bool):
            raise ValueError("'pid' is not an integer")
        fields = {k: data[k] for k in ("id", "operation", "who", "host", "created", "path")}
    except KeyError as exc:
        raise ValueError(f"missing {exc}") from exc
    for key, value in fields.items():
        if not isinstance(value, str):
            raise ValueError(f"{key!r} is not a string")
    return LockInfo(pid=pid, **fields)


@dataclass(frozen=True)
class _Unreadable:
    """A lock file that exists but holds no valid ``LockInfo`` (torn by a crash, or edited)."""

    reason: str
    modified: str


class LockFile:
    """The lock of one state file: ``<state path>.lock``."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.path = state_path.with_name(state_path.name + ".lock")

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> LockInfo | _Unreadable | None:
        try:
            raw = self.path.read_bytes()
            modified = os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None
        except OSError as exc:
            return _Unreadable(f"cannot read it: {exc.strerror}", utc_now())
        try:
            return lock_info_from_json(json.loads(raw))
        except ValueError as exc:  # includes JSON and UTF-8 decoding errors
            when = datetime.fromtimestamp(modified, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            return _Unreadable(f"it is not valid lock JSON ({exc})", when)

    def _placeholder(self, unreadable: _Unreadable) -> LockInfo:
        return LockInfo(
            id="",
            operation=f"unknown (unreadable lock file: {unreadable.reason})",
            who="unknown",
            host="unknown",
            pid=0,
            created=unreadable.modified,
            path=str(self.state_path),
        )

    def info(self) -> LockInfo | None:
        """Who holds the lock, or ``None`` (an unreadable lock file gives a placeholder, id "")."""
        found = self._read()
        if isinstance(found, _Unreadable):
            return self._placeholder(found)
        return found

    # -- taking ----------------------------------------------------------------------------

    def acquire(self, *, operation: str, timeout: float = 0.0) -> HeldLock:
        """Create the lock file, polling up to ``timeout`` seconds while someone else holds it."""
        info = LockInfo(
            id=str(uuid.uuid4()),
            operation=operation,
            who=_user(),
            host=_host(),
            pid=os.getpid(),
            created=utc_now(),
            path=str(self.state_path),
        )
        data = (json.dumps(info.to_json(), indent=2, sort_keys=True) + "\n").encode()
        deadline = time.monotonic() + max(0.0, timeout)
        delay = _POLL_FIRST
        quick_retries = 3
        while True:
            held = self._try_create(info, data)
            if held is not None:
                return held
            holder = self._read()
            if holder is None:
                if quick_retries > 0:  # released between our attempt and the read: retry now
                    quick_retries -= 1
                    continue
                holder = _Unreadable("it cannot be opened (a dangling link?)", utc_now())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._held_error(holder, timeout)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, _POLL_MAX)

    def _try_create(self, info: LockInfo, data: bytes) -> HeldLock | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(
                f"cannot create the state directory {self.path.parent}: {exc.strerror}"
            ) from exc
        with _PROCESS_MUTEX:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return None
            except OSError as exc:
                raise LockError(
                    f"cannot create the lock file {self.path}: {exc.strerror}",
                    hint="check that the state directory exists and is writable",
                ) from exc
            try:
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                    identity = _identity(os.fstat(fd))
                finally:
                    os.close(fd)
                fsync_dir(self.path.parent)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                raise LockError(
                    f"cannot write the lock file {self.path}: {exc.strerror}",
                    hint="check free space and permissions in the state directory",
                ) from exc
            return HeldLock(self, info, identity)

    def _held_error(self, holder: LockInfo | _Unreadable, timeout: float) -> LockError:
        waited = f"timed out after {timeout:g}s waiting for" if timeout > 0 else "cannot take"
        if isinstance(holder, _Unreadable):
            return LockError(
                f"{waited} the lock on state {self.state_path}: the lock file {self.path} exists "
                f"but {holder.reason}; a deployctl process may be writing it right now, or one "
                "crashed while taking the lock",
                hint=f"if no deployctl run is using this state, delete {self.path}",
            )
        message = f"{waited} the lock on state {self.state_path}: {holder.describe()}"
        if holder.host == _host():
            if holder.pid == os.getpid():
                message += "; it is held by this process (another session is still open)"
            elif pid_running(holder.pid) is False:
                message += f"; process {holder.pid} is no longer running on this host"
                return LockError(
                    message,
                    hint="it is not removed automatically: if no deployctl run is using this "
                    f"state, run 'deployctl force-unlock {holder.id}'",
                )
        return LockError(
            message,
            hint="wait for that run to finish, retry with '--lock-timeout 5m' to wait for it, or, "
            f"if that process is gone, run 'deployctl force-unlock {holder.id}'",
        )

    # -- removing --------------------------------------------------------------------------

    def force_unlock(self, lock_id: str | None = None) -> LockInfo | None:
        """Remove the lock whoever holds it (only if its id is ``lock_id`` when given)."""
        with _PROCESS_MUTEX:
            found = self._read()
            if found is None:
                return None
            if isinstance(found, _Unreadable):
                if lock_id is not None:
                    raise LockError(
                        f"the lock file {self.path} exists but {found.reason}, so its id cannot "
                        f"be compared with {lock_id}",
                        hint="if no deployctl run is using this state, run 'deployctl "
                        "force-unlock' without a lock id",
                    )
                removed = self._placeholder(found)
            else:
                if lock_id is not None and found.id != lock_id:
                    raise LockError(
                        f"state {self.state_path} is not locked with id {lock_id}: it is "
                        f"{found.describe()}",
                        hint="the current lock id is in the error of the run that could not "
                        "take the lock; force-unlock without an id removes whatever lock is there",
                    )
                removed = found
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise LockError(f"cannot remove the lock file {self.path}: {exc.strerror}") from exc
            return removed


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


class HeldLock:
    """A lock this process took; ``release`` removes it only while it is still this one."""

    def __init__(self, lock_file: LockFile, info: LockInfo, identity: tuple[int, int, int]) -> None:
        self.lock_file = lock_file
        self.info = info
        self._identity = identity
        self._released = False

    def still_held(self) -> bool:
        """Whether the lock file is still ours (not force-unlocked, not taken by another run).

        A stat is enough while the file is unchanged; any change (a new file may reuse the inode
        number but not its change time) falls back to comparing the id inside.
        """
        if self._released:
            return False
        try:
            if _identity(os.stat(self.lock_file.path)) == self._identity:
                return True
        except FileNotFoundError:
            return False
        except OSError:
            pass
        found = self.lock_file._read()
        return isinstance(found, LockInfo) and found.id == self.info.id

    def release(self) -> bool:
        """Remove the lock file if it is still ours; returns whether it was."""
        with _PROCESS_MUTEX:
            if self._released:
                return False
            self._released = True
            found = self.lock_file._read()
            if not isinstance(found, LockInfo) or found.id != self.info.id:
                return False
            try:
                os.unlink(self.lock_file.path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise LockError(
                    f"cannot remove the lock file {self.lock_file.path}: {exc.strerror}",
                    hint=f"run 'deployctl force-unlock {self.info.id}'",
                ) from exc
            return True
