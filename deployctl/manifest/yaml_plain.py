"""The lean YAML reader: the data of a document that is all plain YAML, and where it was written.

A manifest is almost always plain mappings with distinct string keys, lists and scalars: its data
can be built straight from the composed nodes, with no positions, paths or bookkeeping, faster
than ``yaml.load`` builds it. Whatever else a document holds (any tag, merge key, repeated or
non-string key, a value a manifest refuses, nesting past ``MAX_DEPTH``) ends this reader with
``NotPlain``, and the full walk of ``manifest.yaml_nodes`` reads the document instead, checking,
wording and locating everything. So what this reader builds is always what the full walk would.
The positions stay in the composed nodes (:class:`NodePositions`), looked up when asked for.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from deployctl.manifest.positions import JSONPath, Mark, Position
from deployctl.manifest.yaml_scalars import (
    MAP_TAG,
    MAX_DEPTH,
    SEQ_TAG,
    STR_TAG,
    NotPlain,
    scalar,
)


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


def node_position(node: Node) -> Mark:
    """The 1-based line and column where ``node`` starts."""
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class NodePositions:
    """``manifest.positions.Positions`` looked up in the composed nodes of a document the lean
    reader built.

    Such a document has only plain mappings with distinct string keys, lists and scalars, so a
    path leads to one node, as it does for the full walk; each mapping on a looked-up path is
    indexed by key once. Nothing is computed for paths no one asks about.
    """

    def __init__(self, root: Node, source: str) -> None:
        self.source = source
        self._root = root
        self._index: dict[int, dict[str, tuple[Node, Node]]] = {}
        # The node at each path whose children were looked up: siblings (every deployment of
        # a target) share their parent's descent.
        self._parents: dict[JSONPath, Node] = {}

    def _find(self, path: JSONPath) -> tuple[Node, Node | None]:
        """The node of the longest written prefix of ``path``, and the key naming it when that
        prefix is all of ``path``."""
        if not path:
            return self._root, None
        parent_path = path[:-1]
        parent = self._parents.get(parent_path)
        if parent is None:
            node = self._root
            for part in parent_path:
                child = self._child(node, part)
                if child is None:
                    return node, None
                node = child[1]
            parent = self._parents[parent_path] = node
        found = self._child(parent, path[-1])
        if found is None:
            return parent, None
        return found[1], found[0]

    def _child(self, node: Node, part: str | int) -> tuple[Node | None, Node] | None:
        """The (key, value) nodes of ``part`` in ``node`` (no key for a list entry)."""
        if isinstance(node, MappingNode) and isinstance(part, str):
            index = self._index.get(id(node))
            if index is None:
                index = self._index[id(node)] = {k.value: (k, v) for k, v in node.value}
            return index.get(part)
        if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            return None, node.value[part]
        return None

    def value(self, path: JSONPath) -> Position:
        return Position(self.source, *node_position(self._find(path)[0]))

    def key(self, path: JSONPath) -> Position:
        node, key = self._find(path)
        return Position(self.source, *node_position(key if key is not None else node))

    def written_key(self, path: JSONPath) -> Position | None:
        key = self._find(path)[1]
        return Position(self.source, *node_position(key)) if key is not None else None


__all__ = ["NodePositions", "node_position", "plain_data"]
