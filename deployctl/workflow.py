"""Orchestration of the core: refresh the targets, make a plan, check and apply it.

These functions tie manifest, state, targets, planner and executor together; the CLI calls
them and decides everything about output and prompting.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from deployctl.console.protocol import Console
from deployctl.errors import PlanError, StalePlanError, StateError, TargetError, UsageError
from deployctl.manifest.model import Manifest
from deployctl.planner.plan import Plan, live_fingerprint
from deployctl.planner.planner import DesiredTarget, make_plan
from deployctl.planner.selection import Selection
from deployctl.state.document import StateDocument, StateRecord, utc_now
from deployctl.targets.live import LiveStatus, LiveView

if TYPE_CHECKING:
    from deployctl.executor.results import ApplyReport
    from deployctl.state.protocol import StateSession
    from deployctl.targets.adapter import TargetAdapter


def default_state_path(environment: str) -> Path:
    """``state/<environment>.json`` under the current directory."""
    return Path("state") / f"{environment}.json"


def check_environment(manifest: Manifest, state: StateDocument, where: str) -> None:
    if state.environment and state.environment != manifest.environment:
        raise StateError(
            f"{where} holds environment '{state.environment}', but {manifest.path} is "
            f"environment '{manifest.environment}'",
            hint="point --state at this environment's state file",
        )


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
    def for_manifest(cls, manifest: Manifest) -> TargetPool:
        """A pool reading each of the manifest's targets with its ``fields:`` mapping."""
        return cls({t.key: t.field_mapping() for t in manifest.targets if t.fields})

    def fields(self, key: str) -> dict[str, str]:
        """The field mapping adapters of target ``key`` use (empty: the defaults)."""
        return dict(self._fields.get(key, {}))

    def get(self, key: str, uri: str) -> TargetAdapter:
        from deployctl.targets.registry import load_target

        if (key, uri) not in self._adapters:
            self._adapters[(key, uri)] = load_target(uri, key=key, fields=self._fields.get(key))
        return self._adapters[(key, uri)]


def desired_targets(manifest: Manifest) -> list[DesiredTarget]:
    return [
        DesiredTarget(deployment, target.resolved_uri)
        for target in manifest.targets
        for deployment in target.deployments
    ]


def target_uris(manifest: Manifest | None, state: StateDocument) -> dict[str, str]:
    """The URI of every target key in play: the manifest's, else the one recorded in state."""
    uris = {r.target: r.target_uri for _, r in sorted(state.records.items())}
    if manifest is not None:
        uris.update({t.key: t.resolved_uri for t in manifest.targets})
    return uris


def refresh(
    manifest: Manifest | None,
    state: StateDocument,
    pool: TargetPool,
    console: Console,
    *,
    parallelism: int = 8,
    selection: Selection | None = None,
) -> LiveView:
    """Ask every target in play what is live, for desired, recorded and listed names.

    With a ``selection``, only its targets are read and only its addresses are looked up; the
    view then holds only selected addresses.
    """
    from deployctl.targets.refresh import refresh as refresh_targets

    selection = selection or Selection()
    uris = {k: u for k, u in target_uris(manifest, state).items() if selection.may_touch_target(k)}
    wanted: dict[str, set[str]] = {key: set() for key in uris}
    names = [(r.target, r.name) for r in state.records.values()]
    if manifest is not None:
        names += [(d.target, d.name) for d in manifest.deployments()]
    for key, name in names:
        if key in wanted and selection.matches(f"{key}/{name}"):
            wanted[key].add(name)
    console.refresh_started(sorted(uris))
    adapters = {key: pool.get(key, uri) for key, uri in sorted(uris.items())}
    live = refresh_targets(adapters, wanted, max_workers=parallelism)
    if not selection.partial:
        return live
    return LiveView({a: s for a, s in live.statuses.items() if selection.matches(a)})


def plan(
    manifest: Manifest,
    state: StateDocument,
    pool: TargetPool,
    console: Console,
    *,
    state_path: str,
    destroy: bool = False,
    parallelism: int = 8,
    selection: Selection | None = None,
    max_deletes: int | None = None,
) -> Plan:
    """Refresh, then plan the manifest (or, with ``destroy``, the deletion of all it manages).

    A ``selection`` restricts the plan to some addresses (a partial plan); ``max_deletes``
    refuses a plan that would delete more deployments than that.
    """
    from dataclasses import replace

    selection = selection or Selection()
    check_environment(manifest, state, state_path)
    live = refresh(manifest, state, pool, console, parallelism=parallelism, selection=selection)
    desired = [] if destroy else desired_targets(manifest)
    if selection.partial:
        desired = [d for d in desired if selection.matches(d.deployment.address)]
        state = replace(
            state, records={a: r for a, r in state.records.items() if selection.matches(a)}
        )
    made = make_plan(manifest.environment, desired, state, live, destroy=destroy)
    check_max_deletes(made, max_deletes)
    return replace(
        made,
        targets=selection.targets,
        excludes=selection.excludes,
        target_fields={t.key: t.field_mapping() for t in manifest.targets if t.fields},
        changes=tuple(
            replace(c, live_fingerprint=fingerprint(live.get(c.address))) for c in made.changes
        ),
        manifest_path=str(manifest.path),
        manifest_sha256=manifest.sha256,
        state_path=state_path,
        created_at=utc_now(),
    )


def check_max_deletes(plan: Plan, max_deletes: int | None) -> None:
    """Refuse a plan that deletes more deployments than ``max_deletes`` (``--max-deletes``)."""
    if max_deletes is None:
        return
    deletes = [c.address for c in plan.actionable() if c.action.deletes and not c.state_only]
    if len(deletes) > max_deletes:
        raise PlanError(
            f"the plan deletes or replaces {len(deletes)} deployment(s), more than --max-deletes "
            f"{max_deletes} allows: {', '.join(deletes)}",
            hint="check the manifest; raise --max-deletes if these deletes are intended",
        )


def fingerprint(status: LiveStatus | None) -> str:
    """The fingerprint a saved plan keeps of one address's live record."""
    if status is None or not status.exists:
        return live_fingerprint(False, None)
    return live_fingerprint(True, status.record.raw if status.record else None)


def check_live_unchanged(
    plan: Plan, pool: TargetPool, console: Console, *, parallelism: int = 8
) -> None:
    """Re-read the live records a saved plan will touch; refuse it if any changed since.

    Terraform only checks its own state serial; this also catches changes made on the target
    behind deployctl's back between review and release.
    """
    from deployctl.targets.refresh import refresh as refresh_targets

    touched = [c for c in plan.actionable() if c.live_fingerprint is not None]
    if not touched:
        return
    adapters = {c.target: pool.get(c.target, c.target_uri) for c in touched}
    wanted: dict[str, set[str]] = {}
    for change in touched:
        wanted.setdefault(change.target, set()).add(change.name)
    console.refresh_started(sorted(adapters))
    live = refresh_targets(adapters, wanted, max_workers=parallelism)
    changed = [c.address for c in touched if fingerprint(live.get(c.address)) != c.live_fingerprint]
    if changed:
        raise StalePlanError(
            "the live deployments changed on their targets since the plan was made: "
            + ", ".join(changed),
            hint="run 'deployctl plan --out' again and review the new plan",
        )


def file_sha256(path: str | os.PathLike[str]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_plan_is_current(plan: Plan, state: StateDocument, *, manifest_path: str | None) -> None:
    """Refuse a saved plan whose state or manifest changed since it was made."""
    if plan.state_lineage != state.lineage:
        raise StalePlanError(
            f"the saved plan was made for state lineage {plan.state_lineage}, but the state is "
            f"now lineage {state.lineage}",
            hint="run 'deployctl plan --out' again",
        )
    if plan.state_serial != state.serial:
        raise StalePlanError(
            f"the state changed since the plan was made (serial {plan.state_serial} then, "
            f"{state.serial} now): someone applied in between",
            hint="run 'deployctl plan --out' again and review the new plan",
        )
    path = manifest_path or plan.manifest_path
    if path is None or plan.manifest_sha256 is None:
        return
    try:
        current = file_sha256(path)
    except OSError as exc:
        raise StalePlanError(
            f"cannot read the manifest the plan was made from ({path}): {exc.strerror}",
            hint="apply from the same checkout, or pass -f MANIFEST",
        ) from exc
    if current != plan.manifest_sha256:
        raise StalePlanError(
            f"{path} changed since the plan was made",
            hint="run 'deployctl plan --out' again and review the new plan",
        )


def apply(
    plan: Plan,
    session: StateSession,
    pool: TargetPool,
    console: Console,
    *,
    parallelism: int = 4,
) -> ApplyReport:
    """Execute a reviewed plan under a held state lock."""
    from deployctl.executor.executor import Executor

    executor = Executor(pool.get, session, console, parallelism=parallelism)
    return executor.execute(plan)


def lookup_target_uri(address_target: str, manifest: Manifest | None, state: StateDocument) -> str:
    uris = target_uris(manifest, state)
    if address_target not in uris:
        known = ", ".join(sorted(uris)) or "none"
        raise TargetError(
            "no such target in the manifest or the state",
            target=address_target,
            call="lookup",
            hint=f"known targets: {known}",
        )
    return uris[address_target]


if TYPE_CHECKING:
    from deployctl.planner.drift import DriftReport


def drift(
    manifest: Manifest,
    state: StateDocument,
    pool: TargetPool,
    console: Console,
    *,
    state_path: str,
    parallelism: int = 8,
) -> DriftReport:
    """Refresh exactly as ``plan`` does, then compare every recorded deployment with the targets.

    Changes nothing. Addresses no longer in the manifest are checked too (they are in state).
    """
    from deployctl.planner.drift import drift_report

    check_environment(manifest, state, state_path)
    live = refresh(manifest, state, pool, console, parallelism=parallelism)
    ignore = {d.address: d.lifecycle.ignore_changes for d in manifest.deployments()}
    return drift_report(manifest.environment, state, live, ignore)


def import_deployment(
    manifest: Manifest, address: str, session: StateSession, pool: TargetPool
) -> tuple[StateRecord, tuple[str, ...]]:
    """Adopt an existing deployment into state: its live record becomes the last applied one.

    Returns the record and the fields the target does not report (taken from the manifest).
    Nothing on the target changes.
    """
    from deployctl.model import split_address
    from deployctl.planner.adopt import adopted_spec

    try:
        key, name = split_address(address)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    target = manifest.target(key)
    desired = next((d for d in target.deployments if d.name == name), None) if target else None
    if target is None or desired is None:
        raise PlanError(
            f"{address} is not in {manifest.path}",
            hint="add the deployment to the manifest first, then import it",
        )
    if address in session.document.records:
        raise StateError(f"{address} is already managed; nothing to import")
    adapter = pool.get(key, target.resolved_uri)
    try:
        live = adapter.get(name)
    except TargetError as exc:
        raise PlanError(
            f"cannot import {address}: it was not found on target '{key}' ({exc})",
            hint="check the name, or let 'deployctl apply' create it",
        ) from exc
    spec, assumed = adopted_spec(desired.spec, live)
    record = StateRecord(
        target=key,
        name=name,
        target_uri=target.resolved_uri,
        applied=spec,
        live=live,
        applied_at=utc_now(),
        prevent_destroy=desired.lifecycle.prevent_destroy,
    )
    session.record(record)
    return record, assumed
