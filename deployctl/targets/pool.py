"""The target pool: one connected adapter per target, made on first use and then reused.

Constructing a plugin client may connect to a cluster, so a command loads only the targets it
touches, and each of them once however often it is asked for (refresh, then apply).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target


class _MappedTarget(Protocol):
    """A manifest target, as far as the pool reads it."""

    @property
    def key(self) -> str: ...

    @property
    def fields(self) -> object: ...

    def field_mapping(self) -> dict[str, str]: ...


class _TargetsOf(Protocol):
    """A manifest, as far as the pool reads it (``deployctl.manifest.model.Manifest``)."""

    @property
    def targets(self) -> Iterable[_MappedTarget]: ...


class TargetPool:
    """Loads each target's plugin client once, on first use (constructors may connect).

    ``fields`` maps target keys to their field mapping (the manifest's ``fields:``; record
    field -> key or dotted path), so each adapter reads its target's records the way the
    manifest says. A key without one reads them with deployctl's default paths, as does every
    target when the pool is made without a manifest (applying a saved plan).
    """

    def __init__(self, fields: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._fields = {key: dict(mapping) for key, mapping in (fields or {}).items()}
        self._adapters: dict[tuple[str, str], TargetAdapter] = {}

    @classmethod
    def for_manifest(cls, manifest: _TargetsOf) -> TargetPool:
        """A pool reading each of the manifest's targets with its ``fields:`` mapping."""
        return cls({t.key: t.field_mapping() for t in manifest.targets if t.fields})

    def fields(self, key: str) -> dict[str, str]:
        """The field mapping adapters of target ``key`` use (empty: the defaults)."""
        return dict(self._fields.get(key, {}))

    def get(self, key: str, uri: str) -> TargetAdapter:
        """The adapter of target ``key`` at ``uri``, loaded (and connected) the first time."""
        if (key, uri) not in self._adapters:
            self._adapters[(key, uri)] = load_target(uri, key=key, fields=self._fields.get(key))
        return self._adapters[(key, uri)]


__all__ = ["TargetPool"]
