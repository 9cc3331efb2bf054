"""Sensitive values: the secrets a manifest hands its deployments, and the keyed hashes that
deployctl keeps of them instead.

A value that comes from ``${env.NAME}``, or that sits at or below a path a deployment lists
under ``sensitive:``, is a secret. Wherever deployctl writes or shows a deployment (plans, state,
journal, history, every output) each such value is replaced by a *marker*::

    {"$sensitive": "hmac-sha256:<hex>"}

the HMAC-SHA256 of the value's canonical JSON under a ``SecretKey``: equal values have equal
markers, so an unchanged secret compares equal and a changed one is a change, but the value
cannot be read back (guessed, at most, when it is short and the key is the default one: set
``DEPLOYCTL_SECRET_KEY``). People see ``(sensitive)``. Mappings and lists below a sensitive
path keep their shape; each scalar in them is masked on its own, and ``null`` stays ``null``.

Everything here is pure: the key is derived from what the caller passes in.

Most deployments hold no secret, so every walk that looks for markers (``marker_paths``,
``fields_of``) first asks ``has_marker``, which only looks inside mappings and lists: a record
without one costs a few dictionary lookups, not a walk that builds a path per value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from deployctl.model.values import JSONObject, JSONValue, canonical_json

MARKER = "$sensitive"
SHOWN = "(sensitive)"
KEY_VARIABLE = "DEPLOYCTL_SECRET_KEY"
# The default key, mixed with the environment's name. It is public (it is in this file): it
# hides long secrets, not short ones; DEPLOYCTL_SECRET_KEY makes every secret unguessable.
APPLICATION_KEY = b"deployctl sensitive values, format 1"
DIGEST_PREFIX = "hmac-sha256:"
# Secrets shorter than this are masked where they are (by path), but not searched for inside
# free text (raw records, messages): a two-letter secret would garble every message.
MIN_SEARCHED = 4

Path = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_DIGEST = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")


def is_masked(value: object) -> TypeGuard[JSONObject]:
    """Whether ``value`` is a marker (``{"$sensitive": "hmac-sha256:<hex>"}``)."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get(MARKER), str)
        and bool(_DIGEST.match(value[MARKER]))
    )


def join_path(prefix: str, part: str | int) -> str:
    """``prefix`` extended by a key or list index: ``config.workers``, ``a[0]``, ``c["a.b"]``."""
    if isinstance(part, int):
        return f"{prefix}[{part}]"
    if _PLAIN_KEY.match(part):
        return f"{prefix}.{part}" if prefix else part
    return f'{prefix}["{part}"]'


def dotted(parts: Iterable[str | int]) -> str:
    """A path given as keys and indices as text: ``config.workers``, ``a[0]``, ``c["a.b"]``."""
    out = ""
    for part in parts:
        out = join_path(out, part)
    return out


@dataclass(frozen=True)
class SecretKey:
    """The key of the markers of one environment (never shown: ``repr`` hides it)."""

    secret: bytes = field(repr=False)

    @classmethod
    def for_environment(cls, environment: str, environ: Mapping[str, str]) -> SecretKey:
        """``DEPLOYCTL_SECRET_KEY`` (else the application key), mixed with ``environment``, so
        that one secret used in two environments has unrelated markers."""
        import hashlib  # here, not at the top: ``deployctl --help`` needs neither
        import hmac

        given = environ.get(KEY_VARIABLE)
        base = given.encode("utf-8") if given else APPLICATION_KEY
        label = f"deployctl environment {environment}".encode()
        return cls(hmac.new(base, label, hashlib.sha256).digest())

    def digest(self, value: JSONValue) -> str:
        """``hmac-sha256:<hex>`` of ``value``'s canonical JSON."""
        import hashlib
        import hmac

        mac = hmac.new(self.secret, canonical_json(value).encode("utf-8"), hashlib.sha256)
        return DIGEST_PREFIX + mac.hexdigest()

    def mask(self, value: JSONValue) -> JSONValue:
        """``value`` with every scalar in it replaced by its marker (markers and ``null`` are
        left as they are; mappings and lists keep their shape)."""
        if value is None or is_masked(value):
            return value
        if isinstance(value, dict):
            return {key: self.mask(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask(item) for item in value]
        return {MARKER: self.digest(value)}

    def mask_paths(self, data: JSONObject, paths: Iterable[Path]) -> JSONObject:
        """A copy of ``data`` with the values at ``paths`` masked (a path not in it is skipped)."""
        out: JSONObject = _copy(data)  # type: ignore[assignment]
        for path in paths:
            _replace_at(out, path, self.mask)
        return out


@dataclass(frozen=True, order=True)
class SensitiveField:
    """A field of a deployment that holds a secret: its path (``("config", "token")``) and the
    environment variables its value is read from (empty: it is written in the manifest)."""

    path: Path
    env: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return dotted(self.path)

    def source(self) -> str:
        """Where the value comes from, in words."""
        if not self.env:
            return "written in the manifest"
        names = ", ".join(self.env)
        return f"from environment variable{'s' if len(self.env) > 1 else ''} {names}"

    def covers(self, path: Path) -> bool:
        """Whether ``path`` is this field's path or below it."""
        return path[: len(self.path)] == self.path

    def to_json(self) -> JSONObject:
        return {"path": list(self.path), "env": list(self.env)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SensitiveField:
        path = data["path"]
        if not isinstance(path, list) or not path:
            raise ValueError(f"sensitive path {path!r} is not a non-empty list")
        parts: list[str | int] = []
        for part in path:
            if isinstance(part, bool) or not isinstance(part, (str, int)):
                raise ValueError(f"sensitive path {path!r} holds {part!r}")
            parts.append(part)
        env = data.get("env") or []
        return cls(tuple(parts), tuple(str(name) for name in env))


def merge_fields(*groups: Iterable[SensitiveField]) -> tuple[SensitiveField, ...]:
    """The fields of every group, one per path (their variables joined), sorted by path."""
    by_path: dict[Path, set[str]] = {}
    for group in groups:
        for item in group:
            by_path.setdefault(item.path, set()).update(item.env)
    if not by_path:
        return ()
    ordered = sorted(by_path.items(), key=lambda entry: _sort_key(entry[0]))
    return tuple(SensitiveField(path, tuple(sorted(env))) for path, env in ordered)


def _sort_key(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((1, str(p)) if isinstance(p, int) else (0, p) for p in path)


def has_marker(value: object) -> bool:
    """Whether ``value`` holds a marker anywhere: a cheap test that looks only inside mappings
    and lists (and, in a mapping, for the ``$sensitive`` key first)."""
    if isinstance(value, dict):
        if MARKER in value and is_masked(value):
            return True
        items: Iterable[object] = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return False
    # A loop, not any(...): no generator per mapping, for every record a plan reads; the usual
    # item (a string, number, boolean or null) is passed over without an isinstance call.
    for item in items:
        kind = type(item)
        if kind is str or kind is int or kind is bool or kind is float or item is None:
            continue
        if (kind is dict or kind is list or isinstance(item, (dict, list))) and has_marker(item):
            return True
    return False


def fields_hold_marker(model_uri: JSONValue, flavor: JSONValue, config: JSONValue) -> bool:
    """Whether any of a record's fields holds a marker (``has_marker``, without writing the
    record out as JSON first; a string, the usual model URI and flavor, holds none)."""
    return (
        (type(model_uri) is not str and has_marker(model_uri))
        or (type(flavor) is not str and has_marker(flavor))
        or has_marker(config)
    )


def marker_paths(value: JSONValue, prefix: Path = ()) -> Iterator[Path]:
    """The path of every marker in ``value`` (none, without a walk, when ``has_marker`` says
    there is none)."""
    if has_marker(value):
        yield from _marker_paths(value, prefix)


def _marker_paths(value: JSONValue, prefix: Path) -> Iterator[Path]:
    if is_masked(value):
        yield prefix
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                yield from _marker_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)):
                yield from _marker_paths(item, (*prefix, index))


def fields_of(spec: JSONValue) -> tuple[SensitiveField, ...]:
    """A field for each marker in a recorded spec (whatever made it sensitive then)."""
    if not has_marker(spec):
        return ()
    return merge_fields(SensitiveField(path) for path in _marker_paths(spec, ()))


def values_at(data: JSONValue, paths: Iterable[Path]) -> Iterator[JSONValue]:
    """Every scalar at or below ``paths`` in ``data`` (markers and ``null`` left out)."""
    for _, value in scalars_at(data, paths):
        yield value


def scalars_at(data: JSONValue, paths: Iterable[Path]) -> Iterator[tuple[Path, JSONValue]]:
    """``(path, value)`` of every scalar at or below ``paths`` in ``data`` (markers and ``null``
    left out)."""
    for path in paths:
        found = _get(data, path)
        if not isinstance(found, _Absent):
            yield from _scalars(found, path)


def value_at(data: JSONValue, path: Path) -> JSONValue:
    """The value at ``path`` in ``data``; ``None`` when there is none."""
    found = _get(data, path)
    return None if isinstance(found, _Absent) else found


def _scalars(value: JSONValue, path: Path) -> Iterator[tuple[Path, JSONValue]]:
    if value is None or is_masked(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _scalars(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _scalars(item, (*path, index))
    else:
        yield path, value


def searched(values: Iterable[JSONValue]) -> list[str]:
    """The strings among ``values`` worth searching for in free text, longest first."""
    texts = {v for v in values if isinstance(v, str) and len(v) >= MIN_SEARCHED}
    return sorted(texts, key=lambda text: (-len(text), text))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` (longest first) written ``(sensitive)``; also as
    ``repr`` and JSON would quote them, as messages often do."""
    for secret in secrets:
        for form in dict.fromkeys((secret, repr(secret)[1:-1], json.dumps(secret)[1:-1])):
            if form and form in text:
                text = text.replace(form, SHOWN)
    return text


def scrub(value: JSONValue, key: SecretKey, secrets: list[str]) -> JSONValue:
    """``value`` (what a target returned) with every string equal to one of ``secrets`` masked
    and every string containing one redacted (``redact``)."""
    if isinstance(value, str):
        if value in secrets:
            return {MARKER: key.digest(value)}
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: scrub(item, key, secrets) for k, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, key, secrets) for item in value]
    return value


class _Absent:
    pass


_ABSENT = _Absent()


def _get(data: JSONValue, path: Path) -> JSONValue | _Absent:
    node: JSONValue | _Absent = data
    for part in path:
        if not _has(node, part):
            return _ABSENT
        node = node[part]  # type: ignore[index]
    return node


def _has(node: object, part: str | int) -> bool:
    if isinstance(part, int):
        return isinstance(node, list) and 0 <= part < len(node)
    return isinstance(node, dict) and part in node


def _replace_at(data: JSONValue, path: Path, change: Any) -> None:
    """Replace the value at ``path`` (not the root) in ``data`` by ``change(value)``."""
    if not path:
        return
    parent = _get(data, path[:-1])
    last = path[-1]
    if _has(parent, last):
        parent[last] = change(parent[last])  # type: ignore[index]


def _copy(value: JSONValue) -> JSONValue:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def replace_markers(value: JSONValue, found: Any, path: Path = ()) -> JSONValue:
    """``value`` with each marker replaced by ``found(path, marker)``."""
    if is_masked(value):
        result: JSONValue = found(path, value)
        return result
    if isinstance(value, dict):
        return {k: replace_markers(item, found, (*path, k)) for k, item in value.items()}
    if isinstance(value, list):
        return [replace_markers(item, found, (*path, i)) for i, item in enumerate(value)]
    return value


__all__ = [
    "KEY_VARIABLE",
    "MARKER",
    "SHOWN",
    "Path",
    "SecretKey",
    "SensitiveField",
    "dotted",
    "fields_hold_marker",
    "fields_of",
    "has_marker",
    "is_masked",
    "join_path",
    "marker_paths",
    "merge_fields",
    "redact",
    "replace_markers",
    "scalars_at",
    "scrub",
    "searched",
    "value_at",
    "values_at",
]
