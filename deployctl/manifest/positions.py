"""Where each key and value of a manifest was written: file, line and column by JSON path.

Every message about a manifest names FILE:LINE:COL, so the YAML reader hands the rest of the
loader a :class:`Positions` index along with the data. The full walk records one entry per key
and value as it builds them (:class:`RecordedPositions`); a clean document read by the lean
reader keeps its composed nodes instead and looks a path up in them only when a message or a
location asks for it (:class:`NodePositions`); the line reader notes its top levels and asks
libyaml's nodes for the rest (``manifest.yaml_block.LinePositions``). All answer every lookup
alike. A manifest that
``extends:`` bases is read from several files: ``manifest.extends`` answers each lookup from the
file that wrote the value, which is why a :class:`Position` carries its file.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from yaml.nodes import MappingNode, Node, SequenceNode

from deployctl.errors import ManifestIssue

JSONPath = tuple[str | int, ...]
Mark = tuple[int, int]
"""A 1-based line and column in one file."""


class Position(NamedTuple):
    """Where a key or value was written: the file (as messages name it), line and column."""

    source: str
    line: int
    col: int

    def issue(self, message: str) -> ManifestIssue:
        """``message`` as an issue located here."""
        return ManifestIssue(self.source, self.line, self.col, message)


def node_position(node: Node) -> Mark:
    """The 1-based line and column where ``node`` starts."""
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class Positions(Protocol):
    """Where each key and value of the document was written (file, line, column), by JSON path.

    Lookups fall back to the nearest written ancestor so that a path the YAML never spelled out
    (a missing field, a value produced by interpolation) still points somewhere useful.
    """

    def value(self, path: JSONPath) -> Position:
        """Where the value at ``path`` (or its nearest written ancestor) starts."""
        ...

    def key(self, path: JSONPath) -> Position:
        """Where the key naming ``path`` was written (the value's position when no key names
        it: the root, a list entry, a path not written)."""
        ...

    def written_key(self, path: JSONPath) -> Position | None:
        """Where the key naming ``path`` was written, or None when none does."""
        ...


class RecordedPositions:
    """:class:`Positions` recorded by the full walk, one entry per key and value it built, in
    the file ``source``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.keys: dict[JSONPath, Mark] = {}
        self.values: dict[JSONPath, Mark] = {}

    def _value(self, path: JSONPath) -> Mark:
        while path:
            found = self.values.get(path)
            if found is not None:
                return found
            path = path[:-1]
        return self.values.get((), (1, 1))

    def value(self, path: JSONPath) -> Position:
        return Position(self.source, *self._value(path))

    def key(self, path: JSONPath) -> Position:
        found = self.keys.get(path)
        return Position(self.source, *(found if found is not None else self._value(path)))

    def written_key(self, path: JSONPath) -> Position | None:
        found = self.keys.get(path)
        return Position(self.source, *found) if found is not None else None


class NodePositions:
    """:class:`Positions` looked up in the composed nodes of a document the lean reader built.

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
