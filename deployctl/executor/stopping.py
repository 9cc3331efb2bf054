"""Stopping an apply from outside: stop requests, and the actions in flight when they come.

A signal must never cut an apply short at an arbitrary point: an action interrupted between its
call and its record would leave the target changed and the state unaware. So the CLI's
SIGINT/SIGTERM handler does not raise into code that declared itself ``uninterruptible`` (the
executor, and recording what a crashed run left open); it calls ``request`` instead, and that
code polls ``requested`` at its safe points: the executor starts no new action and waits for the
running ones, whose results are recorded as usual. ``in_flight`` is what the handler reports.

Without a handler (deployctl embedded in another program), ``KeyboardInterrupt`` reaches the
executor's wait loop, which turns the first one into a stop request the same way.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class StopRequests:
    """Stop requests for one run, and how many actions are running; thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._mutex = threading.Lock()
        self._in_flight = 0
        self._uninterruptible = 0

    def request(self) -> None:
        """Ask the run to start nothing new and finish what is running (idempotent)."""
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a stop request; whether there is one."""
        return self._event.wait(timeout)

    # The two readers below take no lock: a signal handler calls them in the main thread, which
    # may be holding the lock at that moment (reading an int is atomic anyway).

    @property
    def in_flight(self) -> int:
        """How many actions are running now (their calls may be changing a target)."""
        return self._in_flight

    @contextlib.contextmanager
    def action(self) -> Iterator[None]:
        """Count one running action for the duration of the block."""
        with self._mutex:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._mutex:
                self._in_flight -= 1

    @property
    def interruptible(self) -> bool:
        """Whether the main thread may be interrupted by an exception now (see the module)."""
        return self._uninterruptible == 0

    @contextlib.contextmanager
    def uninterruptible(self) -> Iterator[None]:
        """A block that polls ``requested`` instead of being interrupted by a signal."""
        with self._mutex:
            self._uninterruptible += 1
        try:
            yield
        finally:
            with self._mutex:
                self._uninterruptible -= 1


__all__ = ["StopRequests"]
