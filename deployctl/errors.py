"""The error hierarchy: every expected failure is a ``DeployctlError`` whose message states the fix.

The CLI maps these to exit code 1 and prints ``str(error)`` (one line per problem, no traceback).
Anything else that escapes is a bug (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass


class DeployctlError(Exception):
    """Base class of every error deployctl expects and explains."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(DeployctlError):
    """A command line that cannot be carried out as given."""


@dataclass(frozen=True, order=True)
class ManifestIssue:
    """One problem in a manifest, located at a YAML node."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ManifestError(DeployctlError):
    """The manifest cannot be used; carries every problem found, each with its location."""

    def __init__(self, issues: list[ManifestIssue] | tuple[ManifestIssue, ...]) -> None:
        self.issues = tuple(sorted(issues))
        super().__init__("\n".join(str(i) for i in self.issues))

    @classmethod
    def single(cls, path: str, line: int, col: int, message: str) -> ManifestError:
        return cls([ManifestIssue(path, line, col, message)])


class PlanError(DeployctlError):
    """The desired, recorded and live states cannot be reconciled into a plan."""


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
    ) -> None:
        where = f"target '{target}', {call}"
        if address:
            where += f" for {address}"
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


class DeploymentNotFoundError(TargetError):
    """The plugin said the deployment does not exist (MLflow error code
    ``RESOURCE_DOES_NOT_EXIST``, ``ENDPOINT_NOT_FOUND`` or ``NOT_FOUND``)."""


class DeploymentExistsError(TargetError):
    """The plugin refused to create a deployment that already exists
    (``RESOURCE_ALREADY_EXISTS``)."""


class TargetRejectedError(TargetError):
    """The plugin rejected what it was asked as invalid (``INVALID_PARAMETER_VALUE``,
    ``BAD_REQUEST``): usually a flavor or config value the target does not accept."""


class ApplyError(DeployctlError):
    """One or more actions of an apply failed (the results say which)."""


class Interrupted(DeployctlError):
    """The user declined or interrupted an operation."""

    exit_code = 130
