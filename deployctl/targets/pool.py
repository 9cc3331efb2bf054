"""The target pool: one connected adapter per target, made on first use and then reused.

Constructing a plugin client may connect to a cluster, so a command loads only the targets it
touches, and each of them once however often it is asked for (refresh, then apply). Each adapter
gets its target's field mapping and call policy (timeouts, retries, and whether each change gets
a client of its own: ``client: per_action``) from the manifest, or from the saved plan that
recorded them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sized
from typing import Protocol

from deployctl.model import target_scheme
from deployctl.model.calls import CallPolicy
from deployctl.targets import read_ahead as readahead
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.calls import RetryListener
from deployctl.targets.loading import load_target


class _MappedTarget(Protocol):
    """A manifest target, as far as the pool reads it."""

    @property
    def key(self) -> str: ...

    @property
    def fields(self) -> object: ...

    @property
    def calls(self) -> CallPolicy | None: ...

    @property
    def resolved_uri(self) -> str: ...

    @property
    def deployments(self) -> Sized: ...

    def field_mapping(self) -> dict[str, str]: ...


class _TargetsOf(Protocol):
    """A manifest, as far as the pool reads it (``deployctl.manifest.model.Manifest``)."""

    @property
    def targets(self) -> Iterable[_MappedTarget]: ...


class TargetPool:
    """Loads each target's plugin client once, on first use (constructors may connect).

    ``fields`` maps target keys to their field mapping (the manifest's ``fields:``; record
    field -> key or dotted path), so each adapter reads its target's records the way the
    manifest says; ``calls`` maps target keys to their ``CallPolicy`` (the manifest's
    ``timeout:``, ``retry:`` and ``client:``). A key without one uses deployctl's defaults (one
    shared client), as does every target when the pool is made without a manifest or plan.
    ``on_retry`` is given to every adapter the pool makes (see ``TargetAdapter``).
    """

    def __init__(
        self,
        fields: Mapping[str, Mapping[str, str]] | None = None,
        calls: Mapping[str, CallPolicy] | None = None,
        *,
        on_retry: RetryListener | None = None,
    ) -> None:
        self._fields = {key: dict(mapping) for key, mapping in (fields or {}).items()}
        self._calls = dict(calls or {})
        self._adapters: dict[tuple[str, str], TargetAdapter] = {}
        self._on_retry = on_retry

    @classmethod
    def for_manifest(
        cls, manifest: _TargetsOf, *, on_retry: RetryListener | None = None
    ) -> TargetPool:
        """A pool reading each of the manifest's targets with its ``fields:`` mapping and
        calling it with its ``timeout:``, ``retry:`` and ``client:``."""
        return cls(
            {t.key: t.field_mapping() for t in manifest.targets if t.fields},
            {t.key: t.calls for t in manifest.targets if t.calls is not None},
            on_retry=on_retry,
        )

    @property
    def on_retry(self) -> RetryListener | None:
        """What hears of each retry of every adapter of the pool (set it at any time)."""
        return self._on_retry

    @on_retry.setter
    def on_retry(self, listener: RetryListener | None) -> None:
        self._on_retry = listener
        for adapter in self._adapters.values():
            adapter.on_retry = listener

    def fields(self, key: str) -> dict[str, str]:
        """The field mapping adapters of target ``key`` use (empty: the defaults)."""
        return dict(self._fields.get(key, {}))

    def calls(self, key: str) -> CallPolicy:
        """The call policy adapters of target ``key`` use."""
        return self._calls.get(key) or CallPolicy()

    def read_ahead(
        self,
        manifest: _TargetsOf,
        selected: Callable[[str], bool] | None = None,
        *,
        min_deployments: int | None = None,
    ) -> None:
        """List the manifest's built-in ``local`` targets (those ``selected``, by key) in a child
        process from now on, for their adapters' next ``list`` (``targets.read_ahead``): when
        they hold at least ``min_deployments`` deployments (``read_ahead.MIN_DEPLOYMENTS``)
        and this process can fork safely."""
        chosen = [
            t
            for t in manifest.targets
            if target_scheme(t.resolved_uri) == "local" and (selected is None or selected(t.key))
        ]
        least = readahead.MIN_DEPLOYMENTS if min_deployments is None else min_deployments
        if sum(len(t.deployments) for t in chosen) < least:
            return
        adapters = [self.get(t.key, t.resolved_uri) for t in chosen]
        adapters = [a for a in adapters if a.runs_in_process and a.read_ahead is None]
        ahead = readahead.ReadAhead.start(adapters)
        for adapter in adapters if ahead is not None else ():
            adapter.read_ahead = ahead

    def get(self, key: str, uri: str) -> TargetAdapter:
        """The adapter of target ``key`` at ``uri``, loaded (and connected) the first time."""
        if (key, uri) not in self._adapters:
            adapter = load_target(
                uri, key=key, fields=self._fields.get(key), policy=self._calls.get(key)
            )
            adapter.on_retry = self._on_retry
            self._adapters[(key, uri)] = adapter
        return self._adapters[(key, uri)]


__all__ = ["TargetPool"]
