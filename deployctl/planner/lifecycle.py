"""Lifecycle guards applied to records and diffs: ignored paths and replacement triggers.

Paths are dotted (``config.instance_count``), rooted at ``model_uri``, ``flavor`` or ``config``.
A path covers itself and everything below it, so ``config`` ignores the whole config.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from deployctl.model import JSONObject, JSONValue
from deployctl.planner.plan import FieldChange


def covers(path: str, field_path: str) -> bool:
    """Whether lifecycle ``path`` covers a diff's ``field_path`` (itself or below it)."""
    return field_path == path or field_path.startswith((f"{path}.", f"{path}[", f'{path}["'))


def without(record: JSONObject, paths: Iterable[str]) -> JSONObject:
    """``record`` with the values at ``paths`` removed (for comparing; a copy when any)."""
    paths = tuple(paths)
    if not paths:
        return record
    out: JSONObject = copy.deepcopy(record)
    for path in paths:
        *parents, last = path.split(".")
        node: JSONValue = out
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def keep_current(after: JSONObject, before: JSONObject, paths: Iterable[str]) -> JSONObject:
    """``after`` with the values at ``paths`` taken from ``before`` (ignored paths keep theirs).

    Where ``before`` has no value at a path, ``after``'s value is dropped, so an update never
    sends a value the user asked deployctl to ignore.
    """
    paths = tuple(paths)
    if not paths:
        return after
    out: JSONObject = copy.deepcopy(after)
    for path in paths:
        *parents, last = path.split(".")
        source: JSONValue = before
        target: JSONValue = out
        for key in parents:
            source = source.get(key) if isinstance(source, dict) else None
            if isinstance(target, dict):
                target = target.setdefault(key, {})
        if not isinstance(target, dict):
            continue
        if isinstance(source, dict) and last in source:
            target[last] = copy.deepcopy(source[last])
        else:
            target.pop(last, None)
    return out


def triggers(diff: Iterable[FieldChange], paths: Iterable[str]) -> list[str]:
    """The changed field paths that a ``replace_on`` path covers."""
    paths = list(paths)
    return [d.path for d in diff if any(covers(p, d.path) for p in paths)]
