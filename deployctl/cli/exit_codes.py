"""The exit codes of every command, in one place that commands import without importing ``main``.

``ExitCode`` is an ``IntEnum``: a handler returns a member where an ``int`` is expected, and the
process exits with its value.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``deployctl`` process's exit status means."""

    OK = 0
    """Done; for ``--detailed-exitcode`` also: no changes."""
    ERROR = 1
    """An expected error (a ``DeployctlError``, a usage error) or a failed action."""
    CHANGES = 2
    """``--detailed-exitcode``: done, and there are changes (or drift)."""
    BUG = 3
    """deployctl or a plugin crashed; a crash log has the traceback."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT, as shells report it); an apply stopped midway."""


__all__ = ["ExitCode"]
