"""Planning: refresh the targets, then plan a manifest; and the checks a plan must pass.

``plan`` builds the plan once, with everything it records of its origin (selection, field
mappings, manifest path and digest, state path, creation time). A plan that deletes more than
``--max-deletes`` allows is refused; a saved plan is refused when the state or the manifest it
was made from changed since (``check_plan_is_current``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from deployctl.errors import PlanError, StalePlanError, StateError
from deployctl.executor.console import Console
from deployctl.manifest.model import Manifest
from deployctl.model.state import StateDocument, utc_now
from deployctl.operations.refresh import refresh
from deployctl.planner.plan import Plan, PlanContext
from deployctl.planner.planner import DesiredTarget, make_plan
from deployctl.planner.selection import Selection

if TYPE_CHECKING:
    from deployctl.targets.pool import TargetPool


def check_environment(manifest: Manifest, state: StateDocument, where: str) -> None:
    """Refuse a state that holds another environment than the manifest's."""
    if state.environment and state.environment != manifest.environment:
        raise StateError(
            f"{where} holds environment '{state.environment}', but {manifest.path} is "
            f"environment '{manifest.environment}'",
            hint="point --state at this environment's state file",
        )


def desired_targets(manifest: Manifest) -> list[DesiredTarget]:
    """Every deployment of the manifest, with the URI of its target."""
    return [
        DesiredTarget(deployment, target.resolved_uri)
        for target in manifest.targets
        for deployment in target.deployments
    ]


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
    selection = selection or Selection()
    check_environment(manifest, state, state_path)
    live = refresh(manifest, state, pool, console, parallelism=parallelism, selection=selection)
    context = PlanContext(
        selection=selection,
        target_fields={t.key: t.field_mapping() for t in manifest.targets if t.fields},
        manifest_path=str(manifest.path),
        manifest_sha256=manifest.sha256,
        state_path=state_path,
        created_at=utc_now(),
    )
    desired = [] if destroy else desired_targets(manifest)
    made = make_plan(manifest.environment, desired, state, live, destroy=destroy, context=context)
    check_max_deletes(made, max_deletes)
    return made


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


def check_plan_is_current(plan: Plan, state: StateDocument, *, manifest_path: str | None) -> None:
    """Refuse a saved plan whose state or manifest changed since it was made.

    ``manifest_path`` (``-f``) overrides the manifest path the plan recorded.
    """
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
        current = hashlib.sha256(Path(path).read_bytes()).hexdigest()
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
