"""Plugin errors: what a plugin exception means, as one ``TargetError``.

Plugins raise whatever they like (``shared/plugins.md``): ``MlflowException`` with an error code,
``KeyError``, botocore's ``ClientError``, HTTP errors, or a bare ``Exception`` whose text is the
only clue. ``plugin_error`` turns any of them into the ``TargetError`` subclass its MLflow error
code names (``DeploymentNotFoundError``, ``DeploymentExistsError``, ``TargetRejectedError``),
with a one-line message and the target, call and address it was for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from deployctl.errors import (
    DeploymentExistsError,
    DeploymentNotFoundError,
    TargetError,
    TargetRejectedError,
)

MESSAGE_LIMIT: Final = 300

_NOT_FOUND_CODES: Final = frozenset({"RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND", "NOT_FOUND"})
_NOT_FOUND_AWS_CODES: Final = frozenset(
    {
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NotFound",
        "NotFoundException",
        "NoSuchEntity",
        "404",
    }
)
_NOT_FOUND_TEXT: Final = re.compile(
    r"not found|does not exist|doesn't exist|no such|could not find|\b404\b", re.IGNORECASE
)


_EXISTS_CODES: Final = frozenset({"RESOURCE_ALREADY_EXISTS"})
_REJECTED_CODES: Final = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})


def error_code_of(exc: BaseException) -> str | None:
    """The MLflow error code a plugin exception carries (``MlflowException.error_code``)."""
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) and code else None


def error_class(code: str | None) -> type[TargetError]:
    """The ``TargetError`` subclass for an MLflow error code (``TargetError`` for the rest)."""
    if code in _NOT_FOUND_CODES:
        return DeploymentNotFoundError
    if code in _EXISTS_CODES:
        return DeploymentExistsError
    if code in _REJECTED_CODES:
        return TargetRejectedError
    return TargetError


def describe_exception(exc: BaseException, limit: int = MESSAGE_LIMIT) -> str:
    """``TypeName: text`` on one line (whitespace collapsed), at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return message


def error_says_not_found(exc: BaseException) -> bool:
    """Whether a plugin exception says the deployment does not exist.

    Informational only (existence is decided by refresh): plugins signal it by MLflow error
    code, by ``KeyError``, by botocore error code, or only in the message text.
    """
    if isinstance(exc, KeyError):
        return True
    code = getattr(exc, "error_code", None)
    if isinstance(code, str) and code in _NOT_FOUND_CODES:
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            if str(error.get("Code", "")) in _NOT_FOUND_AWS_CODES:
                return True
            if _NOT_FOUND_TEXT.search(str(error.get("Message", ""))):
                return True
    elif getattr(response, "status_code", None) == 404:
        return True
    return bool(_NOT_FOUND_TEXT.search(str(exc)))


def plugin_error(
    exc: Exception, *, target: str, call: str, address: str | None, scheme: str
) -> TargetError:
    """``exc``, raised by a plugin of ``scheme`` in ``call``, as the ``TargetError`` (subclass, by
    MLflow error code) to raise; a rejected request points at ``deployctl target-help``."""
    code = error_code_of(exc)
    cls = error_class(code)
    hint = None
    if cls is TargetRejectedError:
        hint = (
            "check the deployment's flavor and config against what the target accepts: "
            f"deployctl target-help {scheme}"
        )
    return cls(
        describe_exception(exc),
        target=target,
        call=call,
        address=address,
        cause=exc,
        not_found=cls is DeploymentNotFoundError or error_says_not_found(exc),
        hint=hint,
        error_code=code,
    )


__all__ = [
    "MESSAGE_LIMIT",
    "describe_exception",
    "error_class",
    "error_code_of",
    "error_says_not_found",
    "plugin_error",
]
