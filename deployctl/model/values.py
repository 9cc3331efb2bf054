"""Plain values: JSON and JSON text, addresses, the comparable deployment spec, lifecycle guards."""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, TypeAlias

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = "dict[str, JSONValue]"

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(?!\n)$"
NAME_RE = re.compile(NAME_PATTERN)

# The fields of a deployment that deployctl manages and compares, in display order.
SPEC_FIELDS = ("model_uri", "flavor", "config")


@dataclass(frozen=True, order=True)
class Address:
    """The address of a deployment: ``TARGET/NAME`` (the manifest's target key, then the name).

    ``Address.parse("local/churn")`` and ``str(address)`` convert to and from the text form used
    in state, plans, messages and on the command line.
    """

    target: str
    name: str

    @classmethod
    def parse(cls, text: str) -> Address:
        """``TARGET/NAME`` as an address; raises ``ValueError`` when it is not of that form."""
        target, sep, name = text.partition("/")
        if not sep or not NAME_RE.match(target) or not NAME_RE.match(name):
            raise ValueError(f"'{text}' is not an address of the form TARGET/NAME")
        return cls(target, name)

    def __str__(self) -> str:
        return address_text(self.target, self.name)


def address_text(target: str, name: str) -> str:
    """``str(Address(target, name))``, without making the ``Address``: what the records of
    every plan call for thousands of times."""
    return f"{target}/{name}"


def json_safe(value: Any, *, _depth: int = 0) -> JSONValue:
    """A JSON-serialisable projection of whatever a plugin returned.

    Plugins return objects that are not JSON (Ray handles, datetimes, bytes): keep what JSON can
    hold and replace the rest by its ``repr`` so state and plan files can always be written.
    """
    kind = type(value)
    if _depth <= 32 and (kind is str or kind is bool or kind is int or value is None):
        same: JSONValue = value  # the common case first: exactly a JSON type
        return same
    if kind is dict and _depth < 32:
        # Records are mostly flat: their scalars are taken here, without a call each.
        out: dict[str, JSONValue] = {}
        for k, v in value.items():
            of = type(v)
            out[k if type(k) is str else str(k)] = (
                v
                if of is str or of is int or of is bool or v is None
                else json_safe(v, _depth=_depth + 1)
            )
        return out
    if kind is dict and _depth == 32:
        return {k if type(k) is str else str(k): repr(v) for k, v in value.items()}
    if _depth > 32:
        return repr(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, _depth=_depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [json_safe(v, _depth=_depth + 1) for v in items]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value)
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        try:
            return str(isoformat())
        except Exception:  # pragma: no cover - defensive against hostile objects
            pass
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return json_safe(item(), _depth=_depth + 1)
        except Exception:
            pass
    return repr(value)


def strict_loads(text: str | bytes) -> Any:
    """``json.loads`` for files deployctl reads back (state, plans, journals): ``NaN`` and
    ``Infinity`` are refused, and nesting too deep for the parser is a ``ValueError`` like any
    other bad JSON instead of a ``RecursionError``."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None


# orjson reads an integer beyond 64 bits as a float (json keeps it exact), so a run of 19 digits
# anywhere (-9223372036854775809 is one) sends the text to json.
_DIGIT_RUNS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS = b"0" * 19


def fast_loads(data: bytes) -> Any:
    """``json.loads(data)``: the same value or the same error, through orjson when it reads
    ``data`` the same way (a record of the local target in a quarter of the time). Anything
    orjson refuses (``NaN``, lone surrogates, a byte-order mark, UTF-16...) or might read
    differently (an integer too long for 64 bits) is read by ``json``."""
    if _LONG_DIGITS not in data.translate(_DIGIT_RUNS):
        import orjson  # not at the top: it takes as long to import as yaml

        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def canonical_json(value: JSONValue) -> str:
    """Deterministic JSON text (sorted keys, no spaces) for hashing and equality."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def indented_json(value: Any, *, allow_nan: bool = False) -> str:
    """``json.dumps(value, indent=2, sort_keys=True, allow_nan=allow_nan)``, the same text and
    the same errors, in a fraction of the time: the form of state, plan and record files.

    orjson writes the text when ``value`` holds only ``dict``, ``list``, ``tuple``, ``str``,
    ``int``, ``float``, ``bool`` and ``None`` (exactly those types), no ``NaN`` or infinity, and
    nothing orjson refuses (a key that is not a string, an integer beyond 64 bits, a lone
    surrogate, a cycle); the ``json`` module writes everything else, raising ``ValueError``
    for ``NaN`` or infinity (unless ``allow_nan``) and ``TypeError`` for what is not JSON.
    Where orjson's text differs from the ``json`` module's it is made the same: characters
    outside printable ASCII become ``\\uXXXX`` escapes, and floats below 1e-4 are written by
    ``repr`` (orjson writes ``1e-7`` and ``0.00001`` for ``1e-07`` and ``1e-05``).
    """
    import orjson  # not at the top: it takes as long to import as yaml

    indented = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    try:
        data = orjson.dumps(value, option=indented)
    except orjson.JSONEncodeError:
        data = None
    # Once orjson has written it, ``value`` is known to hold no cycle.
    small_floats = None if data is None else _small_floats(value)
    if data is None or small_floats is None:
        return json.dumps(value, indent=2, sort_keys=True, allow_nan=allow_nan)
    if small_floats:
        data = orjson.dumps(_with_python_floats([value])[0], option=indented)
    text = data.decode("utf-8")
    # Characters outside printable ASCII can only be inside strings: escaping them wherever
    # they are is what the json module's ensure_ascii does.
    if not data.isascii():
        text = text.encode("ascii", _ESCAPE_NON_ASCII).decode("ascii")
    if b"\x7f" in data:
        text = text.replace("\x7f", "\\u007f")
    return text


def ascii_json_line(value: Any) -> bytes:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)`` as ASCII
    bytes ending in a line feed: the same value and the same errors (one journal line).

    orjson writes it (in a quarter of the time) when ``value`` holds only the exact JSON types
    and finite floats (as for ``indented_json``) and its text is ASCII; the json module writes
    the rest, with ASCII escapes (which keep lone surrogates and line separators out of the
    line structure) and its errors. The two may write a float differently, never another value.
    """
    import orjson  # not at the top: it takes as long to import as yaml

    try:
        data: bytes | None = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate, a cycle
        data = None
    # Once orjson has written it, ``value`` is known to hold no cycle.
    if data is not None and data.isascii() and _small_floats(value) is not None:
        return data + b"\n"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii") + b"\n"


_ESCAPE_NON_ASCII = "deployctl.json_escape"


def _json_escapes(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler ``_ESCAPE_NON_ASCII``: characters that ASCII cannot encode, as
    the json module escapes them (``\\u00e9``, and a surrogate pair beyond U+FFFF)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    escaped = encode_basestring_ascii(error.object[error.start : error.end])
    return escaped[1:-1], error.end


codecs.register_error(_ESCAPE_NON_ASCII, _json_escapes)


def _small_floats(value: Any) -> bool | None:
    """``None`` unless ``value`` holds only the exact JSON types and finite floats; else
    whether one of its floats is below 1e-4 in magnitude (and not zero).

    It looks at every item, and for no cycle: ``value`` must be known to hold none.
    """
    result = False
    stack: list[Any] = [[value]]
    while stack:
        container = stack.pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue
            if kind is dict or kind is list or kind is tuple:
                stack.append(item)
            elif kind is float:
                if not 1e-4 <= abs(item) < math.inf:
                    if not math.isfinite(item):
                        return None
                    if item != 0.0:
                        result = True
            else:
                return None
    return result


def _with_python_floats(container: list[Any] | tuple[Any, ...] | dict[str, Any]) -> Any:
    """A copy of ``container`` (of exact JSON types) in which every float below 1e-4 (but not
    zero) is an ``orjson.Fragment`` of its ``repr``, so orjson writes it as json does."""
    from orjson import Fragment

    items: Any = container.items() if type(container) is dict else enumerate(container)
    copy: Any = {} if type(container) is dict else [None] * len(container)
    for key, item in items:
        kind = type(item)
        if kind is float:
            if item and -1e-4 < item < 1e-4:
                item = Fragment(repr(item))
        elif kind is dict or kind is list or kind is tuple:
            item = _with_python_floats(item)
        copy[key] = item
    return copy


def json_equal(a: JSONValue, b: JSONValue) -> bool:
    """``canonical_json(a) == canonical_json(b)``, without writing either out when they are equal
    value for value and type for type (``1``, ``1.0`` and ``True`` are three different values)."""
    return _same(a, b) or canonical_json(a) == canonical_json(b)


def json_identical(a: JSONValue, b: JSONValue) -> bool:
    """Equal value for value and type for type all the way down (``1``, ``1.0`` and ``True``
    differ; key order does not matter): a sufficient test for ``json_equal`` that writes
    nothing out."""
    return _same(a, b)


_CONTAINERS = (dict, list, tuple)


def same_text(a: JSONValue, b: JSONValue) -> bool:
    """``json_identical`` for a field that is usually a string or absent (a model URI, a
    flavor), deciding those cases without a call to ``_same``."""
    if a is b:
        return True
    if type(a) is str and type(b) is str:
        return a == b
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down: a sufficient test for equal canonical JSON.

    It runs for every field of every deployment a plan compares, so it loops rather than
    builds generators, compares scalars in place rather than by a call each, and takes one
    object for the same as itself.
    """
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is str or a is None:  # the usual field: a model URI, a flavor
        return bool(a == b)
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for key, value in a.items():
            if type(key) is not str or key not in b:
                return False
            other = b[key]
            if value is other:
                continue
            if type(value) is not type(other):
                return False
            if isinstance(value, _CONTAINERS):
                if not _same(value, other):
                    return False
            elif value != other:
                return False
        return True
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return False
        for value, other in zip(a, b, strict=True):
            if value is not other and not _same(value, other):
                return False
        return True
    return bool(a == b)


@dataclass(frozen=True)
class DeploymentSpec:
    """What deployctl asks a target for: the comparable, applied part of a deployment.

    A sensitive value (``model.sensitive``) is a marker, ``{"$sensitive": "hmac-sha256:…"}``,
    wherever it is: in ``config``, or as the whole ``model_uri`` or ``flavor``. Only the spec
    handed to a plugin (``model.secrets.Secrets.resolve``) holds the real values.
    """

    model_uri: str | JSONObject
    flavor: str | JSONObject | None = None
    config: JSONObject = field(default_factory=dict)

    def to_json(self) -> JSONObject:
        return {"model_uri": self.model_uri, "flavor": self.flavor, "config": self.config}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeploymentSpec:
        config = data.get("config") or {}
        model_uri = data["model_uri"]
        return cls(
            model_uri=dict(model_uri) if isinstance(model_uri, dict) else str(model_uri),
            flavor=data.get("flavor"),
            config=dict(config),
        )

    def same_as(self, other: DeploymentSpec) -> bool:
        return json_equal(self.to_json(), other.to_json())

    def identical(self, other: DeploymentSpec) -> bool:
        """``json_identical`` field by field: a sufficient test for ``same_as`` that writes
        nothing out."""
        return (
            same_text(self.model_uri, other.model_uri)
            and same_text(self.flavor, other.flavor)
            and _same(self.config, other.config)
        )


LIFECYCLE_PATH_PATTERN = r"^(model_uri|flavor|config(\.[A-Za-z0-9_-]+)*)(?!\n)$"


@dataclass(frozen=True)
class Lifecycle:
    """A deployment's lifecycle guards (``lifecycle:`` in the manifest).

    ``prevent_destroy``: any plan that would delete it is an error. ``ignore_changes``: dotted
    paths (``config.instance_count``) ignored in diff and drift. ``replace_on``: a change to
    these paths is planned as delete then create.
    """

    prevent_destroy: bool = False
    ignore_changes: tuple[str, ...] = ()
    replace_on: tuple[str, ...] = ()

    def to_json(self) -> JSONObject:
        return {
            "prevent_destroy": self.prevent_destroy,
            "ignore_changes": list(self.ignore_changes),
            "replace_on": list(self.replace_on),
        }


def target_scheme(uri: str) -> str:
    """The plugin name of a target URI, parsed exactly as MLflow's ``parse_target_uri`` does.

    ``urlparse(uri).scheme`` (lower-cased by urlparse), or the whole string when there is no
    scheme: so ``sagemaker:/us-east-1`` -> ``sagemaker``, ``local`` -> ``local``, and
    ``my_target:/x`` -> ``my_target:/x`` (``_`` is not a scheme character; MLflow agrees).
    """
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    if parsed.scheme:
        return parsed.scheme
    return parsed.path or uri
