"""Who reads the output: a person at a terminal, or a log (CI, a pipe, a file).

A person at a terminal gets colours, a live progress display and the confirmation prompt. A log
gets none of them: in CI (``CI`` set to anything but ``0``/``false``/``no``, as GitHub Actions,
GitLab CI and most others set it) or when the stream is not a terminal, deployctl writes plain
lines, each event line starting with its UTC time (``2026-11-27T12:00:03Z local/churn: create
started``), writes a heartbeat line for each long action instead of animating, and never asks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CI_VARIABLE = "CI"
_NOT_CI = {"", "0", "false", "no", "off"}


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether deployctl runs in CI: ``CI`` is set to something other than false."""
    value = (os.environ if environ is None else environ).get(CI_VARIABLE, "")
    return value.strip().lower() not in _NOT_CI


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a stream without ``isatty`` is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # a closed stream
        return False


def is_interactive(stream: Any, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a person watches ``stream``: a terminal, outside CI (and not ``TERM=dumb``)."""
    environ = os.environ if environ is None else environ
    dumb = environ.get("TERM", "").lower() in {"dumb", "unknown"}
    return is_terminal(stream) and not dumb and not in_ci(environ)


def timestamp(now: datetime | None = None) -> str:
    """``2026-11-27T12:00:03Z``: the UTC time a plain event line starts with."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
