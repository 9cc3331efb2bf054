"""Drift detection: a pure function ``(state, live) -> DriftReport``.

No I/O happens here: refresh has already asked the targets what is live. Every address in state
is checked, whether or not the manifest still holds it:

- **vanished**: state records it, the target does not have it (the reason says why refresh
  decided so);
- **drifted**: a field the target reports differs from what it reported right after the last
  apply (falling back to the applied value when nothing was read back) — the planner's own rule,
  ``deployctl.planner.planner.drifted_fields``, so ``drift`` and ``plan`` never disagree;
- **in sync**: neither. Fields the target does not report are listed as ``not_reported``: they
  cannot be checked, so they never count as drift.

Deployments found on the targets that state does not record are reported as unmanaged.

Its JSON form is the user contract of ``deployctl drift --json``; the schema is
``schemas/drift.schema.json``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from deployctl.model import SPEC_FIELDS, JSONObject, JSONValue, address_text
from deployctl.model.live import LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner.diff import field_diff
from deployctl.planner.lifecycle import without
from deployctl.planner.plan import FieldChange, UnmanagedDeployment
from deployctl.planner.planner import drift_baseline, drifted_fields

DRIFT_FORMAT_VERSION = "1.0"

IN_SYNC_REASON = "matches the last apply"
NOT_FOUND_REASON = "not found on the target"


class DriftStatus(enum.StrEnum):
    DRIFTED = "drifted"
    VANISHED = "vanished"
    IN_SYNC = "in_sync"


@dataclass(frozen=True)
class DeploymentDrift:
    """How one managed deployment compares with its last apply.

    ``diff`` goes from the baseline (what the target reported after the last apply, else the
    applied value) to the live value. ``not_reported`` names the managed fields the target does
    not report, which were therefore not checked (empty for a vanished deployment).
    """

    target: str
    name: str
    target_uri: str
    status: DriftStatus
    reason: str
    diff: tuple[FieldChange, ...] = ()
    not_reported: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)

    def to_json(self) -> JSONObject:
        return {
            "address": self.address,
            "target": self.target,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "diff": [d.to_json() for d in self.diff],
            "not_reported": list(self.not_reported),
        }


@dataclass(frozen=True)
class DriftReport:
    """The drift of one environment: every managed address (sorted) and the unmanaged ones."""

    environment: str
    deployments: tuple[DeploymentDrift, ...]
    unmanaged: tuple[UnmanagedDeployment, ...] = ()
    format_version: str = DRIFT_FORMAT_VERSION

    def with_status(self, status: DriftStatus) -> list[DeploymentDrift]:
        return [d for d in self.deployments if d.status is status]

    def summary(self) -> dict[str, int]:
        counts = {"drifted": 0, "vanished": 0, "unmanaged": len(self.unmanaged), "in_sync": 0}
        for deployment in self.deployments:
            counts[deployment.status.value] += 1
        return counts

    @property
    def has_drift(self) -> bool:
        """Whether anything changed outside deployctl: drifted, vanished or unmanaged."""
        return bool(self.unmanaged) or any(
            d.status is not DriftStatus.IN_SYNC for d in self.deployments
        )

    def to_json(self) -> JSONObject:
        deployments: list[JSONValue] = [d.to_json() for d in self.deployments]
        unmanaged: list[JSONValue] = [u.to_json() for u in self.unmanaged]
        summary: JSONObject = dict(self.summary())
        return {
            "format_version": self.format_version,
            "environment": self.environment,
            "summary": summary,
            "deployments": deployments,
            "unmanaged": unmanaged,
        }


def check_deployment(
    record: StateRecord, live: LiveStatus | None, ignore: tuple[str, ...] = ()
) -> DeploymentDrift:
    """Compare one recorded deployment with what refresh found for its address.

    Paths in ``ignore`` (the manifest's ``lifecycle.ignore_changes``) are not drift.
    """
    where = (record.target, record.name, record.target_uri)
    if live is None or not live.exists:
        reason = live.reason if live is not None and live.reason else NOT_FOUND_REASON
        return DeploymentDrift(*where, status=DriftStatus.VANISHED, reason=reason)
    reported = live.record.reported_fields() if live.record is not None else {}
    not_reported = tuple(f for f in SPEC_FIELDS if f not in reported)
    drifted = drifted_fields(record, live, ignore)
    if not drifted:
        return DeploymentDrift(
            *where, status=DriftStatus.IN_SYNC, reason=IN_SYNC_REASON, not_reported=not_reported
        )
    baseline = drift_baseline(record)
    before: JSONObject = {name: baseline[name] for name in drifted}
    # Whole fields when deepdiff sees no path (e.g. a field compared as a whole).
    diff = field_diff(without(before, ignore), without(dict(drifted), ignore)) or tuple(
        FieldChange(name, before[name], drifted[name]) for name in sorted(drifted)
    )
    return DeploymentDrift(
        *where,
        status=DriftStatus.DRIFTED,
        reason="changed on the target outside deployctl (" + ", ".join(sorted(drifted)) + ")",
        diff=diff,
        not_reported=not_reported,
    )


def drift_report(
    environment: str,
    state: StateDocument,
    live: LiveView,
    ignore: Mapping[str, tuple[str, ...]] | None = None,
) -> DriftReport:
    """Every address in ``state`` checked against ``live``, plus what is live but unrecorded.

    ``live`` must come from a refresh that asked about every recorded address
    (``deployctl.operations.refresh.refresh`` does); an address it does not mention counts as
    vanished. ``ignore`` maps
    addresses to their ``lifecycle.ignore_changes`` paths.
    """
    ignore = ignore or {}
    deployments = tuple(
        check_deployment(state.records[address], live.get(address), ignore.get(address, ()))
        for address in sorted(state.records)
    )
    unmanaged = tuple(
        UnmanagedDeployment(s.target, s.name)
        for s in live.existing()
        if s.address not in state.records
    )
    return DriftReport(environment=environment, deployments=deployments, unmanaged=unmanaged)
