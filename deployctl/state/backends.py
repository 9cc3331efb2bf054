"""Where a state lives: resolving its location, and opening the backend that keeps it.

A location is a path (the local JSON file) or a URL naming a backend: ``postgresql://`` (also
``postgres://``), ``s3://``, or ``file://`` for a local file. It comes from, in this order:

1. ``--state URL|PATH`` (a relative path is relative to the current directory);
2. the ``DEPLOYCTL_STATE`` environment variable (likewise);
3. the manifest's ``state: {url: …}`` or ``state: {path: …}`` (a path relative to the manifest);
4. the default ``state/<environment>.json`` next to the manifest (without a manifest: under the
   current directory).

Running from another directory therefore never starts a second, empty state. Backends are
imported only when opened (psycopg and boto3 are optional extras).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from deployctl.errors import StateError, UsageError
from deployctl.state.protocol import StateBackend

ENV_VAR: Final = "DEPLOYCTL_STATE"

# URL scheme -> "module:class" of the backend; a path (or file://) is the local file backend.
_REMOTE: Final[Mapping[str, str]] = {
    "postgresql": "deployctl.state.postgres:PostgresStateBackend",
    "postgres": "deployctl.state.postgres:PostgresStateBackend",
    "s3": "deployctl.state.s3:S3StateBackend",
}
_EXTRAS: Final[Mapping[str, str]] = {"postgresql": "postgres", "postgres": "postgres", "s3": "s3"}
SCHEMES: Final = (*_REMOTE, "file")


def redact_url(url: str) -> str:
    """``url`` without its password: in the user info (``postgresql://u:secret@h/db`` ->
    ``postgresql://u@h/db``) or as a ``password=`` query parameter, which libpq reads too. Works
    on the text, so a URL that does not parse (a bad port) is redacted as well."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}@{hostport}"
    before, question, after = tail.partition("?")
    if question:
        query, hash_sign, fragment = after.partition("#")
        kept = [
            pair
            for pair in query.split("&")
            if unquote(pair.partition("=")[0]).strip().lower() != "password"
        ]
        tail = before + ("?" + "&".join(kept) if any(kept) else "") + hash_sign + fragment
    return f"{scheme}://{netloc}{tail}"


def url_scheme(value: str) -> str | None:
    """The scheme of a state URL (lower-cased), or ``None`` when ``value`` is a path."""
    scheme, sep, _ = value.partition("://")
    return scheme.lower() if sep and scheme else None


@dataclass(frozen=True)
class StateLocation:
    """Where a state lives (``value``: an absolute path or a URL) and who said so (``origin``)."""

    value: str
    origin: str

    @property
    def scheme(self) -> str | None:
        return url_scheme(self.value)

    @property
    def is_local(self) -> bool:
        return self.scheme in (None, "file")

    @property
    def local_path(self) -> Path:
        """The local file (for a path or a ``file://`` URL)."""
        if self.scheme == "file":
            return Path(unquote(urlsplit(self.value).path))
        return Path(self.value)

    def describe(self) -> str:
        """The location for messages: never with a password; a local file under the current
        directory relative to it (``state/dev.json``), any other absolute."""
        if self.scheme:
            return redact_url(self.value)
        try:
            relative = os.path.relpath(self.value)
        except ValueError:  # another drive (Windows)
            return self.value
        return self.value if relative.startswith("..") else relative

    def check(self) -> None:
        """Raise ``UsageError`` for a URL whose scheme no backend handles, a URL that does not
        parse, an ``s3://`` URL with credentials, or a ``file://`` URL naming a host."""
        scheme = self.scheme
        if scheme is None:
            return
        where = f"state {self.describe()} (from {self.origin})"
        if scheme not in SCHEMES:
            raise UsageError(
                f"{where}: no state backend handles '{scheme}://' URLs",
                hint="use postgresql://USER@HOST/DATABASE, s3://BUCKET/PREFIX/, file://PATH or a "
                "plain path",
            )
        try:
            parts = urlsplit(self.value)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError as exc:
            raise UsageError(f"{where} is not a valid URL: {exc}") from None
        if scheme == "s3" and "@" in parts.netloc:
            raise UsageError(
                f"{where}: credentials do not belong in an s3:// URL",
                hint="give them through the AWS credential chain: AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role",
            )
        if scheme == "file" and parts.netloc not in ("", "localhost"):
            raise UsageError(
                f"{where}: a file:// URL takes an absolute path after its three slashes, and "
                f"'{parts.netloc}' would be read as a host name",
                hint="write file:///ABSOLUTE/PATH, or give the path itself",
            )


def resolve_location(
    *,
    option: str | None,
    environ: Mapping[str, str],
    manifest_state: tuple[str, str] | None,
    manifest_path: Path | None,
    environment: str | None,
) -> StateLocation:
    """The state's location by the precedence in the module docstring.

    ``manifest_state`` is the manifest's ``state:`` value (a URL, or a path already made
    absolute) with where it was written (``FILE:LINE:COL``). Raises ``UsageError`` when nothing
    says which state to use, or when a URL names no backend.
    """
    if option:
        location = StateLocation(_absolute(option), "--state")
    elif environ.get(ENV_VAR):
        location = StateLocation(_absolute(environ[ENV_VAR]), ENV_VAR)
    elif manifest_state is not None:
        location = StateLocation(manifest_state[0], f"state: in {manifest_state[1]}")
    elif environment and manifest_path is not None:
        folder = Path(os.path.abspath(manifest_path)).parent
        location = StateLocation(str(folder / "state" / f"{environment}.json"), "the default")
    elif environment:
        location = StateLocation(str(Path("state", f"{environment}.json")), "the default")
    else:
        raise UsageError(
            f"say which state to use: -f MANIFEST, -e ENVIRONMENT, --state URL|PATH or {ENV_VAR}"
        )
    location.check()
    return location


def _absolute(value: str) -> str:
    return value if url_scheme(value) else os.path.abspath(os.path.expanduser(value))


def open_backend(
    location: StateLocation,
    environment: str | None,
    *,
    on_warning: Callable[[str], None] | None = None,
) -> StateBackend:
    """The backend keeping the state at ``location``.

    ``environment`` names the state within a shared backend (one row or object per
    environment) and is written into a state created from here.
    """
    location.check()
    scheme = location.scheme
    if location.is_local:
        from deployctl.state.local import LocalStateBackend

        return LocalStateBackend(
            location.local_path, environment=environment, on_warning=on_warning
        )
    assert scheme is not None
    if not environment:
        raise UsageError(
            f"a shared state backend ({location.describe()}) keeps one state per environment: "
            "say which with -f MANIFEST or -e ENVIRONMENT"
        )
    module_name, _, class_name = _REMOTE[scheme].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # pragma: no cover - the backend modules import lazily
        raise StateError(
            f"cannot load the {scheme} state backend: {exc}",
            hint=f"pip install 'deployctl[{_EXTRAS[scheme]}]'",
        ) from exc
    backend_class = getattr(module, class_name)
    backend: StateBackend = backend_class(location.value, environment, on_warning=on_warning)
    return backend
