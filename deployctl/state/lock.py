"""The state lock: an exclusive ``<state>.lock`` file saying who holds it, freed when they are gone.

The file is created with ``O_CREAT | O_EXCL`` (atomic on local filesystems and on NFS) and holds
``LockInfo`` JSON with two more keys that readers tolerate when missing: ``lease_expires``, pushed
forward in place by a thread of the holding run every third of the lease, and ``process`` (the
kernel boot, pid namespace and start time of the holder's process, on Linux), which tells a pid
that was reused from the holder's own.

A lock whose holder is gone is taken over by the next run, with a warning:

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
with ``link``, which never overwrites a lock created in between.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deployctl.atomic import fsync_dir
from deployctl.errors import LockError
from deployctl.model import JSONObject
from deployctl.model.state import utc_now
from deployctl.state.protocol import LockInfo

DEFAULT_LEASE_SECONDS = 60.0

# Serialises this process's create/check/remove steps on lock files, so that one thread's
# release cannot remove a lock another thread took between that release's check and its unlink.
_PROCESS_MUTEX = threading.Lock()

# Ids of the locks this process holds: a lock file naming this pid with another id was left by an
# earlier process that had the same pid (a restarted container, a reboot), not by a live session.
_HELD_IDS: set[str] = set()

_POLL_FIRST = 0.02
_POLL_MAX = 0.5
_QUICK_RETRIES = 3

_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: a renewal never changes the file's size

_datasync = getattr(os, "fdatasync", os.fsync)


def current_user() -> str:
    """Who runs this process, for lock holders and history entries."""
    try:
        return getpass.getuser()
    except Exception:  # containers often have a uid without a passwd entry
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def current_host() -> str:
    """This machine's host name, for lock holders and history entries."""
    return socket.gethostname()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_STAMP_FORMAT)


def _parse_stamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


# -- which process holds a lock ----------------------------------------------------------------


@dataclass(frozen=True)
class ProcessMark:
    """A process beyond its pid (Linux): the kernel boot and pid namespace it runs in, and when
    it started (clock ticks after boot). Two runs with the same host name but another boot or
    namespace (a rebooted host, a container) do not share pids; the same pid with another start
    time is another process."""

    boot_id: str
    pid_namespace: str
    start_time: int

    @property
    def machine(self) -> tuple[str, str]:
        return (self.boot_id, self.pid_namespace)

    def to_json(self) -> JSONObject:
        return {
            "boot_id": self.boot_id,
            "pid_namespace": self.pid_namespace,
            "start_time": self.start_time,
        }

    @classmethod
    def from_json(cls, data: object) -> ProcessMark | None:
        """The mark, or ``None`` when ``data`` is not one (then it is ignored)."""
        if not isinstance(data, dict):
            return None
        boot_id, namespace = data.get("boot_id"), data.get("pid_namespace")
        start = data.get("start_time")
        if not isinstance(boot_id, str) or not isinstance(namespace, str):
            return None
        if not isinstance(start, int) or isinstance(start, bool):
            return None
        return cls(boot_id, namespace, start)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (ticks after boot) from ``/proc``, if readable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ")".
    fields = text.rpartition(")")[2].split()
    try:
        return fields[0], int(fields[19])  # fields 3 (state) and 22 (starttime)
    except (IndexError, ValueError):
        return None


_machine_cache: tuple[int, tuple[str, str] | None] | None = None


def _this_machine() -> tuple[str, str] | None:
    """This process's kernel boot id and pid namespace, or ``None`` where there is no /proc."""
    global _machine_cache
    pid = os.getpid()
    if _machine_cache is None or _machine_cache[0] != pid:  # recomputed in a forked child
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
                boot_id = handle.read().strip()
            machine: tuple[str, str] | None = (boot_id, os.readlink("/proc/self/ns/pid"))
        except (OSError, ValueError):
            machine = None
        _machine_cache = (pid, machine)
    return _machine_cache[1]


def _own_mark() -> ProcessMark | None:
    machine = _this_machine()
    stat = _proc_stat(os.getpid())
    if machine is None or stat is None:
        return None
    return ProcessMark(machine[0], machine[1], stat[1])


# -- reading the lock file ---------------------------------------------------------------------


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


def lock_file_bytes(info: LockInfo, lease_expires: str, process: ProcessMark | None) -> bytes:
    """The lock file's content: ``LockInfo`` JSON plus the lease (and the process mark)."""
    data: JSONObject = {**info.to_json(), "lease_expires": lease_expires}
    if process is not None:
        data["process"] = process.to_json()
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


@dataclass(frozen=True)
class _Holder:
    """A readable lock file: who holds it, their lease, and the exact bytes and file inspected."""

    info: LockInfo
    lease_expires: str | None
    process: ProcessMark | None
    raw: bytes
    identity: tuple[int, int]


@dataclass(frozen=True)
class _Unreadable:
    """A lock file that exists but holds no valid ``LockInfo`` (torn by a crash, or edited)."""

    reason: str
    modified: str


def _parse_holder(raw: bytes, identity: tuple[int, int]) -> _Holder:
    """Raises ``ValueError`` (JSON and UTF-8 errors included) when ``raw`` is not a lock."""
    data = json.loads(raw)
    info = lock_info_from_json(data)
    lease = data.get("lease_expires")
    return _Holder(
        info=info,
        lease_expires=lease if isinstance(lease, str) else None,
        process=ProcessMark.from_json(data.get("process")),
        raw=raw,
        identity=identity,
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _describe_holder(info: LockInfo) -> str:
    return f"{info.operation} (pid {info.pid} on host {info.host}, user {info.who})"


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

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> _Holder | _Unreadable | None:
        try:
            with open(self.path, "rb") as handle:
                st = os.fstat(handle.fileno())
                raw = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return _Unreadable(f"cannot read it: {exc.strerror}", utc_now())
        try:
            return _parse_holder(raw, (st.st_dev, st.st_ino))
        except ValueError as exc:  # includes JSON and UTF-8 decoding errors
            when = datetime.fromtimestamp(st.st_mtime, UTC).strftime(_STAMP_FORMAT)
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
        return found.info if found is not None else None

    def lease_expires(self) -> str | None:
        """When the current holder's lease runs out (``None``: no lock, or one without a lease)."""
        found = self._read()
        return found.lease_expires if isinstance(found, _Holder) else None

    # -- judging the holder ----------------------------------------------------------------

    def _on_this_machine(self, holder: _Holder) -> bool:
        """Whether the holder's pid means a process here (same host, boot and pid namespace)."""
        if holder.info.host != current_host():
            return False
        mine = _this_machine()
        return holder.process is None or mine is None or holder.process.machine == mine

    def _alive_here(self, holder: _Holder) -> bool | None:
        """Whether the holder's process (on this machine) still runs; ``None``: cannot tell."""
        pid = holder.info.pid
        if pid == os.getpid():
            return holder.info.id in _HELD_IDS
        stat = _proc_stat(pid) if pid > 0 else None
        if stat is not None:
            state, start = stat
            if state in ("Z", "X"):  # exited; only its exit status is left for its parent
                return False
            # Another start time: the pid was reused by another process.
            return holder.process is None or start == holder.process.start_time
        return pid_running(pid)

    def _stale_reason(self, holder: _Holder) -> str | None:
        """Why ``holder`` no longer holds the lock, or ``None`` while it (may) still run."""
        info = holder.info
        if self._on_this_machine(holder):
            if self._alive_here(holder) is False:
                return f"process {info.pid} is no longer running on this host"
            return None  # a live holder here keeps its lock whatever its lease says
        expires = _parse_stamp(holder.lease_expires)
        if expires is not None and datetime.now(UTC) >= expires:
            return f"its lease expired at {holder.lease_expires}"
        return None

    # -- taking ----------------------------------------------------------------------------

    def acquire(self, *, operation: str, timeout: float = 0.0) -> HeldLock:
        """Create the lock file, polling up to ``timeout`` seconds while someone else holds it.

        A holder known to be gone (see the module docstring) is taken over at once, with a
        warning, also while waiting.
        """
        info = LockInfo(
            id=str(uuid.uuid4()),
            operation=operation,
            who=current_user(),
            host=current_host(),
            pid=os.getpid(),
            created=utc_now(),
            path=str(self.state_path),
        )
        process = _own_mark()
        deadline = time.monotonic() + max(0.0, timeout)
        delay = _POLL_FIRST
        quick_retries = _QUICK_RETRIES
        removed: list[tuple[Path, _Holder, str]] = []  # stale locks moved aside, not yet deleted
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
                    found = _Unreadable("it cannot be opened (a dangling link?)", utc_now())
                if isinstance(found, _Holder):
                    reason = self._stale_reason(found)
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
                what = f"the state lock of {_describe_holder(holder.info)} on {self.state_path}"
                if won:
                    self.warn(f"took over {what}: {reason}")
                else:
                    self.warn(f"removed {what} ({reason}), but another run took the lock first")
                # Only now that ours exists: the new lock cannot get the old one's inode number.
                with contextlib.suppress(OSError):
                    os.unlink(aside)

    def _take_over(self, holder: _Holder) -> Path | None:
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
                raise self._cannot("inspect", exc) from exc
            if (st.st_dev, st.st_ino) != holder.identity:
                return None  # already replaced: look again
            return self._move_aside(lambda _st, raw: raw == holder.raw)

    def _try_create(self, info: LockInfo, process: ProcessMark | None) -> HeldLock | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LockError(
                f"cannot create the state directory {self.path.parent}: {exc.strerror}"
            ) from exc
        expires = _stamp(datetime.now(UTC) + timedelta(seconds=self.lease_seconds))
        data = lock_file_bytes(info, expires, process)
        with _PROCESS_MUTEX:
            _HELD_IDS.add(info.id)  # before the file exists: our threads must see it as live
            try:
                fd = self._create(data)
            except BaseException:
                _HELD_IDS.discard(info.id)
                raise
            if fd is None:
                _HELD_IDS.discard(info.id)
                return None
            return HeldLock(self, info, fd, process, expires)

    def _create(self, data: bytes) -> int | None:
        """Make ``data`` the lock file unless there is one; returns it open, or ``None``.

        The content is written to a temporary file first and then linked into place (atomic,
        and never over an existing file), so nobody ever reads a partly written lock. Where hard
        links are not supported the lock file is created empty and then written.
        """
        staged = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.new")
        try:
            fd = os.open(staged, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise self._create_error(exc) from exc
        linked = False
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                raise self._write_error(exc) from exc
            try:
                os.link(staged, self.path)
                linked = True
            except FileExistsError:
                # Over NFS a link that succeeded but whose reply was lost is retried and reported
                # as existing: the link count tells.
                linked = os.fstat(fd).st_nlink >= 2
                if not linked:
                    return None
            except OSError:
                pass  # no hard links on this filesystem
        finally:
            if not linked:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(staged)
        if not linked:
            return self._create_in_place(data)
        self._sync_new(fd)
        return fd

    def _create_in_place(self, data: bytes) -> int | None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        except OSError as exc:
            raise self._create_error(exc) from exc
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise self._write_error(exc) from exc
        self._sync_new(fd)
        return fd

    def _sync_new(self, fd: int) -> None:
        """Make the new lock file's name durable; on failure remove it again and raise."""
        try:
            fsync_dir(self.path.parent)
        except OSError as exc:
            st = os.fstat(fd)
            with contextlib.suppress(LockError):
                self._remove(
                    lambda found, _raw: (found.st_dev, found.st_ino) == (st.st_dev, st.st_ino)
                )
            os.close(fd)
            raise self._write_error(exc) from exc

    def _create_error(self, exc: OSError) -> LockError:
        return LockError(
            f"cannot create the lock file {self.path}: {exc.strerror}",
            hint="check that the state directory exists and is writable",
        )

    def _write_error(self, exc: OSError) -> LockError:
        return LockError(
            f"cannot write the lock file {self.path}: {exc.strerror}",
            hint="check free space and permissions in the state directory",
        )

    def remove_leftovers(self, *, older_than: float = 600.0) -> None:
        """Delete temporary lock files a crashed run left (``.new``, ``.aside``), once old enough
        that no run can still be using them."""
        pattern = re.compile(rf"^\.{re.escape(self.path.name)}\.[0-9a-f]{{32}}\.(?:new|aside)$")
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        now = time.time()
        for name in names:
            if not pattern.match(name):
                continue
            path = self.path.parent / name
            with contextlib.suppress(OSError):
                st = os.stat(path)
                if now - max(st.st_mtime, st.st_ctime) > older_than:
                    os.unlink(path)

    def _held_error(self, holder: _Holder | _Unreadable, timeout: float) -> LockError:
        waited = f"timed out after {timeout:g}s waiting for" if timeout > 0 else "cannot take"
        if isinstance(holder, _Unreadable):
            return LockError(
                f"{waited} the lock on state {self.state_path}: the lock file {self.path} exists "
                f"but {holder.reason}; a deployctl process may be writing it right now, or one "
                "crashed while taking the lock",
                hint=f"if no deployctl run is using this state, delete {self.path}",
            )
        info = holder.info
        message = f"{waited} the lock on state {self.state_path}: {info.describe()}"
        remedy = f"run 'deployctl force-unlock {info.id}'"
        if self._on_this_machine(holder):
            if info.pid == os.getpid():
                message += "; it is held by this process (another session is still open)"
            elif self._alive_here(holder) is None:
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

    # -- removing --------------------------------------------------------------------------

    def _cannot(self, what: str, exc: OSError) -> LockError:
        return LockError(
            f"cannot {what} the lock file {self.path}: {exc.strerror}",
            hint="check the permissions of the state directory",
        )

    def _move_aside(self, decide: Callable[[os.stat_result, bytes], bool]) -> Path | None:
        """Atomically take the lock file away if ``decide`` accepts it; returns where it is.

        Renaming is the one way to remove a file and learn which file was removed. A file that
        ``decide`` rejects is put back by ``link`` (never over a lock created in between).
        Returns ``None`` when there was no lock file or it was put back.
        """
        aside = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.aside")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._cannot("move", exc) from exc
        try:
            with open(aside, "rb") as handle:
                accepted = decide(os.fstat(handle.fileno()), handle.read())
        except OSError:
            accepted = False
        if accepted:
            return aside
        restored = True
        try:
            os.link(aside, self.path)
        except FileExistsError:
            restored = False
        except OSError:  # a filesystem without hard links: a rename is the best left
            restored = not os.path.lexists(self.path)
            if restored:
                with contextlib.suppress(OSError):
                    os.rename(aside, self.path)
        with contextlib.suppress(OSError):
            os.unlink(aside)
        if not restored:
            self.warn(
                f"the state lock {self.path} was replaced while this run inspected it; the lock "
                "it had moved aside could not be put back (its run stops at its next write)"
            )
        return None

    def _remove(self, decide: Callable[[os.stat_result, bytes], bool]) -> bytes | None:
        """Remove the lock file if ``decide`` accepts it; returns its content then."""
        aside = self._move_aside(decide)
        if aside is None:
            return None
        try:
            raw = aside.read_bytes()
            os.unlink(aside)
        except OSError as exc:
            raise self._cannot("remove", exc) from exc
        with contextlib.suppress(OSError):
            fsync_dir(self.path.parent)
        return raw

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
            elif lock_id is not None and found.info.id != lock_id:
                raise self._other_id(found.info, lock_id)

            def matches(_st: os.stat_result, raw: bytes) -> bool:
                if lock_id is None:
                    return True
                with contextlib.suppress(ValueError):
                    return lock_info_from_json(json.loads(raw)).id == lock_id
                return False

            removed = self._remove(matches)
            if removed is None:
                if lock_id is not None and (now := self.info()) is not None:
                    raise self._other_id(now, lock_id)
                return None
            try:
                return lock_info_from_json(json.loads(removed))
            except ValueError:
                if isinstance(found, _Unreadable):
                    return self._placeholder(found)
                return self._placeholder(_Unreadable("it is not valid lock JSON", utc_now()))

    def _other_id(self, info: LockInfo, lock_id: str) -> LockError:
        return LockError(
            f"state {self.state_path} is not locked with id {lock_id}: it is {info.describe()}",
            hint="the current lock id is in the error of the run that could not take the lock; "
            "force-unlock without an id removes whatever lock is there",
        )


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
            return isinstance(found, _Holder) and found.info.id == self.info.id
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
            expires = _stamp(datetime.now(UTC) + timedelta(seconds=seconds))
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
                    removed = self.lock_file._remove(
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
                    _HELD_IDS.discard(self.info.id)
                return removed is not None
        finally:
            if self._renewer is not threading.current_thread():
                self._renewer.join(timeout=5)
