"""Orchestration of the core: refresh the targets, make a plan, check and apply it.

These functions tie manifest, state, targets, planner and executor together; the CLI calls
them and decides everything about output and prompting.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from deployctl.console.protocol import Console
from deployctl.errors import StalePlanError, StateError, TargetError
from deployctl.manifest.model import Manifest
from deployctl.planner.plan import Plan, live_fingerprint
from deployctl.planner.planner import DesiredTarget, make_plan
from deployctl.state.document import StateDocument, utc_now
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
    """Loads each target's plugin client once, on first use (constructors may connect)."""

    def __init__(self) -> None:
        self._adapters: dict[tuple[str, str], TargetAdapter] = {}

    def get(self, key: str, uri: str) -> TargetAdapter:
        from deployctl.targets.registry import load_target

        if (key, uri) not in self._adapters:
            self._adapters[(key, uri)] = load_target(uri, key=key)
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
) -> LiveView:
    """Ask every target in play what is live, for desired, recorded and listed names."""
    from deployctl.targets.refresh import refresh as refresh_targets

    uris = target_uris(manifest, state)
    wanted: dict[str, set[str]] = {key: set() for key in uris}
    if manifest is not None:
        for deployment in manifest.deployments():
            wanted[deployment.target].add(deployment.name)
    for record in state.records.values():
        wanted[record.target].add(record.name)
    console.refresh_started(sorted(uris))
    adapters = {key: pool.get(key, uri) for key, uri in sorted(uris.items())}
    return refresh_targets(adapters, wanted, max_workers=parallelism)


def plan(
    manifest: Manifest,
    state: StateDocument,
    pool: TargetPool,
    console: Console,
    *,
    state_path: str,
    destroy: bool = False,
    parallelism: int = 8,
) -> Plan:
    """Refresh, then plan the manifest (or, with ``destroy``, the deletion of all it manages)."""
    from dataclasses import replace

    check_environment(manifest, state, state_path)
    live = refresh(manifest, state, pool, console, parallelism=parallelism)
    desired = [] if destroy else desired_targets(manifest)
    made = make_plan(manifest.environment, desired, state, live, destroy=destroy)
    return replace(
        made,
        changes=tuple(
            replace(c, live_fingerprint=fingerprint(live.get(c.address))) for c in made.changes
        ),
        manifest_path=str(manifest.path),
        manifest_sha256=manifest.sha256,
        state_path=state_path,
        created_at=utc_now(),
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
    changed = [
        c.address for c in touched if fingerprint(live.get(c.address)) != c.live_fingerprint
    ]
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


def sorted_records(state: StateDocument, addresses: Iterable[str] | None = None) -> list[str]:
    keys: Mapping[str, object] = state.records
    return sorted(addresses if addresses is not None else keys)
