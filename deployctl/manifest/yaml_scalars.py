"""What a plain YAML scalar means: its tag under YAML 1.1 (PyYAML's rules) and its value.

Every reader of a manifest resolves and builds scalars here, and the line reader
(``manifest.yaml_block``) does so without importing PyYAML at all: importing it takes as long as
reading a few hundred deployments, and a manifest in plain block style never needs it.
``IMPLICIT`` is PyYAML's table of implicit resolvers, written out (the tests hold it equal to
``yaml.resolver.Resolver.yaml_implicit_resolvers``); ``scalar`` builds a value as the full walk
of ``manifest.yaml_nodes`` does, asking PyYAML's own constructors only for the rare spellings
(``0x1f``, ``1_000``, ``1:30``, ``.inf``) it does not read itself.
"""

from __future__ import annotations

import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yaml.constructor import SafeConstructor

TAG = "tag:yaml.org,2002:"
STR_TAG = TAG + "str"
TIMESTAMP_TAG = TAG + "timestamp"
MAP_TAG = TAG + "map"
SEQ_TAG = TAG + "seq"
_INT_TAG = TAG + "int"
_FLOAT_TAG = TAG + "float"
_BOOL_TAG = TAG + "bool"
_NULL_TAG = TAG + "null"
# ``SafeConstructor.bool_values``: the spellings the bool resolver lets through, lower-cased.
BOOL_VALUES: dict[str, bool] = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
}
# Deeper nesting than this is no manifest (a deployment's config is a few levels deep).
MAX_DEPTH = 64


class NotPlain(Exception):
    """A reader met something only the full walk checks, reports or builds."""


def _implicit(
    tag: str, pattern: str, first: str | tuple[str, ...], flags: int = re.X
) -> tuple[str, re.Pattern[str], tuple[str, ...]]:
    return TAG + tag, re.compile(pattern, flags), tuple(first)


# PyYAML's resolver (``yaml/resolver.py``), in its order: (tag, pattern, the first characters
# it applies to; "" stands for the empty scalar).
_RESOLVERS = (
    _implicit(
        "bool",
        r"""^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$""",
        "yYnNtTfFoO",
    ),
    _implicit(
        "float",
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
    _implicit(
        "int",
        r"""^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""",
        "-+0123456789",
    ),
    _implicit("merge", r"^(?:<<)$", "<", 0),
    _implicit(
        "null",
        r"""^(?: ~
                    |null|Null|NULL
                    | )$""",
        ("~", "n", "N", ""),
    ),
    _implicit(
        "timestamp",
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
                     (?:[Tt]|[ \t]+)[0-9][0-9]?
                     :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
                     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        "0123456789",
    ),
    _implicit("value", r"^(?:=)$", "=", 0),
    # PyYAML's "only for documentation": plain scalars cannot start with these.
    _implicit("yaml", r"^(?:!|&|\*)$", "!&*", 0),
)


def _table() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in _RESOLVERS:
        for char in first:
            table.setdefault(char, []).append((tag, pattern))
    return table


IMPLICIT = _table()
"""First character ("": the empty scalar) -> the (tag, pattern) pairs tried, in order:
``yaml.resolver.Resolver.yaml_implicit_resolvers``."""


def implicit_tag(text: str) -> str:
    """The tag YAML 1.1 (PyYAML's resolver) gives the plain scalar ``text``."""
    for tag, pattern in IMPLICIT.get(text[:1], ()):
        if pattern.match(text):
            return tag
    return STR_TAG


def scalar(tag: str, text: str) -> Any:
    """The value of a scalar written ``text`` and resolved to ``tag``, as the full walk builds
    it; ``NotPlain`` where that reports something."""
    if tag in (STR_TAG, TIMESTAMP_TAG):
        return text
    if tag == _INT_TAG:
        # The common case: "0…" is octal in YAML 1.1, and int() refuses over 4,300 digits.
        if text.isdecimal() and text[0] != "0" and len(text) < 19:
            return int(text)
        return _construct("int", tag, text)
    if tag == _NULL_TAG:
        return None
    if tag == _BOOL_TAG:
        value = BOOL_VALUES.get(text.lower())
        if value is None:
            raise NotPlain
        return value
    if tag == _FLOAT_TAG:
        # Digits, a point and an exponent read as Python reads them (no "_", ":", ".inf").
        if len(text) < 40 and _DECIMAL.fullmatch(text):
            return float(text)
        number = _construct("float", tag, text)
        if not math.isfinite(number):
            raise NotPlain
        return number
    raise NotPlain


_DECIMAL = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?")


def _construct(kind: str, tag: str, text: str) -> Any:
    # PyYAML's constructors read only the node's text, never the loader's state. What they
    # cannot read, the full walk reports, in its own words.
    from yaml.nodes import ScalarNode

    constructor = _constructor()
    construct = (
        constructor.construct_yaml_int if kind == "int" else constructor.construct_yaml_float
    )
    try:
        return construct(ScalarNode(tag, text))
    except Exception as error:
        raise NotPlain from error


@cache
def _constructor() -> SafeConstructor:
    from yaml.constructor import SafeConstructor

    return SafeConstructor()


__all__ = [
    "IMPLICIT",
    "MAP_TAG",
    "MAX_DEPTH",
    "SEQ_TAG",
    "STR_TAG",
    "TAG",
    "TIMESTAMP_TAG",
    "NotPlain",
    "implicit_tag",
    "scalar",
]
