"""Reaching the PostgreSQL state database: the URL, connections, retries and one-line errors.

A state URL is a libpq URL, ``postgresql://USER@HOST:PORT/DATABASE`` (or ``postgres://``), with
an optional ``?schema=NAME`` that deployctl keeps for itself; every other query parameter
(``sslmode=…``) goes to libpq unchanged. The password comes from ``PGPASSWORD``, ``~/.pgpass``
or the URL (libpq reads them all) and is never shown: ``display`` drops it, and error messages
have it masked. ``connect_timeout`` is 5 s unless the URL sets one, so an unreachable server
fails in seconds. psycopg 3 is imported only when a connection is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from deployctl.errors import StateError
from deployctl.state.postgres_schema import DEFAULT_SCHEMA, check_schema_name

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

    Conn = psycopg.Connection[TupleRow]

T = TypeVar("T")

ATTEMPTS = 3
BACKOFF = 0.2  # seconds before the second attempt; doubled before each further one
_CONNECT_TIMEOUT = 5
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_UNREACHABLE_HINT = (
    "check that the server is running and reachable from here, and the user, database and "
    "password (PGPASSWORD or ~/.pgpass) of the URL"
)


def require_psycopg() -> None:
    """Raise ``StateError`` with the install command when psycopg is missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StateError(
            "the PostgreSQL state backend needs psycopg 3, which is not installed",
            hint="pip install 'deployctl[postgres]'",
        ) from exc


def timestamp(value: datetime) -> str:
    """A ``timestamptz`` in the format of ``utc_now()``."""
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


@dataclass(frozen=True)
class PostgresLocation:
    """A parsed state URL: what libpq gets (``conninfo``) and what messages show (``display``)."""

    conninfo: str
    display: str
    schema: str
    secrets: tuple[str, ...]

    @classmethod
    def parse(cls, url: str) -> PostgresLocation:
        parts = urlsplit(url)
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        netloc = f"{user}@{hostport}" if user else hostport
        if parts.scheme.lower() not in ("postgresql", "postgres"):
            raise StateError(
                f"{parts.scheme or url!r} is not a PostgreSQL state URL scheme",
                hint="use postgresql://USER@HOST:PORT/DATABASE",
            )
        schema = DEFAULT_SCHEMA
        kept: list[tuple[str, str]] = []
        secrets = [unquote(password)] if password else []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key == "schema":
                schema = check_schema_name(value)
                continue
            kept.append((key, value))
            if key == "password" and value:
                secrets.append(value)
        shown_query = f"schema={schema}" if schema != DEFAULT_SCHEMA else ""
        return cls(
            conninfo=urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), "")),
            display=urlunsplit((parts.scheme, netloc, parts.path, shown_query, "")),
            schema=schema,
            secrets=tuple(secrets),
        )

    def scrub(self, text: str) -> str:
        """``text`` with the password masked (libpq messages do not hold it, but be sure)."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class Database:
    """Connections to one state database, named ``name`` in every error message."""

    def __init__(self, location: PostgresLocation, name: str) -> None:
        self.location = location
        self.name = name

    def connect(self) -> Conn:
        """A new autocommit connection (one attempt; raises ``psycopg.Error``)."""
        require_psycopg()
        import psycopg

        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "deployctl"}
        if "connect_timeout" not in dict(parse_qsl(urlsplit(self.location.conninfo).query)):
            kwargs["connect_timeout"] = _CONNECT_TIMEOUT
        return psycopg.connect(self.location.conninfo, **kwargs)

    def error(self, what: str, exc: BaseException, *, attempts: int = 1) -> StateError:
        """``exc`` as a one-line ``StateError`` saying what failed where."""
        import psycopg

        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None)
        if primary:  # the server's own message, without its CONTEXT and query parameters
            more = getattr(diag, "message_detail", None)
            text = f"{primary} ({more})" if more else str(primary)
        else:
            text = str(exc)
        detail = " ".join(line.strip() for line in text.splitlines() if line.strip())
        detail = self.location.scrub(detail or type(exc).__name__)
        tried = f" (tried {attempts} times)" if attempts > 1 else ""
        hint: str | None = None
        if isinstance(exc, psycopg.OperationalError):
            hint = _UNREACHABLE_HINT
        elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
            hint = "grant the database user the right to create and change the deployctl_* tables"
        return StateError(f"cannot {what} in {self.name}{tried}: {detail}", hint=hint)

    def run(self, what: str, work: Callable[[Conn], T]) -> T:
        """``work`` on a fresh connection; connection errors retry it (``ATTEMPTS`` in all)."""
        require_psycopg()
        import psycopg

        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.connect() as conn:
                    return work(conn)
            except psycopg.OperationalError as exc:
                if attempt == ATTEMPTS:
                    raise self.error(what, exc, attempts=attempt) from exc
            except psycopg.Error as exc:
                raise self.error(what, exc) from exc
            time.sleep(BACKOFF * 2 ** (attempt - 1))
        raise AssertionError("unreachable")
