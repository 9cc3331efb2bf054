"""The lean YAML reader: the data of a document that is all plain YAML, and nothing else.

A manifest is almost always plain mappings with distinct string keys, lists and scalars: its data
can be built straight from the composed nodes, with no positions, paths or bookkeeping, faster
than ``yaml.load`` builds it. Whatever else a document holds (any tag, merge key, repeated or
non-string key, a value a manifest refuses, nesting past ``MAX_DEPTH``) ends this reader with
``NotPlain``, and the full walk of ``manifest.yaml_nodes`` reads the document instead, checking,
wording and locating everything. So what this reader builds is always what the full walk would.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

TAG = "tag:yaml.org,2002:"
STR_TAG = TAG + "str"
TIMESTAMP_TAG = TAG + "timestamp"
MAP_TAG = TAG + "map"
SEQ_TAG = TAG + "seq"
_INT_TAG = TAG + "int"
_FLOAT_TAG = TAG + "float"
_BOOL_TAG = TAG + "bool"
_NULL_TAG = TAG + "null"
_BOOL_VALUES: dict[str, bool] = SafeConstructor.bool_values
# The scalar constructors read only the node they are given: one instance serves every read.
_CONSTRUCTOR = SafeConstructor()
# Deeper nesting than this is no manifest (a deployment's config is a few levels deep).
MAX_DEPTH = 64


class NotPlain(Exception):
    """The lean reader met something only the full walk checks, reports or builds."""


def plain_data(node: Node) -> Any:
    """The data of the document ``node``; raises ``NotPlain`` at anything the full walk
    (``manifest.yaml_nodes``) must read instead."""
    return _plain(node, 1)


def _plain(node: Node, depth: int) -> Any:
    """The data of ``node``, when it is all plain mappings (distinct string keys), lists and
    scalars nested at most ``MAX_DEPTH`` deep; raises ``NotPlain`` at anything else.

    Each value is built as the full walk builds it (an alias builds its node again, as a copy),
    without positions, paths or bookkeeping: what the full walk would report never gets here.
    A node that contains itself nests past ``MAX_DEPTH``, so it ends too.
    """
    if depth > MAX_DEPTH:
        raise NotPlain
    depth += 1
    if type(node) is MappingNode:
        pairs = node.value
        if node.tag != MAP_TAG:
            raise NotPlain
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key.tag != STR_TAG or type(key) is not ScalarNode:
                raise NotPlain  # a merge key, a key YAML reads as no string, a tag
            if type(value) is ScalarNode and value.tag == STR_TAG:
                result[key.value] = value.value
            else:
                result[key.value] = _plain(value, depth)
        if len(result) != len(pairs):
            raise NotPlain  # a repeated key
        return result
    if type(node) is SequenceNode:
        if node.tag != SEQ_TAG:
            raise NotPlain
        return [
            item.value if type(item) is ScalarNode and item.tag == STR_TAG else _plain(item, depth)
            for item in node.value
        ]
    return _plain_scalar(node)


def _plain_scalar(node: Node) -> Any:
    """A scalar's value as the full walk's ``_Walker._scalar`` builds it; ``NotPlain`` where
    that reports something."""
    if type(node) is not ScalarNode:
        raise NotPlain
    return scalar(node.tag, node.value)


def scalar(tag: str, text: str) -> Any:
    """The value of a scalar written ``text`` and resolved to ``tag``, as the full walk builds
    it; ``NotPlain`` where that reports something (shared with ``manifest.yaml_block``)."""
    if tag in (STR_TAG, TIMESTAMP_TAG):
        return text
    if tag == _INT_TAG:
        # The common case: "0…" is octal in YAML 1.1, and int() refuses over 4,300 digits.
        if text.isdecimal() and text[0] != "0" and len(text) < 19:
            return int(text)
        return _construct(SafeConstructor.construct_yaml_int, ScalarNode(tag, text))
    if tag == _NULL_TAG:
        return None
    if tag == _BOOL_TAG:
        value = _BOOL_VALUES.get(text.lower())
        if value is None:
            raise NotPlain
        return value
    if tag == _FLOAT_TAG:
        number = _construct(SafeConstructor.construct_yaml_float, ScalarNode(tag, text))
        if not math.isfinite(number):
            raise NotPlain
        return number
    raise NotPlain


def _construct(construct: Callable[[SafeConstructor, ScalarNode], Any], node: ScalarNode) -> Any:
    # These constructors read only the node's text, never the loader's state. What they cannot
    # read, the full walk reports, in its own words.
    try:
        return construct(_CONSTRUCTOR, node)
    except Exception as error:
        raise NotPlain from error
