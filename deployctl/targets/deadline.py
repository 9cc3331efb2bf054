"""Plugin calls with a time limit: run in a daemon worker thread, abandoned when too slow.

Python cannot stop a thread, and a plugin call cannot be asked to give up, so a call with a time
limit runs in a worker thread and the caller stops waiting when the limit passes
(``CallTimedOut``). The abandoned call keeps running until the plugin returns: a create may
still take effect on the target afterwards, which is why a timed-out create, update or delete
has an unknown outcome. Workers are daemon threads, so a hung plugin never keeps the process
from exiting (it dies with the process, as after ``kill -9``); ``running_abandoned`` says how
many abandoned calls are still running, for a caller that must not release a lock under them.

Workers are kept and reused (a refresh of 10,000 deployments makes 10,001 calls): a new one
starts only when none is idle.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[[], Any], Future[Any]]


class CallTimedOut(Exception):
    """The call did not return within its limit (it may still be running)."""


class _Workers:
    """Daemon threads taking jobs from one queue; one more starts when none is idle."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0
        self._abandoned: set[Future[Any]] = set()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            start = self._idle == 0
            if start:
                self._started += 1
            else:
                self._idle -= 1
        self._jobs.put((fn, future))
        if start:
            threading.Thread(target=self._work, name="deployctl-plugin-call", daemon=True).start()
        return future

    def abandon(self, future: Future[Any]) -> None:
        with self._lock:
            if not future.done():
                self._abandoned.add(future)
        future.add_done_callback(self._forget)

    def all_idle(self) -> int | None:
        """How many worker threads there are, when every one is waiting for a job."""
        with self._lock:
            return self._started if self._idle == self._started else None

    def running_abandoned(self) -> int:
        with self._lock:
            return len(self._abandoned)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._abandoned.discard(future)

    def _work(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as exc:  # handed to the waiting caller, as a pool does
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del fn, future  # drop references to a finished call before waiting for the next
            with self._lock:
                self._idle += 1


_WORKERS = _Workers()


def _forget_workers() -> None:
    # In a forked child (``targets.read_ahead``) the parent's worker threads do not exist.
    global _WORKERS
    _WORKERS = _Workers()


os.register_at_fork(after_in_child=_forget_workers)


def idle_workers() -> int | None:
    """How many worker threads this process has, when every one is idle (waiting for a job;
    ``None`` when one is running a call)."""
    return _WORKERS.all_idle()


def call_with_deadline(fn: Callable[[], T], timeout: float | None) -> T:
    """``fn()``; with a ``timeout`` (seconds), run in a worker thread and ``CallTimedOut`` when
    it has not returned in time. Without one, ``fn`` runs in the calling thread."""
    if timeout is None:
        return fn()
    future = _WORKERS.submit(fn)
    try:
        return future.result(timeout=timeout)
    except TimeoutError:  # concurrent.futures.TimeoutError is this one since Python 3.11
        if future.done():
            # The plugin's own TimeoutError (a socket timeout), or it answered just now.
            return future.result()
        _WORKERS.abandon(future)
        raise CallTimedOut(f"no answer within {timeout:g} s") from None
    except BaseException:
        if not future.done():  # interrupted while waiting (Ctrl-C): it runs on, as above
            _WORKERS.abandon(future)
        raise


def running_abandoned() -> int:
    """How many calls that timed out (or whose caller was interrupted) are still running."""
    return _WORKERS.running_abandoned()


__all__ = ["CallTimedOut", "call_with_deadline", "idle_workers", "running_abandoned"]
