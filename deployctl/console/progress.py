"""What is in flight while deployctl waits on its targets, and how that is shown.

Applies of cloud deployments take minutes, and so can reading a slow target. While a refresh or
an apply runs, ``InFlight`` knows what has started and not finished (the changes, or the targets
being read), how many changes are done and failed, and for how long each has run. It is shown
one of two ways (``console.terminal`` decides which):

- on a terminal, ``LiveStatus`` is a live display on stderr, redrawn a few times a second below
  the event lines: the counts, the elapsed time and the actions in flight, longest first;
- in CI or without a terminal, ``Heartbeats`` writes one line per long action every
  ``heartbeat_interval()`` seconds (10 by default, after the first 10), as Terraform does:
  ``sm/churn: still creating… [2m elapsed]``. The elapsed time is the heartbeat's (10s, 20s,
  …), so a log reads the same whatever the machine's load.

``DEPLOYCTL_HEARTBEAT_SECONDS`` sets the interval (tests use a fraction of a second); a value
that is not a positive number is ignored.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich.console import Group
from rich.text import Text

from deployctl.planner.plan import Action

HEARTBEAT_VARIABLE = "DEPLOYCTL_HEARTBEAT_SECONDS"
DEFAULT_HEARTBEAT = 10.0
LIVE_LIMIT = 10
"""The live display lists at most this many actions in flight (the longest-running first)."""

VERBS = {
    Action.CREATE: "creating",
    Action.UPDATE: "updating",
    Action.DELETE: "deleting",
    Action.REPLACE: "replacing",
    Action.IMPORT: "importing",
    Action.NOOP: "checking",
}


def heartbeat_interval(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between two heartbeat lines of one action: ``DEPLOYCTL_HEARTBEAT_SECONDS``, else
    10."""
    value = (os.environ if environ is None else environ).get(HEARTBEAT_VARIABLE, "")
    try:
        seconds = float(value)
    except ValueError:
        return DEFAULT_HEARTBEAT
    return seconds if 0 < seconds < float("inf") else DEFAULT_HEARTBEAT


def duration_text(seconds: float) -> str:
    """``0.4s``, ``12s``, ``2m``, ``2m10s``, ``1h5m``: as Terraform writes elapsed times."""
    if seconds < 1:
        return f"{max(seconds, 0.0):.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


@dataclass(frozen=True)
class Running:
    """One thing in flight: ``label`` (an address, or the targets being read), ``verb``
    (``creating``), the plan's ``symbol`` and ``style``, and how long it has run."""

    label: str
    verb: str
    symbol: str
    style: str
    elapsed: float


@dataclass(frozen=True)
class Snapshot:
    """``InFlight`` at one moment. ``total`` is ``None`` for a refresh (it has no count)."""

    title: str
    total: int | None
    done: int
    failed: int
    elapsed: float
    running: tuple[Running, ...]


@dataclass
class _Entry:
    label: str
    verb: str
    symbol: str
    style: str
    started: float
    beats: int = 0


class InFlight:
    """The actions of one refresh or apply that have started and not finished; thread-safe
    (they start and finish on the executor's and the refresh's worker threads)."""

    def __init__(
        self, title: str, total: int | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.title = title
        self.total = total
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._running: dict[str, _Entry] = {}
        self._done = 0
        self._failed = 0

    def start(self, key: str, verb: str, *, symbol: str = " ", style: str = "") -> None:
        """``key`` (an address) starts ``verb``-ing."""
        with self._lock:
            self._running[key] = _Entry(key, verb, symbol, style, self._clock())

    def finish(self, key: str, *, ok: bool = True) -> None:
        """``key`` finished, successfully or not (counted either way)."""
        with self._lock:
            self._running.pop(key, None)
            self._done += 1
            self._failed += not ok

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._clock()
            entries = sorted(self._running.values(), key=lambda e: (e.started, e.label))
            running = tuple(
                Running(e.label, e.verb, e.symbol, e.style, now - e.started) for e in entries
            )
            return Snapshot(
                self.title, self.total, self._done, self._failed, now - self._started, running
            )

    def due_heartbeats(self, interval: float) -> list[str]:
        """The heartbeat lines due now: one per action running for another ``interval``
        seconds since its last one (``sm/churn: still creating… [20s elapsed]``)."""
        lines: list[str] = []
        with self._lock:
            now = self._clock()
            for entry in sorted(self._running.values(), key=lambda e: (e.started, e.label)):
                beats = int((now - entry.started) / interval)
                if beats > entry.beats:
                    entry.beats = beats
                    elapsed = duration_text(beats * interval)
                    lines.append(f"{entry.label}: still {entry.verb}… [{elapsed} elapsed]")
        return lines


class Heartbeats:
    """A daemon thread that writes ``in_flight``'s due heartbeat lines through ``emit`` until
    ``stop``: what a log gets instead of a live display."""

    def __init__(self, in_flight: InFlight, interval: float, emit: Callable[[str], None]) -> None:
        self._in_flight = in_flight
        self._interval = interval
        self._emit = emit
        self._stopped = threading.Event()
        # Checked ten times an interval (at most once a second): a line is late by a tenth at most.
        self._tick = min(max(interval / 10, 0.01), 1.0)
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop; no line is written after this returns."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._tick):
            for line in self._in_flight.due_heartbeats(self._interval):
                if self._stopped.is_set():
                    return
                self._emit(line)


class LiveStatus:
    """The live display of ``in_flight`` (a rich renderable, rendered afresh at each redraw)::

    Applying in environment prod: 12 of 60 done, 1 failed, 4 in flight [1m5s elapsed]
      ~ sm/churn: updating… 2m3s
      + local/d12: creating… 12s
    """

    def __init__(self, in_flight: InFlight, *, limit: int = LIVE_LIMIT) -> None:
        self._in_flight = in_flight
        self._limit = limit

    def lines(self) -> list[Text]:
        now = self._in_flight.snapshot()
        head = Text(now.title, style="bold")
        if now.total is not None:
            head.append(f": {now.done} of {now.total} done, ")
            head.append(f"{now.failed} failed", style="bold red" if now.failed else "")
            head.append(f", {len(now.running)} in flight")
        else:
            head.append("…")
        head.append(f" [{duration_text(now.elapsed)} elapsed]", style="dim")
        lines = [head]
        if now.total is None:
            return lines
        for item in now.running[: self._limit]:
            line = Text("  ")
            line.append(f"{item.symbol} {item.label}", style=item.style)
            line.append(f": {item.verb}… ")
            line.append(duration_text(item.elapsed), style="dim")
            lines.append(line)
        hidden = len(now.running) - self._limit
        if hidden > 0:
            lines.append(Text(f"  … and {hidden} more", style="dim"))
        return lines

    def __rich__(self) -> Group:
        return Group(*self.lines())
