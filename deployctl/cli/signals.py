"""SIGINT and SIGTERM: a run stops cleanly, exits 130, never prints a traceback, never loses track.

``install`` is the first thing ``main`` does (before the commands are imported); SIGTERM (a CI
job cancelled) is handled exactly like Ctrl-C:

- **first signal**: says at once on stderr that it was received and how many actions are in
  flight. While the executor runs (and while it records what a crashed run left open), code
  that must not be cut short is ``StopRequests.uninterruptible``: the signal only asks it to
  stop, so no new action starts and the running ones finish and are recorded; the command then
  exits 130. Anywhere else (start-up, loading, waiting for the lock, refresh, the prompt) it
  raises ``KeyboardInterrupt``: the command unwinds (a refresh waits for the reads it started,
  the lock is released) and ``main`` exits 130 with "Interrupted.";
- **second signal**: stops waiting: the process exits 130 at once, without releasing the state
  lock or closing the intents of the calls still running, so no lock is ever released while a
  plugin call may still change a target. Every intent and result was durable when written; the
  lock names this process, which is gone, so the next run takes it over at once and its plan
  resolves the open intents. Any later signal (a third Ctrl-C) does the same;
- after ``main`` has returned, a signal exits 130 at once as well, and once the interpreter
  shuts down it is ignored (the run is over and recorded);
- a ``KeyboardInterrupt`` raised where Python cannot propagate it (a finaliser or weakref
  callback run by the garbage collector) is delivered again to the main code, silently.

Messages are written with ``os.write`` on stderr's file descriptor: a handler runs between two
bytecodes of the main thread, possibly in the middle of a write to ``sys.stderr``. This module
imports nothing of deployctl until a command asks for its ``StopRequests``, so the handler is in
place before the commands are imported.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing this early
if TYPE_CHECKING:
    from types import FrameType
    from typing import NoReturn

    from deployctl.executor.stopping import StopRequests

INTERRUPTED = 130  # ExitCode.INTERRUPTED, without importing the exit codes this early

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Handler:
    """The handler of one run: counts signals and acts on its stop requests, made when a
    command first asks for them (``requests``)."""

    def __init__(self) -> None:
        self._requests: StopRequests | None = None
        self.received = 0
        self.finished = False
        self.redelivering = False

    @property
    def requests(self) -> StopRequests:
        if self._requests is None:
            from deployctl.executor.stopping import StopRequests

            self._requests = StopRequests()
            if self.received:
                self._requests.request()
        return self._requests

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.redelivering:
            # The first signal's KeyboardInterrupt was swallowed (see ``_unraisable``): raise
            # it again here, where the command can unwind; it was already counted and said.
            self.redelivering = False
            raise KeyboardInterrupt
        self.received += 1
        name = signal.Signals(signum).name
        if self.finished:
            _exit_now()
        requests = self._requests  # None: no command got as far as asking for them
        in_flight = requests.in_flight if requests is not None else 0
        if self.received > 1:
            running = (
                f"without waiting for {in_flight} action(s) in flight (their intents stay in "
                "the state: the next plan asks the targets what they did); "
                if in_flight
                else ""
            )
            _say(
                f"deployctl: received {name} again: exiting now, {running}the state lock is "
                "freed when this process has exited\n"
            )
            _exit_now()
        if requests is None:
            _say(f"deployctl: received {name}: stopping (no action in flight)\n")
            raise KeyboardInterrupt
        requests.request()
        if requests.interruptible:
            _say(f"deployctl: received {name}: stopping ({in_flight} action(s) in flight)\n")
            raise KeyboardInterrupt
        _say(
            f"deployctl: received {name}: {in_flight} action(s) in flight; no new action starts, "
            "waiting for them to finish and recording their results (a second signal stops "
            "waiting)\n"
        )


_current: _Handler | None = None


def install() -> None:
    """Handle SIGINT and SIGTERM for this run (see the module).

    Outside the main thread (an embedding program) nothing is installed.
    """
    global _current
    handler = _Handler()
    try:
        for signum in _SIGNALS:
            signal.signal(signum, handler)
    except ValueError:  # not the main thread: signals are the embedding program's business
        _current = None
        return
    _current = handler
    sys.unraisablehook = _unraisable


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """A signal that arrived while Python ran a finaliser or a weakref callback (garbage
    collection, between any two bytecodes) raised its ``KeyboardInterrupt`` where Python can
    only print and drop it: print nothing, and deliver it again to the main code instead."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _current is not None:
        import _thread

        # From another thread (started without waiting for it), so that the handler runs once
        # this hook has returned; should it land in a finaliser again, this hook sends it once
        # more, until the main code gets it.
        _current.redelivering = True
        _thread.start_new_thread(_redeliver, ())
        return
    sys.__unraisablehook__(unraisable)


def requests() -> StopRequests:
    """The stop requests of the run in progress (a fresh, unused one without ``install``)."""
    if _current is not None:
        return _current.requests
    from deployctl.executor.stopping import StopRequests

    return StopRequests()


def _redeliver() -> None:
    import _thread
    import time

    time.sleep(0.005)
    _thread.interrupt_main(signal.SIGINT)


def finish() -> None:
    """``main`` is returning: from now on a signal exits 130 at once.

    At interpreter shutdown Python puts the default handlers back (a signal would then kill
    the process with -2/-15 and no word); the work is done and recorded by then, so signals
    are ignored once the handler can no longer run.
    """
    global _ignoring_at_exit
    if _current is not None:
        _current.finished = True
    if not _ignoring_at_exit:
        import atexit

        atexit.register(_ignore_signals)
        _ignoring_at_exit = True


_ignoring_at_exit = False


def _ignore_signals() -> None:
    for signum in _SIGNALS:
        try:  # noqa: SIM105 (see _say)
            signal.signal(signum, signal.SIG_IGN)
        except (ValueError, OSError):
            pass


def _say(message: str) -> None:
    stream = sys.__stderr__
    try:  # noqa: SIM105 (contextlib is not imported this early)
        os.write(stream.fileno() if stream else 2, message.encode("ascii", "replace"))
    except (OSError, ValueError):
        pass


def _exit_now() -> NoReturn:
    """Exit 130 at once: no cleanup (no lock release, no commit), as a crash would."""
    exit_now(INTERRUPTED)


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` at once, after flushing stdout and stderr: nothing else is
    cleaned up (no lock released), as after a crash."""
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (see _say)
            stream.flush()
        except Exception:  # a write in progress, a closed pipe: what is unflushed is lost anyway
            pass
    os._exit(code)


__all__ = ["INTERRUPTED", "exit_now", "finish", "install", "requests"]
