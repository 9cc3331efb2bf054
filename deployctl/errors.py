"""The error hierarchy: every expected failure is a ``DeployctlError`` whose message states the fix.

The CLI maps these to exit code 1 (``ExitCode.ERROR``) and prints ``str(error)`` (one line per
problem, no traceback). Anything else that escapes is a bug (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# C0 and C1 control characters (tab and newline included), DEL, and the Unicode line and
# paragraph separators and bidirectional overrides: a name or value holding one must not be
# able to rewrite a terminal or fake a line of output.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``, ``\\u202e``), for messages."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate ``word`` is most likely a typo of, when one is close enough (difflib's
    ratio at least ``cutoff``): what a message suggests with "did you mean ...?"."""
    import difflib  # only for a message about a typo

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def exception_text(exc: BaseException) -> str:
    """An exception's message on one line (whitespace collapsed, never cut), or the name of its
    type when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


def describe_exception(exc: BaseException, limit: int) -> str:
    """``TypeName: text`` on one line (whitespace collapsed), at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return message


class DeployctlError(Exception):
    """Base class of every error deployctl expects and explains."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        # Each line deployctl wrote stays a line; whatever the names and values it quotes hold
        # is escaped (see ``printable``).
        text = f"{self.message} ({self.hint})" if self.hint else self.message
        return "\n".join(printable(line) for line in text.split("\n"))


class UsageError(DeployctlError):
    """A command line that cannot be carried out as given."""


class InputError(DeployctlError):
    """A file of model input (``predict --input``, a smoke test's ``input``) cannot be read as a
    table; the message starts with the file (``FILE:LINE:COL:`` where the position is known)."""


@dataclass(frozen=True, order=True)
class ManifestIssue:
    """One problem in a manifest, located at a YAML node."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return printable(f"{self.path}:{self.line}:{self.col}: {self.message}")


class ManifestError(DeployctlError):
    """The manifest cannot be used; carries every problem found, each with its location."""

    def __init__(self, issues: list[ManifestIssue] | tuple[ManifestIssue, ...]) -> None:
        self.issues = tuple(sorted(issues))
        super().__init__("; ".join(str(i) for i in self.issues))

    def __str__(self) -> str:
        # One issue per line; each is escaped by ``ManifestIssue.__str__``.
        return "\n".join(str(i) for i in self.issues)

    @classmethod
    def single(cls, path: str, line: int, col: int, message: str) -> ManifestError:
        return cls([ManifestIssue(path, line, col, message)])


class PlanError(DeployctlError):
    """The desired, recorded and live states cannot be reconciled into a plan."""


class RegistryError(DeployctlError):
    """A ``models:/`` URI cannot be read or resolved through the model registry; ``uri`` names
    it (the caller adds the deployment's address)."""

    def __init__(self, message: str, *, uri: str, hint: str | None = None) -> None:
        super().__init__(f"{uri}: {message}", hint=hint)
        self.uri = uri
        self.reason = message


class ResolutionError(DeployctlError):
    """Some ``models:/`` URIs could not be resolved: one line per URI, each a ``RegistryError``
    in ``errors`` (in the order of the URIs given)."""

    def __init__(self, errors: list[RegistryError] | tuple[RegistryError, ...]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


class PlanFileError(DeployctlError):
    """A saved plan file cannot be read (missing, not JSON, wrong format version)."""


class StalePlanError(DeployctlError):
    """A saved plan no longer matches the state or manifest it was made from."""


class StateError(DeployctlError):
    """The state document is missing, unreadable or inconsistent."""


class StaleStateError(StateError):
    """The state changed under us (lineage or serial mismatch)."""


class LockError(DeployctlError):
    """The state lock is held by someone else, or could not be taken."""


class TargetNotFoundError(DeployctlError):
    """No installed plugin handles a target URI's scheme."""


class TargetError(DeployctlError):
    """A plugin call failed; names the target, the call and the address it was for."""

    def __init__(
        self,
        message: str,
        *,
        target: str,
        call: str,
        address: str | None = None,
        cause: BaseException | None = None,
        not_found: bool = False,
        hint: str | None = None,
        error_code: str | None = None,
        attempts: int = 1,
    ) -> None:
        where = f"target '{target}', {call}"
        if address:
            where += f" for {address}"
        if attempts > 1:
            message += f" (after {attempts} attempts)"
        super().__init__(f"{where}: {message}", hint=hint)
        self.target = target
        self.call = call
        self.address = address
        self.cause = cause
        # True when the plugin said (by code or by exception type) that the name does not exist.
        # Informational: whether a deployment exists is decided by refresh, never by an error.
        self.not_found = not_found
        # The plugin exception's MLflow error code (``RESOURCE_DOES_NOT_EXIST``, ...), if any.
        self.error_code = error_code
        # How many times the call was made (transient failures are retried; see the target's
        # ``retry:`` in the manifest).
        self.attempts = attempts


class DeploymentNotFoundError(TargetError):
    """The plugin said the deployment does not exist (MLflow error code
    ``RESOURCE_DOES_NOT_EXIST``, ``ENDPOINT_NOT_FOUND`` or ``NOT_FOUND``)."""


class DeploymentExistsError(TargetError):
    """The plugin refused to create a deployment that already exists
    (``RESOURCE_ALREADY_EXISTS``)."""


class TargetRejectedError(TargetError):
    """The plugin rejected what it was asked as invalid (``INVALID_PARAMETER_VALUE``,
    ``BAD_REQUEST``): usually a flavor or config value the target does not accept."""


class TargetTimeoutError(TargetError):
    """A plugin call did not answer within its target's ``timeout``. ``timeout`` is the limit in
    seconds; ``outcome_unknown`` is true for a create, update or delete, which may still take
    effect on the target (deployctl stops waiting; it cannot stop the plugin)."""

    def __init__(
        self,
        message: str,
        *,
        target: str,
        call: str,
        timeout: float,
        outcome_unknown: bool,
        address: str | None = None,
        hint: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(
            message, target=target, call=call, address=address, hint=hint, attempts=attempts
        )
        self.timeout = timeout
        self.outcome_unknown = outcome_unknown


class RefreshError(DeployctlError):
    """Refresh cannot tell whether some deployments exist (``get_deployment`` failed, and not
    by saying they do not exist): one line per address, each a ``TargetError`` in ``errors``."""

    def __init__(self, errors: list[TargetError] | tuple[TargetError, ...], *, advice: str) -> None:
        self.errors = tuple(errors)
        lines = [f"cannot tell whether {len(self.errors)} deployment(s) exist:"]
        lines += [f"  {error}" for error in self.errors]
        # The advice goes on a line of its own, after the addresses, not after the last one.
        super().__init__("\n".join([*lines, advice]))
