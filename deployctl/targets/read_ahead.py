"""Reading ahead: in-process targets listed by a forked child while the plan reads its state.

A no-op plan of thousands of deployments on the built-in ``local`` target spends about a fifth of
its time listing the targets' records (a file read and normalised per deployment), and as long
again reading the state, one after the other, on one core of the two a CI runner has.
``ReadAhead.start`` forks a child once the manifest is read: the child lists each in-process
target through the very ``TargetAdapter.list`` the refresh would call and hands the records back
pickled, while the parent reads the state. The refresh then takes each target's records from
it (``TargetAdapter.list``).

The child can only save time, never change a result or an error: if it fails in any way (a
record that is not JSON, a signal, a pickling error) or the parent cannot read its answer, the
parent lists the target itself, as it always did, and says what it says. It reads ahead only
where that is safe and pays: on Linux (a fork without exec is not safe on macOS), in a process
with no other thread (forking one is not), with DEBUG logging off (the debug log shows every
plugin call made in the process), and for at least ``MIN_DEPLOYMENTS`` deployments (below that,
forking costs about what it saves).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from deployctl.targets.deadline import idle_workers

if TYPE_CHECKING:
    from deployctl.model.live import LiveRecord
    from deployctl.targets.adapter import TargetAdapter

MIN_DEPLOYMENTS = 1000
"""Fewer deployments on in-process targets than this are listed as the refresh reaches them."""

_CHUNK = 1 << 20


def can_fork() -> bool:
    """Whether forking this process now is safe and its child can run beside it: Linux, a
    second core, no DEBUG log to keep complete, and no other thread but idle plugin-call
    workers (``targets.deadline``: the child starts its own)."""
    workers = idle_workers()
    return (
        sys.platform == "linux"
        and (os.cpu_count() or 1) > 1
        and workers is not None
        and threading.active_count() == 1 + workers
        and not logging.getLogger("deployctl").isEnabledFor(logging.DEBUG)
    )


class ReadAhead:
    """The lists of some in-process targets, being read by a child process.

    ``take(key)`` waits for the child (the first time) and returns the records it listed for
    target ``key``, or ``None`` when it has none for it (the caller lists the target itself).
    A read-ahead never taken is ended when it is dropped (the child killed and reaped).
    """

    def __init__(self, pid: int, fd: int) -> None:
        self._pid = pid
        self._fd = fd
        self._lists: dict[str, list[LiveRecord]] | None = None
        self._end = weakref.finalize(self, _end_child, pid, fd)

    @classmethod
    def start(cls, adapters: Sequence[TargetAdapter]) -> ReadAhead | None:
        """Fork a child listing ``adapters`` (in-process ones: see the module); ``None`` when
        this process cannot fork safely now."""
        if not adapters or not can_fork():
            return None
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:  # pragma: no cover - the child ends in os._exit, coverage never sees it
            os.close(read_end)
            _child(adapters, write_end)
        os.close(write_end)
        return cls(pid, read_end)

    def take(self, key: str) -> list[LiveRecord] | None:
        """The records the child listed for target ``key``; ``None`` if it did not list them."""
        if self._lists is None:
            self._lists = self._receive()
        return self._lists.pop(key, None)

    def _receive(self) -> dict[str, list[LiveRecord]]:
        chunks = []
        try:
            while chunk := os.read(self._fd, _CHUNK):
                chunks.append(chunk)
        except OSError:
            chunks = []
        # The child has written all it will and is ending: close the pipe, reap it.
        self._end.detach()
        os.close(self._fd)
        _reap(self._pid)
        try:
            lists = pickle.loads(b"".join(chunks)) if chunks else None
        except Exception:  # a child that died mid-write: list the targets here instead
            lists = None
        return lists if isinstance(lists, dict) else {}


def _child(adapters: Sequence[TargetAdapter], fd: int) -> None:  # pragma: no cover - forked
    """The child's whole life: list, write, exit (never back into the parent's code)."""
    import posix  # its _exit, whatever replaced os._exit (a test harness may)

    code = 1
    try:
        # Interrupted with the parent (a Ctrl-C reaches the whole process group): just die.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        lists: dict[str, Any] = {adapter.key: adapter.list() for adapter in adapters}
        data = memoryview(pickle.dumps(lists, protocol=pickle.HIGHEST_PROTOCOL))
        while data:
            data = data[os.write(fd, data) :]
        code = 0
    except BaseException:
        pass  # the parent lists the targets itself
    finally:
        posix._exit(code)


def _end_child(pid: int, fd: int) -> None:
    """Close the pipe and reap the child, killing it first if it is still at work."""
    os.close(fd)
    with contextlib.suppress(ProcessLookupError):  # never reaped, so it is there (a zombie)
        os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # reaped by someone else's wait()
        os.waitpid(pid, 0)


__all__ = ["MIN_DEPLOYMENTS", "ReadAhead", "can_fork"]
