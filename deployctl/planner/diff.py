"""Field-level differences between two deployment records, as dotted paths (``config.workers``)."""

from __future__ import annotations

import re
from typing import Any

from deployctl.model import JSONObject, JSONValue, canonical_json
from deployctl.planner.plan import FieldChange

_PATH_PART = re.compile(r"\[(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(\d+))\]")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _dotted(deepdiff_path: str) -> str:
    """``root['config']['workers']`` -> ``config.workers``; ``root['a'][0]`` -> ``a[0]``."""
    out = ""
    for key_sq, key_dq, index in _PATH_PART.findall(deepdiff_path):
        if index:
            out += f"[{index}]"
            continue
        key = key_sq or key_dq
        if _PLAIN_KEY.match(key):
            out += f".{key}" if out else key
        else:
            out += f'["{key}"]'
    return out


def _leaves(value: JSONValue, prefix: str = "") -> list[tuple[str, JSONValue]]:
    """Flatten a record into (dotted path, leaf) pairs; empty mappings stay as leaves."""
    if isinstance(value, dict) and value:
        out: list[tuple[str, JSONValue]] = []
        for key in sorted(value):
            part = key if _PLAIN_KEY.match(key) else f'["{key}"]'
            path = (
                part
                if not prefix
                else (f"{prefix}.{part}" if _PLAIN_KEY.match(key) else prefix + part)
            )
            out.extend(_leaves(value[key], path))
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
    if canonical_json(before) == canonical_json(after):
        return ()
    from deepdiff import DeepDiff  # heavy: imported only when something differs

    result: Any = DeepDiff(before, after, verbose_level=2)
    changes: list[FieldChange] = []
    for key in ("values_changed", "type_changes"):
        for path, item in result.get(key, {}).items():
            changes.append(FieldChange(_dotted(path), item["old_value"], item["new_value"]))
    for key in ("dictionary_item_added", "iterable_item_added"):
        for path, value in result.get(key, {}).items():
            changes.append(FieldChange(_dotted(path), None, value, "added"))
    for key in ("dictionary_item_removed", "iterable_item_removed"):
        for path, value in result.get(key, {}).items():
            changes.append(FieldChange(_dotted(path), value, None, "removed"))
    return tuple(sorted(changes, key=lambda c: c.path))
