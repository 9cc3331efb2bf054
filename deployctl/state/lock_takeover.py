"""Whether the holder of a local lock file is gone: its process, its lease, the takeover rules.

A lock file names its holder (``LockInfo``) and may carry two more keys: ``lease_expires`` and
``process``, a ``ProcessMark`` (the kernel boot, pid namespace and start time of the holder's
process, on Linux), which tells a pid that was reused from the holder's own. ``stale_reason``
applies the rules of ``state/lock.py``:

- the holder ran on this machine (same host name and, when recorded, same kernel boot and pid
  namespace) and its process no longer exists (or its pid now belongs to another process):
  it is gone at once;
- the holder ran elsewhere: it is gone once its lease expired;
- a live holder on this machine keeps its lock whatever its lease says.

``HELD_IDS`` are the ids of the locks this process holds: a lock file naming this pid with
another id was left by an earlier process that had the same pid (a restarted container, a
reboot), not by a live session.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from deployctl.model import JSONObject
from deployctl.state.lock_holder import (
    current_host,
    lock_body,
    lock_info_from_json,
    parse_stamp,
    pid_running,
)
from deployctl.state.protocol import LockInfo

HELD_IDS: set[str] = set()


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


def proc_stat(pid: int) -> tuple[str, int] | None:
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


def this_machine() -> tuple[str, str] | None:
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


def own_mark() -> ProcessMark | None:
    """This process's mark, or ``None`` where there is no /proc."""
    machine = this_machine()
    stat = proc_stat(os.getpid())
    if machine is None or stat is None:
        return None
    return ProcessMark(machine[0], machine[1], stat[1])


def lock_file_bytes(info: LockInfo, lease_expires: str, process: ProcessMark | None) -> bytes:
    """The lock file's content: ``LockInfo`` JSON plus the lease (and the process mark)."""
    if process is None:
        return lock_body(info, lease_expires=lease_expires)
    return lock_body(info, lease_expires=lease_expires, process=process.to_json())


# -- the lock file as read ---------------------------------------------------------------------


@dataclass(frozen=True)
class FileHolder:
    """A readable lock file: who holds it, their lease, and the exact bytes and file inspected."""

    info: LockInfo
    lease_expires: str | None
    process: ProcessMark | None
    raw: bytes
    identity: tuple[int, int]

    @classmethod
    def parse(cls, raw: bytes, identity: tuple[int, int]) -> FileHolder:
        """Raises ``ValueError`` (JSON and UTF-8 errors included) when ``raw`` is not a lock."""
        data = json.loads(raw)
        info = lock_info_from_json(data)
        lease = data.get("lease_expires")
        return cls(
            info=info,
            lease_expires=lease if isinstance(lease, str) else None,
            process=ProcessMark.from_json(data.get("process")),
            raw=raw,
            identity=identity,
        )

    def on_this_machine(self) -> bool:
        """Whether the holder's pid means a process here (same host, boot and pid namespace)."""
        if self.info.host != current_host():
            return False
        mine = this_machine()
        return self.process is None or mine is None or self.process.machine == mine

    def alive_here(self) -> bool | None:
        """Whether the holder's process (on this machine) still runs; ``None``: cannot tell."""
        pid = self.info.pid
        if pid == os.getpid():
            return self.info.id in HELD_IDS
        stat = proc_stat(pid) if pid > 0 else None
        if stat is not None:
            state, start = stat
            if state in ("Z", "X"):  # exited; only its exit status is left for its parent
                return False
            # Another start time: the pid was reused by another process.
            return self.process is None or start == self.process.start_time
        return pid_running(pid)

    def stale_reason(self) -> str | None:
        """Why this holder no longer holds the lock, or ``None`` while it (may) still run."""
        info = self.info
        if self.on_this_machine():
            if self.alive_here() is False:
                return f"process {info.pid} is no longer running on this host"
            return None  # a live holder here keeps its lock whatever its lease says
        expires = parse_stamp(self.lease_expires)
        if expires is not None and datetime.now(UTC) >= expires:
            return f"its lease expired at {self.lease_expires}"
        return None


@dataclass(frozen=True)
class Unreadable:
    """A lock file that exists but holds no valid ``LockInfo`` (torn by a crash, or edited)."""

    reason: str
    modified: str


__all__ = [
    "HELD_IDS",
    "FileHolder",
    "ProcessMark",
    "Unreadable",
    "lock_file_bytes",
    "own_mark",
    "proc_stat",
    "this_machine",
]
