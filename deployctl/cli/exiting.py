"""How the console script ends: with ``os._exit``, once the output is flushed and the ``atexit``
handlers have run, instead of tearing the heap down.

A normal exit frees every object one at a time: after a plan of 5,000 deployments that is
50 ms, the cost of reading their state. Like mypy's ``hard_exit``, ``hard_exit`` flushes the
output, runs the ``atexit`` handlers (plugins' too) and ends the process. A thread that is still
running (which a normal exit waits for), an exit that is not a plain code, or a flush that
fails gets the normal exit.

``keep``: for the same reason a command keeps its large results (manifest, state, plan)
referenced until then, rather than have them freed object by object as it returns (30 ms after
a plan of 10,000), and the cyclic collector stays off until then. Only under the console script
(``begin``): ``main()`` called in-process, as the tests do, frees them as usual.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cli.main's start-up)
if TYPE_CHECKING:
    from typing import NoReturn

_kept: list[object] | None = None


def begin() -> None:
    """The process will end with ``hard_exit``: ``keep`` keeps from now on, and the cyclic
    garbage collector stays off to the end (``cli.main.main`` turns it off for a run and back
    on as it returns; on again, its first pass would walk every object the run made, the
    ``atexit`` handlers' allocations would start it: 30 ms after a plan of 10,000)."""
    import gc

    global _kept
    _kept = []
    gc.disable()


def keep(*objects: object) -> None:
    """Keep ``objects`` referenced until the process ends (under the console script only)."""
    if _kept is not None:
        _kept.extend(objects)


def hard_exit(code: object) -> NoReturn:
    """End the process with ``code`` (an exit code, or ``SystemExit``'s ``code``)."""
    import atexit
    import os
    import threading

    if code is None:
        code = 0
    running = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    # An ExitCode (an IntEnum) is an exit code like any int.
    if not isinstance(code, int) or running:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # as Python's own exit would report it
        raise SystemExit(code) from None
    os._exit(int(code))
