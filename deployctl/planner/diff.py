"""Field-level differences between two deployment records, as dotted paths (``config.workers``)."""

from __future__ import annotations

from typing import Any

from deployctl.model import JSONObject, JSONValue, json_equal
from deployctl.model.sensitive import MARKER, dotted, is_masked, join_path
from deployctl.planner.plan import FieldChange

# DeepDiff's report types, by the kind of field change each one is.
_KINDS = {
    "values_changed": "changed",
    "type_changes": "changed",
    "dictionary_item_added": "added",
    "iterable_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_removed": "removed",
}


def _leaves(value: JSONValue, prefix: str = "") -> list[tuple[str, JSONValue]]:
    """Flatten a record into (dotted path, leaf) pairs; empty mappings and sensitive markers
    stay as leaves."""
    if isinstance(value, dict) and value and not is_masked(value):
        out: list[tuple[str, JSONValue]] = []
        for key in sorted(value):
            out.extend(_leaves(value[key], join_path(prefix, key)))
        return out
    return [(prefix, value)]


def creation_diff(after: JSONObject) -> tuple[FieldChange, ...]:
    """Every field a create sets (null fields left out)."""
    return tuple(
        FieldChange(path, None, leaf, "added")
        for path, leaf in _leaves(after)
        if leaf is not None and leaf != {}
    )


def deletion_diff(before: JSONObject) -> tuple[FieldChange, ...]:
    """Every field a delete removes (null fields left out)."""
    return tuple(
        FieldChange(path, leaf, None, "removed")
        for path, leaf in _leaves(before)
        if leaf is not None and leaf != {}
    )


def field_diff(before: JSONObject, after: JSONObject) -> tuple[FieldChange, ...]:
    """Changed, added and removed fields between two records, sorted by path."""
    if json_equal(before, after):
        return ()
    from deepdiff import DeepDiff  # heavy: imported only when something differs

    tree: Any = DeepDiff(before, after, view="tree")
    changes: dict[str, FieldChange] = {}
    for report, kind in _KINDS.items():
        for level in tree.get(report, ()):
            parts = level.path(output_format="list")
            old = None if kind == "added" else level.t1
            new = None if kind == "removed" else level.t2
            if MARKER in parts:
                # Inside a marker: the change is the whole sensitive value's.
                up = len(parts) - parts.index(MARKER)
                for _ in range(up):
                    level = level.up
                parts = parts[:-up]
                old, new, kind = level.t1, level.t2, "changed"
            path = dotted(parts)
            changes[path] = FieldChange(path, old, new, kind)
    return tuple(sorted(changes.values(), key=lambda c: c.path))
