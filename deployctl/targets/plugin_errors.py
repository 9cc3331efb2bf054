"""Plugin errors: what a plugin exception means, as one ``TargetError``.

Plugins raise whatever they like (``shared/plugins.md``): ``MlflowException`` with an error code,
``KeyError``, botocore's ``ClientError``, HTTP errors, or a bare ``Exception`` whose text is the
only clue. ``plugin_error`` turns any of them into the ``TargetError`` subclass its MLflow error
code names (``DeploymentNotFoundError``, ``DeploymentExistsError``, ``TargetRejectedError``),
with a one-line message and the target, call and address it was for.

Two questions are answered here for the rest of deployctl, from the exception itself:

- does it say the deployment does not exist? ``explicitly_not_found`` (an error code, a
  ``KeyError``, HTTP 404) or only in words (``says_not_found``); refresh decides what each is
  worth (``deployctl.targets.refresh``);
- is it transient, and may the call be made again? ``transience`` and ``retryable``: throttling
  and "unavailable" codes and connection failures are; conflicts and bad requests never are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from deployctl import errors
from deployctl.errors import (
    DeploymentExistsError,
    DeploymentNotFoundError,
    TargetError,
    TargetRejectedError,
)
from deployctl.targets.missing_packages import exception_chain, missing_package

MESSAGE_LIMIT: Final = 300

# MLflow's ``MlflowException`` defaults to INTERNAL_ERROR: that code says nothing.
_NO_INFORMATION_CODES: Final = frozenset({None, "INTERNAL_ERROR"})
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
# What the plugins of shared/plugins.md write when a name does not exist: "deployment x not
# found" (seed), "Could not find endpoint" (SageMaker), "HTTP 404" (triton-control), "status
# code 404" (torchserve), "No deployment with name x found" (ray-serve).
_NOT_FOUND_TEXT: Final = re.compile(
    r"not found|does not exist|doesn't exist|no such|could not find|cannot find|can't find"
    r"|unable to find|\bno (?:deployment|endpoint|model|service)s?\b.*\bfound\b"
    r"|\b(?:http|status|status code|error)\s*:?\s*404\b|\b404 (?:not found|client error)",
    re.IGNORECASE,
)

_EXISTS_CODES: Final = frozenset({"RESOURCE_ALREADY_EXISTS"})
_REJECTED_CODES: Final = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})

# Transient failures, in two kinds. REFUSED: the target turned the request away or was never
# reached, so the call had no effect and may be repeated, whatever it was. UNSURE: the
# connection broke or timed out after the request may have been sent; only a call that changes
# nothing (list, get) may be repeated.
REFUSED: Final = "refused"
UNSURE: Final = "unsure"
_TRANSIENT_CODES: Final = frozenset(
    {"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED"}
)
_THROTTLING_AWS_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "EC2ThrottledException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "PriorRequestNotComplete",
    }
)
_REFUSED_STATUS: Final = frozenset({429, 503})
_UNSURE_STATUS: Final = frozenset({502, 504})
# Exception classes by name (anywhere in the class's MRO), so that botocore, urllib3 and
# requests need not be imported: could not connect at all ...
_REFUSED_TYPES: Final = frozenset(
    {
        "ConnectionRefusedError",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ConnectTimeout",
        "NewConnectionError",
        "NameResolutionError",
        "gaierror",
    }
)
# ... or lost the connection, or timed out waiting for the answer.
_UNSURE_TYPES: Final = frozenset(
    {
        "ConnectionError",
        "TimeoutError",
        "ReadTimeout",
        "ReadTimeoutError",
        "ProtocolError",
        "RemoteDisconnected",
        "IncompleteRead",
        "ChunkedEncodingError",
        "ConnectionClosedError",
    }
)


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
    """``TypeName: text`` on one line, at most ``limit`` characters (``errors.describe_exception``
    with the length plugin messages get)."""
    return errors.describe_exception(exc, limit)


def _aws_error(exc: BaseException) -> Mapping[str, Any]:
    """botocore's ``ClientError.response["Error"]`` (empty for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            return error
    return {}


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status of a ``requests``-style error (``.response.status_code``) or of a botocore
    ``ClientError`` (``.response["ResponseMetadata"]["HTTPStatusCode"]``)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata")
        status = meta.get("HTTPStatusCode") if isinstance(meta, Mapping) else None
    else:
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def explicitly_not_found(exc: BaseException) -> bool:
    """Whether a plugin exception says, by more than its wording, that the deployment does not
    exist: a ``KeyError``, an MLflow not-found error code (``RESOURCE_DOES_NOT_EXIST``,
    ``ENDPOINT_NOT_FOUND``, ``NOT_FOUND``), a botocore not-found code, or HTTP status 404."""
    if isinstance(exc, KeyError):
        return True
    if error_code_of(exc) in _NOT_FOUND_CODES:
        return True
    if str(_aws_error(exc).get("Code", "")) in _NOT_FOUND_AWS_CODES:
        return True
    return _http_status(exc) == 404


def says_not_found(exc: BaseException) -> bool:
    """Whether a plugin exception says only in words that the deployment does not exist.

    Many plugins raise a bare ``Exception``/``ValueError`` or an ``MlflowException`` without a
    code for a missing name (``shared/plugins.md``), so the text is read, but only when nothing
    else says what the exception is: no specific MLflow error code (INTERNAL_ERROR, MLflow's
    default, says nothing), not a transient failure (``transience``: a wrapped connection error
    or throttling anywhere in its chain), and not an error of the environment (an import, a
    permission, an OS error other than a missing file).
    """
    if error_code_of(exc) not in _NO_INFORMATION_CODES:
        return False
    if isinstance(exc, ImportError | PermissionError):
        return False
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        return False
    if transience(exc) is not None:
        return False
    texts = (str(exc), str(_aws_error(exc).get("Message", "")))
    return any(_NOT_FOUND_TEXT.search(text) for text in texts)


def not_found_evidence(exc: BaseException) -> str | None:
    """``"explicit"`` (``explicitly_not_found``), ``"message"`` (``says_not_found``) or None."""
    if explicitly_not_found(exc):
        return "explicit"
    if says_not_found(exc):
        return "message"
    return None


def error_says_not_found(exc: BaseException) -> bool:
    """Whether a plugin exception says the deployment does not exist, explicitly or in words.

    Informational (``TargetError.not_found``): refresh decides existence, and trusts the words
    only for a name the target's list did not report (``deployctl.targets.refresh``).
    """
    return not_found_evidence(exc) is not None


def _own_transience(exc: BaseException) -> str | None:
    if isinstance(exc, KeyError):
        return None
    if error_code_of(exc) in _TRANSIENT_CODES:
        return REFUSED
    if str(_aws_error(exc).get("Code", "")) in _THROTTLING_AWS_CODES:
        return REFUSED
    status = _http_status(exc)
    if status in _REFUSED_STATUS:
        return REFUSED
    if status in _UNSURE_STATUS:
        return UNSURE
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _REFUSED_TYPES:
        return REFUSED
    if names & _UNSURE_TYPES:
        return UNSURE
    return None


def transience(exc: BaseException) -> str | None:
    """``REFUSED``, ``UNSURE`` or None (not transient) for a plugin exception.

    Transient: the MLflow codes TEMPORARILY_UNAVAILABLE, REQUEST_LIMIT_EXCEEDED and
    RESOURCE_EXHAUSTED, botocore throttling codes, HTTP 429/503 (refused) and 502/504 (unsure),
    and connection errors and timeouts (``ConnectionError``, ``TimeoutError``, botocore's
    ``EndpointConnectionError``, requests' and urllib3's). An exception with a specific MLflow
    code is what its code says; one without (or with INTERNAL_ERROR) is also judged by the
    exceptions it was raised from (``__cause__``/``__context__``), since plugins wrap what
    failed (SageMaker's "There was an error while retrieving the deployment: ...").
    Conflicts and bad requests are never transient.
    """
    for current in exception_chain(exc):
        kind = _own_transience(current)
        if kind is not None or error_code_of(current) not in _NO_INFORMATION_CODES:
            return kind
        if isinstance(current, KeyError):
            return None
    return None


def retryable(exc: BaseException, *, changes: bool) -> bool:
    """Whether a call that raised ``exc`` may be made again: a refused call always, an unsure
    one only when the call ``changes`` nothing on the target (list, get)."""
    kind = transience(exc)
    return kind == REFUSED or (kind == UNSURE and not changes)


def plugin_error(
    exc: Exception,
    *,
    target: str,
    call: str,
    address: str | None,
    scheme: str,
    attempts: int = 1,
) -> TargetError:
    """``exc``, raised by a plugin of ``scheme`` in ``call`` (the last of ``attempts`` tries), as
    the ``TargetError`` (subclass, by MLflow error code) to raise; a rejected request points at
    ``deployctl target-help`` (a rejected ``predict``, at its input), a module the plugin could
    not import at the package to install."""
    code = error_code_of(exc)
    cls = error_class(code)
    hint = None
    if cls is TargetRejectedError and call == "predict":
        # predict sends the input, never the flavor or config.
        hint = "check the input's columns and types against what the deployed model expects"
    elif cls is TargetRejectedError:
        hint = (
            "check the deployment's flavor and config against what the target accepts: "
            f"deployctl target-help {scheme}"
        )
    elif (missing := missing_package(exc)) is not None:
        # A plugin that imports a dependency only when a call needs it (boto3 in a create).
        hint = str(missing)
    return cls(
        describe_exception(exc),
        target=target,
        call=call,
        address=address,
        cause=exc,
        not_found=cls is DeploymentNotFoundError or error_says_not_found(exc),
        hint=hint,
        error_code=code,
        attempts=attempts,
    )


__all__ = [
    "MESSAGE_LIMIT",
    "REFUSED",
    "UNSURE",
    "describe_exception",
    "error_class",
    "error_code_of",
    "error_says_not_found",
    "explicitly_not_found",
    "not_found_evidence",
    "plugin_error",
    "retryable",
    "says_not_found",
    "transience",
]
