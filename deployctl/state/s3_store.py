"""The S3 backend's view of a bucket: objects read and written conditionally, failures explained.

This is the only module that imports boto3 (lazily: a missing boto3 is a ``StateError`` saying
``pip install 'deployctl[s3]'``). boto3 finds the endpoint (``AWS_ENDPOINT_URL`` for MinIO and
other S3-compatible stores), the region and the credentials itself (the usual AWS chain).

Every request goes through ``S3Store._call``:

- no connection, a closed connection, a timeout (2 s to connect, 10 s to read) or a 5xx answer is
  tried 3 times in all, waiting 0.2 s then 0.4 s, then raised as a one-line ``StateError``
  naming the state, the bucket and the endpoint; botocore's own retries are turned off;
- AccessDenied, NoSuchBucket and credential errors are one-line ``StateError``\\ s with a hint,
  at once;
- a lost condition (412 PreconditionFailed, 409 ConditionalRequestConflict) is ``Conflict`` for
  the caller to interpret; a store that does not implement conditional writes (501) is refused.

A put that is retried after a lost answer may meet its own earlier, successful attempt as a
conflict: every put carries a random ``x-amz-meta-deployctl-write`` id, so ``put`` recognises
its own object and succeeds instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from deployctl.errors import StateError

_T = TypeVar("_T")
_R = TypeVar("_R")

WRITE_ID = "deployctl-write"  # user metadata naming the write that produced an object

INSTALL_HINT = "pip install 'deployctl[s3]'"
_ATTEMPTS = 3
_BACKOFF = 0.2
_CONNECT_TIMEOUT = 2.0
_READ_TIMEOUT = 10.0
_PARALLEL = 8

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_RETRY_CODES = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503"}
_CREDENTIAL_CODES = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
}


class Conflict(Exception):
    """A conditional write or delete lost: the object is not (or no longer) what was expected."""

    def __init__(self, retried: bool) -> None:
        super().__init__("precondition failed")
        self.retried = retried


class _Missing(Exception):
    """The object does not exist (mapped to ``None``/``False`` by the public methods)."""


@dataclass(frozen=True)
class StoredObject:
    """One object as read: its body (empty for a HEAD), ETag, user metadata and times.

    ``last_modified`` and ``server_time`` (the answer's ``Date``) come from the store's clock,
    both with one-second resolution; either may be ``None`` when the store does not send it.
    """

    key: str
    body: bytes
    etag: str
    metadata: Mapping[str, str]
    last_modified: datetime | None
    server_time: datetime | None


def _boto() -> tuple[Any, Any, Any]:
    """``boto3``, ``botocore.config.Config`` and ``botocore.exceptions``, or a ``StateError``."""
    try:
        import boto3
        import botocore.exceptions
        from botocore.config import Config
    except ImportError as exc:
        raise StateError(
            f"the S3 state backend needs boto3, which is not installed ({exc})", hint=INSTALL_HINT
        ) from exc
    return boto3, Config, botocore.exceptions


# botocore's loader of service models, shared by every client this process makes: loading the S3
# model is most of the cost of a new client. Sessions stay per client, so each one reads the
# endpoint, region and credentials from the environment as it is then.
_LOADER: list[Any] = []
_LOADER_LOCK = threading.Lock()


def _new_client(boto3: Any, config: Any) -> Any:
    import botocore.session

    with _LOADER_LOCK:
        session = botocore.session.get_session()
        if _LOADER:
            session.register_component("data_loader", _LOADER[0])
        else:
            _LOADER.append(session.get_component("data_loader"))
        return boto3.session.Session(botocore_session=session).client("s3", config=config)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class S3Store:
    """The objects of one bucket, reached through one thread-safe boto3 client made on first use.

    ``name`` (the state's ``describe()``) opens every error message.
    """

    def __init__(self, bucket: str, name: str) -> None:
        self.bucket = bucket
        self.name = name
        self._client: Any = None
        self._errors: Any = None
        self._client_lock = threading.Lock()

    # -- the client ------------------------------------------------------------------------

    def _get_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                boto3, config_class, errors = _boto()
                options: dict[str, Any] = {
                    "connect_timeout": _CONNECT_TIMEOUT,
                    "read_timeout": _READ_TIMEOUT,
                    "retries": {"total_max_attempts": 1},  # _call retries, knowing what is safe
                }
                try:
                    # Checksums only where S3 requires them: several S3-compatible stores reject
                    # the CRC32 trailers newer botocore sends by default.
                    config = config_class(
                        **options,
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required",
                    )
                except TypeError:  # botocore before 1.36 has neither option (nor the trailers)
                    config = config_class(**options)
                try:
                    self._client = _new_client(boto3, config)
                except errors.BotoCoreError as exc:
                    raise StateError(
                        f"cannot set up the S3 client for {self.name}: {_one_line(exc)}",
                        hint="check AWS_ENDPOINT_URL, AWS_DEFAULT_REGION and AWS_PROFILE",
                    ) from exc
                self._errors = errors
            return self._client

    def endpoint(self) -> str:
        """The endpoint the client talks to, without any user info (for messages)."""
        try:
            url = str(self._get_client().meta.endpoint_url)
        except StateError:
            return "unknown endpoint"
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}" if parts.scheme else url

    # -- one request -----------------------------------------------------------------------

    def _call(self, what: str, operation: str, **kwargs: Any) -> Any:
        """Run one client operation with retries; see the module docstring for the mapping."""
        client = self._get_client()
        errors = self._errors
        method: Callable[..., Any] = getattr(client, operation)
        problem = ""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return method(Bucket=self.bucket, **kwargs)
            except errors.ClientError as exc:
                error = exc.response.get("Error", {})
                code = str(error.get("Code", ""))
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                message = _one_line(error.get("Message") or code or exc)
                if code in _CONFLICT_CODES or status in (409, 412):
                    raise Conflict(retried=attempt > 1) from None
                if code == "NoSuchBucket":
                    raise self._fatal(
                        what,
                        f"the bucket {self.bucket} does not exist",
                        hint="create the bucket, or fix the bucket name in the state URL",
                    ) from None
                if code in _MISSING_CODES:
                    raise _Missing() from None
                if code in _CREDENTIAL_CODES or status == 403:
                    raise self._fatal(
                        what,
                        f"access denied ({code}: {message})",
                        hint=f"check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID) and "
                        f"that they may read, write and delete objects in s3://{self.bucket}",
                    ) from None
                if code == "NotImplemented" or status == 501:
                    raise self._fatal(
                        what,
                        f"the store does not implement this request ({message})",
                        hint="the S3 state backend needs conditional writes (If-None-Match and "
                        "If-Match on PutObject): use AWS S3 or a store that supports them",
                    ) from None
                if status >= 500 or code in _RETRY_CODES:
                    problem = f"the store answered {status} {code}: {message}"
                else:
                    raise self._fatal(what, f"{code or status}: {message}") from None
            except (errors.ConnectionError, errors.HTTPClientError) as exc:
                problem = f"{type(exc).__name__}: {_one_line(exc)}"
            except errors.NoCredentialsError as exc:
                raise self._fatal(
                    what,
                    _one_line(exc),
                    hint="configure AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or an instance role)",
                ) from None
            except errors.BotoCoreError as exc:
                raise self._fatal(what, f"{type(exc).__name__}: {_one_line(exc)}") from None
            if attempt < _ATTEMPTS:
                time.sleep(_BACKOFF * 2 ** (attempt - 1))
        raise self._fatal(
            what,
            f"{problem} ({_ATTEMPTS} attempts)",
            hint="check the network and AWS_ENDPOINT_URL, then run again",
        )

    def _fatal(self, what: str, problem: str, *, hint: str | None = None) -> StateError:
        return StateError(
            f"cannot {what} for state {self.name} (bucket {self.bucket} at {self.endpoint()}): "
            f"{problem}",
            hint=hint,
        )

    # -- objects ---------------------------------------------------------------------------

    def get(self, key: str, what: str = "read") -> StoredObject | None:
        """The object at ``key``, or ``None`` when there is none."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                answer = self._call(f"{what} {key}", "get_object", Key=key)
            except _Missing:
                return None
            try:
                body = answer["Body"].read()
            except (OSError, self._errors.BotoCoreError) as exc:  # the stream broke midway
                if attempt == _ATTEMPTS:
                    raise self._fatal(f"{what} {key}", _one_line(exc)) from exc
                time.sleep(_BACKOFF * 2 ** (attempt - 1))
                continue
            return self._stored(key, answer, bytes(body))
        raise AssertionError("unreachable")

    def head(self, key: str, what: str = "check") -> StoredObject | None:
        """The object's ETag and metadata without its body, or ``None`` when there is none."""
        try:
            answer = self._call(f"{what} {key}", "head_object", Key=key)
        except _Missing:
            return None
        return self._stored(key, answer, b"")

    @staticmethod
    def _stored(key: str, answer: Mapping[str, Any], body: bytes) -> StoredObject:
        headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        server_time: datetime | None = None
        if headers.get("date"):
            try:
                server_time = parsedate_to_datetime(headers["date"])
            except (TypeError, ValueError):
                server_time = None
        modified = answer.get("LastModified")
        return StoredObject(
            key=key,
            body=body,
            etag=str(answer.get("ETag", "")),
            metadata=dict(answer.get("Metadata") or {}),
            last_modified=modified if isinstance(modified, datetime) else None,
            server_time=server_time,
        )

    def put(
        self,
        key: str,
        body: bytes,
        *,
        what: str = "write",
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Write ``body`` at ``key`` and return its ETag; raises ``Conflict`` on a lost condition.

        ``if_none_match``: only if no object is there; ``if_match``: only if the object's ETag is
        still that one. ``metadata[WRITE_ID]`` is set to a fresh id unless given.
        """
        meta = dict(metadata or {})
        meta.setdefault(WRITE_ID, uuid.uuid4().hex)
        kwargs: dict[str, Any] = {
            "Key": key,
            "Body": body,
            "Metadata": meta,
            "ContentType": "application/json",
        }
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            answer = self._call(f"{what} {key}", "put_object", **kwargs)
        except Conflict as conflict:
            if conflict.retried:
                # An earlier attempt may have succeeded with its answer lost: is it ours?
                found = self.head(key)
                if found is not None and found.metadata.get(WRITE_ID) == meta[WRITE_ID]:
                    return found.etag
            raise
        except _Missing:  # If-Match on an object that is gone
            raise Conflict(retried=False) from None
        return str(answer.get("ETag", ""))

    def delete(self, key: str, *, what: str = "delete", if_match: str | None = None) -> bool:
        """Delete ``key`` (only while its ETag is ``if_match`` when given); whether it was there.

        Raises ``Conflict`` when the ETag differs. Stores that ignore If-Match on DELETE (AWS
        honours it since 2025-09) delete unconditionally, so callers check the ETag first.
        """
        kwargs: dict[str, Any] = {"Key": key}
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            self._call(f"{what} {key}", "delete_object", **kwargs)
        except _Missing:
            return False
        except Conflict as conflict:
            if conflict.retried and self.head(key) is None:
                return True  # the first attempt deleted it
            raise
        return True

    def delete_many(self, keys: list[str], *, what: str = "delete") -> None:
        """Delete ``keys`` (1,000 per request); keys already gone are not an error."""
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self._call(
                f"{what} {len(batch)} objects",
                "delete_objects",
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )

    def keys(self, prefix: str, *, what: str = "list") -> list[str]:
        """Every key under ``prefix``, in the store's (lexicographic) order."""
        keys: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if token is not None:
                kwargs["ContinuationToken"] = token
            try:
                answer = self._call(f"{what} {prefix}*", "list_objects_v2", **kwargs)
            except _Missing:
                return keys
            keys.extend(str(item["Key"]) for item in answer.get("Contents", []))
            if not answer.get("IsTruncated"):
                return sorted(keys)
            token = answer.get("NextContinuationToken")

    @staticmethod
    def map(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        """``[fn(item) for item in items]``, a few requests at a time."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
            return list(pool.map(fn, items))
