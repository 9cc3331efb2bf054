"""The secrets of one run: which fields of each address are sensitive, their real values, and
the masking and resolving built on them (the values themselves are in ``model.sensitive``).

A ``Secrets`` masks what deployctl reads (desired specs, what targets report, state records) so
the planner, the state and every output only ever see markers, and resolves markers back to
real values for the plugin call that needs them (``resolve``). It learns the values it may
resolve from the manifest (given when it is made) and from what targets report at sensitive
paths (each ``mask_live`` adds those): a value kept by ``lifecycle.ignore_changes`` can then
be sent back as it is. The executor sees it through the ``SecretValues`` protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Protocol

from deployctl.errors import PlanError
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.sensitive import (
    Path,
    SecretKey,
    SensitiveField,
    dotted,
    fields_hold_marker,
    is_masked,
    marker_paths,
    merge_fields,
    redact,
    replace_markers,
    scrub,
    searched,
    values_at,
)
from deployctl.model.state import StateDocument, StateRecord
from deployctl.model.values import DeploymentSpec, JSONObject, JSONValue

# Every secret string any ``Secrets`` of this process has known: what a crash log must not
# show, whichever code crashed (``remembered``).
_REMEMBERED: set[str] = set()
_REMEMBERED_LOCK = threading.Lock()


def remember(values: Iterable[JSONValue]) -> None:
    with _REMEMBERED_LOCK:
        _REMEMBERED.update(searched(values))


def remembered() -> list[str]:
    """The secret strings this process has known, longest first (for ``redact``)."""
    with _REMEMBERED_LOCK:
        return searched(_REMEMBERED)


class SecretValues(Protocol):
    """What the executor needs of the secrets: the real spec to send, and read-back records
    masked before they are recorded."""

    def resolve(self, address: str, spec: DeploymentSpec) -> DeploymentSpec:
        """``spec`` with each marker replaced by the real value; ``PlanError`` when one is
        not known."""
        ...

    def mask_live(self, address: str, record: LiveRecord) -> LiveRecord:
        """``record`` (as the target reported it) with its sensitive values masked."""
        ...


class Secrets:
    """The sensitive fields and known values of a run, by address. Thread-safe."""

    def __init__(
        self,
        key: SecretKey,
        fields: Mapping[str, Iterable[SensitiveField]] | None = None,
        values: Mapping[str, Iterable[JSONValue]] | None = None,
    ) -> None:
        self.key = key
        self._fields = {a: merge_fields(f) for a, f in (fields or {}).items()}
        self._fields = {a: f for a, f in self._fields.items() if f}
        self._lock = threading.Lock()
        self._known: dict[str, dict[str, JSONValue]] = {}
        for address, found in (values or {}).items():
            self._learn(address, found)

    def fields(self, address: str) -> tuple[SensitiveField, ...]:
        """The sensitive fields of ``address`` (none: nothing there is masked)."""
        return self._fields.get(address, ())

    def addresses(self) -> list[str]:
        return sorted(self._fields)

    def has_fields(self) -> bool:
        """Whether any address has a sensitive field (else masking changes nothing)."""
        return bool(self._fields)

    def with_fields(self, extra: Mapping[str, Iterable[SensitiveField]]) -> Secrets:
        """These secrets with more sensitive fields (e.g. the markers a state holds). The two
        share what they know: a value either learns, both can resolve."""
        merged = dict(self._fields)
        for address, fields in extra.items():
            merged[address] = merge_fields(merged.get(address, ()), fields)
        other = Secrets(self.key, merged)
        other._lock = self._lock
        other._known = self._known
        return other

    def with_state(self, state: StateDocument) -> Secrets:
        """These secrets plus the fields that ``state``'s records hold markers at (a record
        without any, the usual case, is only checked, not walked: ``has_marker``)."""
        extra: dict[str, list[SensitiveField]] = {}
        for address, record in state.records.items():
            applied, live = record.applied, record.live
            if not fields_hold_marker(applied.model_uri, applied.flavor, applied.config) and (
                live is None or not fields_hold_marker(live.model_uri, live.flavor, live.config)
            ):
                continue
            paths = list(marker_paths(applied.to_json()))
            if live is not None:
                paths += marker_paths(live.reported_fields())
            if paths:
                extra[address] = [SensitiveField(path) for path in paths]
        return self.with_fields(extra) if extra else self

    # -- masking ---------------------------------------------------------------------------

    def mask_spec(self, address: str, spec: DeploymentSpec) -> DeploymentSpec:
        paths = self._paths(address)
        if not paths:
            return spec
        return DeploymentSpec.from_json(self.key.mask_paths(spec.to_json(), paths))

    def mask_live(self, address: str, record: LiveRecord) -> LiveRecord:
        return self._mask_live(address, record, learn=True)

    def _mask_live(self, address: str, record: LiveRecord, *, learn: bool) -> LiveRecord:
        paths = self._paths(address)
        if not paths:
            return record
        reported = record.reported_fields()
        seen = list(values_at(reported, paths))
        if learn:
            self._learn(address, seen)
        masked = self.key.mask_paths(reported, paths)
        secrets = searched([*self._values(address), *seen])
        raw = scrub(record.raw, self.key, secrets) if secrets else record.raw
        config = masked.get("config")
        return replace(
            record,
            raw=raw if isinstance(raw, dict) else {},
            model_uri=_text(masked.get("model_uri")),
            flavor=_text(masked.get("flavor")),
            config=config if isinstance(config, dict) else None,
        )

    def mask_view(self, view: LiveView) -> LiveView:
        """A refresh's result with each record's sensitive values masked."""
        if not self._fields:
            return view
        statuses: dict[str, LiveStatus] = {}
        for address, status in view.statuses.items():
            if status.record is not None and address in self._fields:
                status = replace(status, record=self.mask_live(address, status.record))
            statuses[address] = status
        return LiveView(statuses)

    def mask_state(self, state: StateDocument) -> StateDocument:
        """``state`` with the sensitive values of its records masked (a state written before
        deployctl masked them may hold them in clear)."""
        if not self._fields:
            return state
        records: dict[str, StateRecord] = {}
        changed = False
        for address, record in state.records.items():
            if address in self._fields:
                applied = self.mask_spec(address, record.applied)
                live = record.live
                if live is not None:
                    live = self._mask_live(address, live, learn=False)
                if applied != record.applied or live != record.live:
                    record = replace(record, applied=applied, live=live)
                    changed = True
            records[address] = record
        return replace(state, records=records) if changed else state

    # -- resolving -------------------------------------------------------------------------

    def unresolved(self, address: str, spec: DeploymentSpec) -> list[Path]:
        """The paths of ``spec``'s markers whose real value is not known."""
        known = self._table(address)
        data = spec.to_json()
        return [p for p in marker_paths(data) if _digest_at(data, p) not in known]

    def resolve(self, address: str, spec: DeploymentSpec) -> DeploymentSpec:
        data = spec.to_json()
        if not any(True for _ in marker_paths(data)):
            return spec
        known = self._table(address)
        missing: list[str] = []

        def found(path: Path, marker: JSONObject) -> JSONValue:
            digest = str(marker["$sensitive"])
            if digest not in known:
                missing.append(dotted(path))
                return marker
            return known[digest]

        resolved = replace_markers(data, found)
        if missing:
            raise PlanError(
                f"{address}: the value of {', '.join(missing)} is sensitive and not known to "
                "deployctl (it keeps only a keyed hash of it)",
                hint="make the plan again",
            )
        assert isinstance(resolved, dict)
        return DeploymentSpec.from_json(resolved)

    def redact(self, text: str) -> str:
        """``text`` with every secret string known to this run written ``(sensitive)``."""
        with self._lock:
            values = [v for known in self._known.values() for v in known.values()]
        secrets = searched(values)
        return redact(text, secrets) if secrets else text

    # -- plumbing --------------------------------------------------------------------------

    def _paths(self, address: str) -> list[Path]:
        return [f.path for f in self._fields.get(address, ())]

    def _learn(self, address: str, values: Iterable[JSONValue]) -> None:
        values = list(values)
        if not values:
            return
        digests = {self.key.digest(v): v for v in values}
        with self._lock:
            self._known.setdefault(address, {}).update(digests)
        remember(values)

    def _table(self, address: str) -> dict[str, JSONValue]:
        with self._lock:
            return dict(self._known.get(address, {}))

    def _values(self, address: str) -> list[JSONValue]:
        with self._lock:
            return list(self._known.get(address, {}).values())


def _text(value: JSONValue) -> str | JSONObject | None:
    """A masked ``model_uri``/``flavor``: a string, a marker, or absent."""
    if isinstance(value, str) or is_masked(value):
        return value
    return None


def _digest_at(data: JSONValue, path: Path) -> str | None:
    node = data
    for part in path:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part]
        else:
            return None
    return str(node["$sensitive"]) if is_masked(node) else None


class NoSecrets:
    """``SecretValues`` for a run without secrets: nothing is masked, and a spec holding a
    marker is refused rather than sent to a plugin as it is."""

    def resolve(self, address: str, spec: DeploymentSpec) -> DeploymentSpec:
        paths = list(marker_paths(spec.to_json()))
        if paths:
            raise PlanError(
                f"{address}: {', '.join(dotted(p) for p in paths)} is sensitive, and this run "
                "was given no way to read its value",
                hint="apply with the manifest (-f) or a saved plan, as the CLI does",
            )
        return spec

    def mask_live(self, address: str, record: LiveRecord) -> LiveRecord:
        return record


NO_SECRETS = NoSecrets()

__all__ = ["NO_SECRETS", "NoSecrets", "SecretValues", "Secrets", "remember", "remembered"]
