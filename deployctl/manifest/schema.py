"""The manifest JSON Schema, and the two validators that run it.

``schemas/manifest.schema.json`` is the single source of what a manifest may contain. A valid
manifest is the common case, so the schema first runs on ``jsonschema_rs`` (compiled, some fifty
times faster) when it is installed; ``jsonschema`` is imported only to word the errors of an
invalid one (``manifest.validate``). The two must agree on what is valid. The schema's regexes are
Python's (``re``), so the compiled validator gets them translated where Rust's regex reads the same
text otherwise (``rust_pattern``), and is not used at all when a pattern cannot be translated.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


@functools.cache
def manifest_schema() -> dict[str, Any]:
    """The manifest JSON Schema, as shipped inside the package."""
    import pkgutil  # not importlib.resources: it imports tempfile and zipfile (7 ms) for this

    data = pkgutil.get_data("deployctl", "schemas/manifest.schema.json")
    assert data is not None, "deployctl's loader reads its package data"
    schema: dict[str, Any] = json.loads(data)
    return schema


@functools.cache
def jsonschema_validator() -> Draft202012Validator:
    """The manifest schema on ``jsonschema``: slow, but its errors say where and why."""
    from jsonschema import Draft202012Validator  # heavy: imported only to word the errors

    schema = manifest_schema()
    # Resolving a "$ref" costs more than checking what it points at; with 10,000 deployments
    # that doubles the validation time, so validate against a copy with the refs inlined.
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples", "default"})


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with local ``#/$defs/NAME`` references replaced by what they name.

    The manifest schema is not recursive, so this terminates. Keywords next to a ``$ref`` apply
    together with it; plain annotations are merged in, anything else is kept apart in ``allOf``.
    """
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    inlined = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    ref = inlined.pop("$ref", None)
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        if ref is not None:
            inlined["$ref"] = ref
        return inlined
    target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
    if set(inlined) <= _ANNOTATIONS:
        return {**target, **inlined}
    return {**inlined, "allOf": [*inlined.get("allOf", []), target]}


# Python's ``\s`` in a ``str`` pattern (``str.isspace``), spelled so that Python and Rust read the
# class alike; Rust's own ``\s`` leaves out U+001C..U+001F.
PYTHON_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Escapes Python and Rust read differently (Unicode classes, word boundaries) and that
# rust_pattern does not translate.
_UNTRANSLATED = frozenset("dDwWbBAZ")
# Keywords whose values are data, not subschemas: nothing in them is a pattern.
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})


class UntranslatablePattern(ValueError):
    """A schema regex that Rust's regex would read otherwise than Python's ``re``."""


def rust_pattern(pattern: str) -> str:
    """``pattern`` (Python ``re`` syntax) rewritten to match the same strings under Rust's
    ``fancy-regex``: ``\\s`` and ``\\S`` spelled as Python's whitespace class, and ``$`` as
    Python reads it (the end, or before a newline that ends the text). Raises
    ``UntranslatablePattern`` for what it cannot vouch for (``\\d``, ``\\w``, ``\\b``,
    ``\\A``, ``\\Z``, ``\\S`` in a class; ``[``, ``&&``, ``--`` or ``~~`` in a class,
    which Rust reads as nested classes and set operations)."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "s":
                out.append(PYTHON_SPACE if in_class else f"[{PYTHON_SPACE}]")
            elif escaped == "S" and not in_class:
                out.append(f"[^{PYTHON_SPACE}]")
            elif escaped in _UNTRANSLATED or escaped == "S":
                raise UntranslatablePattern(f"\\{escaped} in {pattern!r}")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class and (char == "[" or pattern[i : i + 2] in ("&&", "--", "~~")):
            raise UntranslatablePattern(f"{pattern[i : i + 2]!r} inside a class in {pattern!r}")
        if char == "$" and not in_class:
            out.append(r"(?=\n?\z)")
            i += 1
            continue
        out.append(char)
        i += 1
        if char == "[":
            in_class = True
            for literal in ("^", "]"):  # "[^]..." and "[]...": a leading ']' is literal
                if pattern[i : i + 1] == literal:
                    out.append(literal)
                    i += 1
        elif char == "]" and in_class:
            in_class = False
    return "".join(out)


def _rust_schema(node: Any) -> Any:
    """The schema with every ``pattern`` and ``patternProperties`` regex translated."""
    if isinstance(node, list):
        return [_rust_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "pattern" and isinstance(value, str):
            out[key] = rust_pattern(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {rust_pattern(p): _rust_schema(sub) for p, sub in value.items()}
        else:
            out[key] = _rust_schema(value)
    return out


@functools.cache
def fast_validator() -> Callable[[Any], bool] | None:
    """``is_valid`` of the manifest schema on ``jsonschema_rs``; None when that is not
    installed or the schema has a pattern it would read otherwise (then ``jsonschema`` does
    all the work: the fast validator is an optimisation, never a requirement)."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        schema = _rust_schema(manifest_schema())
    except UntranslatablePattern:
        return None
    is_valid: Callable[[Any], bool] = jsonschema_rs.validator_for(schema).is_valid
    return is_valid


def fast_is_valid(data: Any) -> bool | None:
    """Whether ``data`` is a valid manifest by the fast validator; None when it cannot tell
    (not installed, or data it cannot take, such as a string with a lone surrogate)."""
    is_valid = fast_validator()
    if is_valid is None:
        return None
    try:
        return is_valid(data)
    except Exception:  # whatever it cannot take, jsonschema judges
        return None
