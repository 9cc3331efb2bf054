"""The changes of an apply not started yet, handed out to its workers by target in turn.

A worker takes its next few changes from one target, and the turn passes to the next target,
so that concurrent workers carry out changes on different targets instead of all starting on
the first target of the plan. Whatever a target is, spreading the calls over targets is no
worse than queueing them on one; on the ``local`` target it is several times faster, since
changes in one directory queue on the filesystem's lock of that directory (each create,
rename and unlink takes it), and changes in different directories do not.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable

from deployctl.planner.plan import ResourceChange


class PendingChanges:
    """Changes in plan order per target, taken by target in turn; thread-safe.

    ``rotate`` False keeps the plan's order (a single worker gains nothing from turns).
    """

    def __init__(self, changes: Iterable[ResourceChange], *, rotate: bool = True) -> None:
        self._lock = threading.Lock()
        self._rotate = rotate
        self._queues: dict[str, collections.deque[ResourceChange]] = {}
        for change in changes:
            self._queues.setdefault(change.target, collections.deque()).append(change)
        self._turns = collections.deque(self._queues.values())  # the queues with changes left
        self._count = sum(len(queue) for queue in self._turns)

    def __len__(self) -> int:
        return self._count

    def take(self, count: int) -> list[ResourceChange]:
        """Up to ``count`` changes of the target whose turn it is (then the next target's
        turn); empty when no change is left."""
        with self._lock:
            if not self._turns:
                return []
            queue = self._turns[0]
            batch = [queue.popleft() for _ in range(min(count, len(queue)))]
            if not queue:
                self._turns.popleft()
            elif self._rotate:
                self._turns.rotate(-1)
            self._count -= len(batch)
            return batch

    def put_back(self, changes: list[ResourceChange]) -> None:
        """Return ``changes``, taken but not started, to the front of their targets' queues."""
        with self._lock:
            for change in reversed(changes):
                queue = self._queues[change.target]
                if not queue:
                    self._turns.appendleft(queue)
                queue.appendleft(change)
            self._count += len(changes)

    def clear(self) -> None:
        """Drop every change left: no worker starts another."""
        with self._lock:
            for queue in self._turns:
                queue.clear()
            self._turns.clear()
            self._count = 0

    def addresses(self) -> list[str]:
        """The addresses of the changes left."""
        with self._lock:
            return [change.address for queue in self._turns for change in queue]


__all__ = ["PendingChanges"]
