"""Where each key and value of a manifest was written: file, line and column by JSON path.

Every message about a manifest names FILE:LINE:COL, so the YAML reader hands the rest of the
loader a :class:`Positions` index along with the data. The full walk records one entry per key
and value as it builds them (:class:`RecordedPositions`); a clean document read by the lean
reader keeps its composed nodes instead and looks a path up in them only when a message or a
location asks for it (``manifest.yaml_plain.NodePositions``); the line reader notes its top
levels and asks libyaml's nodes for the rest (``manifest.yaml_block.LinePositions``). All answer
every lookup alike. A manifest that ``extends:`` bases is read from several files:
``manifest.extends`` answers each lookup from the file that wrote the value, which is why a
:class:`Position` carries its file.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

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
