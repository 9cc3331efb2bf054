"""Who holds a state lock, as the three backends' locks say it: one ``LockInfo`` vocabulary.

The local lock file, the S3 lock object and the PostgreSQL holder row all name their holder
with a ``LockInfo``: this module makes this process's (``new_lock_info``), reads and writes its
JSON (``lock_info_from_json``, ``lock_body``), stands in for a holder that cannot be read
(``unknown_holder``), tells whether a pid still runs here (``pid_running``), and words the
errors every backend gives about a holder: the lock is taken, it is not the id a force-unlock
named, this run lost it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from datetime import UTC, datetime

from deployctl.errors import LockError
from deployctl.model import JSONValue
from deployctl.model.state import utc_now
from deployctl.state.protocol import LockInfo

# Fixed width: a renewal of a lease never changes the size of what holds it.
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def current_user() -> str:
    """Who runs this process, for lock holders and history entries."""
    try:
        return getpass.getuser()
    except Exception:  # containers often have a uid without a passwd entry
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def current_host() -> str:
    """This machine's host name, for lock holders and history entries."""
    return socket.gethostname()


def new_lock_info(operation: str, path: str, *, created: str | None = None) -> LockInfo:
    """This process as the holder of a new lock on the state at ``path`` (a fresh lock id)."""
    return LockInfo(
        id=str(uuid.uuid4()),
        operation=operation,
        who=current_user(),
        host=current_host(),
        pid=os.getpid(),
        created=created if created is not None else utc_now(),
        path=path,
    )


def unknown_holder(why: str, *, created: str, path: str) -> LockInfo:
    """Stands for a holder that cannot be named (``why``: an unreadable lock, a missing row)."""
    return LockInfo(
        id="",
        operation=f"unknown ({why})",
        who="unknown",
        host="unknown",
        pid=0,
        created=created,
        path=path,
    )


def stamp(moment: datetime) -> str:
    """A lease's end as stored: UTC, fixed width (``STAMP_FORMAT``)."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_stamp(text: object) -> datetime | None:
    """A stored time (UTC when it names no zone); ``None`` when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
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


# -- the holder as JSON ------------------------------------------------------------------------


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


def lock_body(info: LockInfo, **lease: JSONValue) -> bytes:
    """A lock's stored content: ``LockInfo`` JSON plus the backend's ``lease`` keys (indented,
    sorted, newline-terminated)."""
    data = {**info.to_json(), **lease}
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


# -- what is said about a holder ---------------------------------------------------------------


def holder_summary(info: LockInfo) -> str:
    """The holder in a few words: ``apply (pid 42 on host ci-7, user runner)``."""
    return f"{info.operation} (pid {info.pid} on host {info.host}, user {info.who})"


def held_by_this_process(info: LockInfo) -> bool:
    """Whether ``info`` names this very process (another of its sessions is still open)."""
    return info.host == current_host() and info.pid == os.getpid()


HELD_BY_THIS_PROCESS = "; it is held by this process (another session is still open)"


def waiting_phrase(timeout: float) -> str:
    """How a refusal to take a lock starts, after waiting ``timeout`` seconds or not at all."""
    return f"timed out after {timeout:g}s waiting for" if timeout > 0 else "cannot take"


def other_id_error(where: str, lock_id: str, now: str) -> LockError:
    """A force-unlock named ``lock_id``, but the lock on ``where`` is ``now`` (described)."""
    return LockError(
        f"state {where} is not locked with id {lock_id}: it is {now}",
        hint="the current lock id is in the error of the run that could not take the lock; "
        "force-unlock without an id removes whatever lock is there",
    )


def lost_lock_error(where: str, how: str) -> LockError:
    """This run no longer holds the lock on ``where`` (``how``: what became of it)."""
    return LockError(
        f"this run lost the lock on {where}{how}; nothing more is written to the state",
        hint="let the other run finish, then run 'deployctl plan' to reconcile the state with "
        "what the targets report",
    )


__all__ = [
    "HELD_BY_THIS_PROCESS",
    "STAMP_FORMAT",
    "current_host",
    "current_user",
    "held_by_this_process",
    "holder_summary",
    "lock_body",
    "lock_info_from_json",
    "lost_lock_error",
    "new_lock_info",
    "other_id_error",
    "parse_stamp",
    "pid_running",
    "stamp",
    "unknown_holder",
]
