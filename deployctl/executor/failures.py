"""Failed actions: how a change fails, and what its result says about the failure.

A failure deployctl explains (a ``TargetError``, an ``ActionFailed``) becomes the result's error
as it is. Anything else is a bug in deployctl or in a plugin: the result says ``Type: message``
and how to see more; with ``debug`` (``--debug``) it keeps the full traceback instead, as it does
for a plugin exception behind a ``TargetError``.
"""

from __future__ import annotations

import traceback

from deployctl.errors import DeploymentNotFoundError, TargetError

RERUN_WITH_DEBUG = "a bug in deployctl or the target's plugin; rerun with --debug for the traceback"
OUTCOME_UNKNOWN = (
    "whether it took effect is unknown: its intent stays in the state, and the next plan asks "
    "the target and records what it shows"
)
NEXT_PLAN_RECORDS = (
    "its intent is in the state: the next plan asks the target and records what it shows"
)


class ActionFailed(Exception):
    """A change failed; carries the message shown in the result table."""

    def __init__(self, message: str, note: str | None = None) -> None:
        super().__init__(message)
        self.note = note


def explicitly_gone(exc: TargetError) -> bool:
    """Whether a failed call says, by more than the wording of a message, that the deployment
    does not exist: ``DeploymentNotFoundError`` (an MLflow not-found code) or a plugin exception
    the targets layer recognises as not-found by its type or code (``explicitly_not_found``)."""
    if isinstance(exc, DeploymentNotFoundError):
        return True
    from deployctl.targets.plugin_errors import explicitly_not_found

    return exc.cause is not None and explicitly_not_found(exc.cause)


def error_message(exc: Exception, *, debug: bool) -> str:
    """What a failed action's result says about ``exc``.

    ``TargetError`` and ``ActionFailed`` explain themselves; anything else is unexpected:
    ``Type: message``, with a hint to rerun with ``--debug``. With ``debug``, an exception
    that is not deployctl's own explanation (the unexpected one, or the plugin exception
    behind a ``TargetError``) adds its full traceback.
    """
    expected = isinstance(exc, (TargetError, ActionFailed))
    message = str(exc) if expected else f"{type(exc).__name__}: {exc}"
    if not debug:
        return message if expected else f"{message} ({RERUN_WITH_DEBUG})"
    detail = traceback_of(exc)
    return f"{message}\n{detail}" if detail else message


def traceback_of(exc: BaseException) -> str | None:
    """The traceback worth showing for a failed action, if any.

    A ``TargetError`` shows the plugin exception it wraps (its ``cause``: kept even where the
    error is re-raised ``from None``), and so does an ``ActionFailed`` raised from one; one
    deployctl raised itself has none, nor has an ``ActionFailed`` without a cause. Anything else
    is shown whole, with what it chains.
    """
    shown: BaseException | None = exc
    if isinstance(exc, ActionFailed):
        shown = exc.__cause__
    if isinstance(shown, TargetError):
        shown = shown.cause
    if shown is None:
        return None
    return "".join(traceback.format_exception(shown)).rstrip()


__all__ = [
    "NEXT_PLAN_RECORDS",
    "OUTCOME_UNKNOWN",
    "RERUN_WITH_DEBUG",
    "ActionFailed",
    "error_message",
    "explicitly_gone",
    "traceback_of",
]
