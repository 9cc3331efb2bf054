"""Option values as deployctl's values: durations, variables, addresses and the selection.

Each malformed value is a one-line ``UsageError`` naming the option, before anything is done.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from deployctl.errors import UsageError
from deployctl.model import Address

if TYPE_CHECKING:
    from deployctl.planner.selection import Selection

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, *, option: str = "--lock-timeout") -> float:
    """``30s``, ``5m``, ``1h``, ``500ms`` or plain seconds, as seconds."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{option}: '{text}' is not a duration; use e.g. 30s, 5m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_vars(items: list[str]) -> dict[str, str]:
    """``--var NAME=VALUE`` options as a mapping."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--var '{item}' must have the form NAME=VALUE")
        out[name] = value
    return out


def parse_address(text: str, *, role: str | None = None, advice: str | None = None) -> Address:
    """``TARGET/NAME`` from the command line as an address.

    The error starts with ``role`` (e.g. ``OLD:``) when given and ends with ``; advice``.
    """
    try:
        return Address.parse(text)
    except ValueError as exc:
        message = f"{role} {exc}" if role else str(exc)
        raise UsageError(f"{message}; {advice}" if advice else message) from exc


def selection(args: argparse.Namespace) -> Selection:
    """``--target``/``--exclude`` as a selection (and ``--max-deletes`` checked)."""
    from deployctl.planner.selection import Selection

    if getattr(args, "max_deletes", None) is not None and args.max_deletes < 0:
        raise UsageError("--max-deletes must be 0 or more")
    return Selection.parse(getattr(args, "targets", []), getattr(args, "excludes", []))


def check_parallelism(args: argparse.Namespace) -> None:
    """``--parallelism`` is at least 1."""
    if getattr(args, "parallelism", 1) < 1:
        raise UsageError("--parallelism must be at least 1")
