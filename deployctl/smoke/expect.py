"""Smoke tests: score a small input with a freshly deployed model and check what comes back.

A ``SmokeTest`` names an input file and what its predictions must look like (how many rows,
which columns). ``check`` compares predictions with it and returns the failure in one line;
``run_smoke_test`` calls a ``predict`` function with the input, times it and never raises for
the model's failure (an exception from ``predict`` is a failed test), so the caller can decide
what to do about it (apply rolls back). Reading the input is the caller's concern: a file that
cannot be read raises ``InputError``, as it would before anything was deployed
(``SmokeTest.read_input``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.errors import TargetError, describe_exception
from deployctl.smoke.frames import as_frame, column_names, read_input

if TYPE_CHECKING:
    from pandas import DataFrame

# A failure reason is one line; a model's exception text can be long.
REASON_LIMIT = 200


@dataclass(frozen=True)
class SmokeTest:
    """What to score after a deploy (``input``, an absolute path) and what to expect back:
    ``rows`` predictions (any number when None) that include ``columns`` (any when None)."""

    input: Path
    rows: int | None = None
    columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.rows is not None and (isinstance(self.rows, bool) or self.rows < 0):
            raise ValueError(f"rows must be a number of rows (0 or more), not {self.rows!r}")
        if self.columns is not None and not isinstance(self.columns, tuple):
            object.__setattr__(self, "columns", tuple(self.columns))

    @classmethod
    def in_manifest(
        cls,
        manifest_dir: Path,
        input: str | Path,
        *,
        rows: int | None = None,
        columns: Sequence[str] | None = None,
    ) -> SmokeTest:
        """A smoke test as a manifest writes it: a relative ``input`` is relative to
        ``manifest_dir`` (the manifest's folder; ``~`` expanded), not to the current directory."""
        where = Path(os.path.expanduser(input))
        if not where.is_absolute():
            where = Path(manifest_dir) / where
        return cls(
            input=Path(os.path.normpath(where)),
            rows=rows,
            columns=None if columns is None else tuple(columns),
        )

    def read_input(self) -> DataFrame:
        """The input table; raises ``InputError`` naming the file when it cannot be read."""
        return read_input(self.input)


@dataclass(frozen=True)
class SmokeOutcome:
    """How a smoke test went: ``ok``, or the one-line ``reason`` it failed; ``seconds`` taken by
    ``predict`` and the checks; ``rows`` and ``columns`` of the predictions, if there were any."""

    ok: bool
    reason: str | None
    seconds: float
    rows: int | None = None
    columns: tuple[str, ...] | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"smoke test passed ({self.seconds:.2f}s)"
        return f"smoke test failed: {self.reason} ({self.seconds:.2f}s)"


def check(predictions: DataFrame, test: SmokeTest) -> str | None:
    """Why ``predictions`` fail ``test``, in one line; None when they pass."""
    problems = []
    if test.rows is not None and len(predictions) != test.rows:
        problems.append(f"expected {_count(test.rows, 'row')}, got {len(predictions)}")
    if test.columns is not None:
        got = column_names(predictions)
        if not set(test.columns) <= set(got):
            problems.append(f"expected columns {_names(test.columns)}, got {_names(got)}")
    return "; ".join(problems) or None


def run_smoke_test(
    predict: Callable[[DataFrame], Any], test: SmokeTest, *, frame: DataFrame | None = None
) -> SmokeOutcome:
    """Score ``test``'s input (``frame`` if already read) with ``predict`` and check the result.

    Never raises for the model's failure: an exception from ``predict`` (or a result that is
    not a table) is a failed outcome whose reason names it (``predict raised ValueError: …``).
    Reading the input may raise ``InputError``: read it (``test.read_input()``) before
    deploying to find a bad file before anything changed.
    """
    table = test.read_input() if frame is None else frame
    started = time.monotonic()
    try:
        result = predict(table)
    except Exception as exc:
        return SmokeOutcome(False, f"predict raised {_describe(exc)}", _since(started))
    try:
        predictions = as_frame(result)
    except Exception as exc:
        why = f"predict returned {type(result).__name__}, not a table: {_describe(exc)}"
        return SmokeOutcome(False, why, _since(started))
    reason = check(predictions, test)
    return SmokeOutcome(
        ok=reason is None,
        reason=reason,
        seconds=_since(started),
        rows=len(predictions),
        columns=column_names(predictions),
    )


def _describe(exc: BaseException) -> str:
    """``TypeName: text`` on one line; for a plugin call that failed (``TargetError``), the
    plugin's own exception, since the caller knows which deployment it was testing."""
    if isinstance(exc, TargetError) and exc.cause is not None:
        exc = exc.cause
    return describe_exception(exc, REASON_LIMIT)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _names(columns: Sequence[str]) -> str:
    return "[" + ", ".join(columns) + "]"
