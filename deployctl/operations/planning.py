"""Planning: refresh the targets, then plan a manifest; and the checks a plan must pass.

``plan`` builds the plan once, with everything it records of its origin (selection, field
mappings, manifest path and digest, state path, creation time). Before planning, it resolves the
intents a crashed or interrupted run left open (``executor.intents``) from what refresh found:
under the lock (``session``: apply, destroy) the resolutions are recorded; ``plan`` only shows
them and plans as if they were. Secrets are masked before anything is planned
(``operations.secrets``). A plan that deletes more than
``--max-deletes`` allows is refused; a saved plan is refused when the state or the manifest it
was made from changed since (``check_plan_is_current``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.errors import PlanError, StalePlanError, StateError
from deployctl.executor.console import Console
from deployctl.manifest.model import Manifest
from deployctl.model.live import LiveView
from deployctl.model.secrets import Secrets
from deployctl.model.state import StateDocument, utc_now
from deployctl.operations.pinning import pin_models
from deployctl.operations.refresh import refresh, refresh_intents
from deployctl.operations.secrets import (
    RedactingConsole,
    for_manifest,
    masked_deployment,
    redacting,
)
from deployctl.planner.plan import Plan, PlanContext
from deployctl.planner.planner import DesiredTarget, make_plan
from deployctl.planner.selection import Selection

if TYPE_CHECKING:
    from deployctl.executor.stopping import StopRequests
    from deployctl.state.protocol import StateSession
    from deployctl.targets.pool import TargetPool


def check_environment(manifest: Manifest, state: StateDocument, where: str) -> None:
    """Refuse a state that holds another environment than the manifest's."""
    if state.environment and state.environment != manifest.environment:
        raise StateError(
            f"{where} holds environment '{state.environment}', but {manifest.path} is "
            f"environment '{manifest.environment}'",
            hint="point --state at this environment's state file",
        )


def desired_targets(manifest: Manifest, secrets: Secrets | None = None) -> list[DesiredTarget]:
    """Every deployment of the manifest, with the URI and the ``update:`` mode of its target
    (and its secrets masked with ``secrets``, as the planner must see them)."""
    if secrets is not None and not secrets.has_fields():
        secrets = None  # nothing to mask: no lookup per deployment
    return [
        DesiredTarget(
            masked_deployment(deployment, secrets) if secrets is not None else deployment,
            target.resolved_uri,
            update=target.update,
        )
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
    session: StateSession | None = None,
    stop: StopRequests | None = None,
    secrets: Secrets | None = None,
    fingerprints: bool = False,
) -> Plan:
    """Refresh, then plan the manifest (or, with ``destroy``, the deletion of all it manages).

    With ``session`` (the locked session ``state`` was read from), open intents are resolved
    through it (``resolve_intents``; ``stop``: a signal waits for those writes).

    A ``selection`` restricts the plan to some addresses (a partial plan); ``max_deletes``
    refuses a plan that would delete more deployments than that. The manifest's secrets
    (``secrets``, by default read from it) are masked in everything the planner sees: the
    desired specs, what refresh found and the state's records.

    ``fingerprints``: record each live record's fingerprint in the plan
    (``PlanContext.fingerprints``): for a plan that is saved or printed as JSON. Nothing else
    reads them (``apply -f`` applies the plan it just made), so by default they are not made.
    """
    secrets = (secrets or for_manifest(manifest)).with_state(state)
    with redacting(secrets):
        return _plan(
            manifest,
            state,
            pool,
            RedactingConsole(console, secrets),
            state_path=state_path,
            destroy=destroy,
            parallelism=parallelism,
            selection=selection,
            max_deletes=max_deletes,
            session=session,
            stop=stop,
            secrets=secrets,
            fingerprints=fingerprints,
        )


def _plan(
    manifest: Manifest,
    state: StateDocument,
    pool: TargetPool,
    console: Console,
    *,
    state_path: str,
    destroy: bool,
    parallelism: int,
    selection: Selection | None,
    max_deletes: int | None,
    session: StateSession | None,
    stop: StopRequests | None,
    secrets: Secrets,
    fingerprints: bool,
) -> Plan:
    selection = selection or Selection()
    check_environment(manifest, state, state_path)
    if selection.partial:
        # Before any target is read: an option that matches nothing is a typo, not an empty
        # plan.
        selection.check_matches(
            [d.address for d in manifest.deployments()] + list(state.records),
            [t.key for t in manifest.targets] + [r.target for r in state.records.values()],
        )
    desired = [] if destroy else desired_targets(manifest, secrets)
    # Before the targets are read: an alias that cannot be resolved fails the plan at once.
    # Only the selected deployments are resolved, but the planner sees every desired one (an
    # address outside the selection may still be the same deployment as a selected one).
    desired = pin_models(
        desired,
        tracking_uri=manifest.registry_uri,
        parallelism=parallelism,
        selected=selection.matches if selection.partial else None,
    )
    live = refresh(manifest, state, pool, console, parallelism=parallelism, selection=selection)
    live = secrets.mask_view(live)
    state = secrets.mask_state(resolve_intents(state, live, console, session=session, stop=stop))
    context = PlanContext(
        selection=selection,
        target_fields={t.key: t.field_mapping() for t in manifest.targets if t.fields},
        target_calls={t.key: t.calls for t in manifest.targets if t.calls is not None},
        manifest_path=str(manifest.path),
        manifest_sha256=manifest.sha256,
        state_path=state_path,
        created_at=utc_now(),
        fingerprints=fingerprints,
    )
    made = make_plan(manifest.environment, desired, state, live, destroy=destroy, context=context)
    check_max_deletes(made, max_deletes)
    return made


def resolve_intents(
    state: StateDocument,
    live: LiveView,
    console: Console,
    *,
    session: StateSession | None = None,
    stop: StopRequests | None = None,
) -> StateDocument:
    """``state`` with its open intents that ``live`` has a status for resolved (each shown on
    ``console`` as a warning): recorded through ``session`` when given (under the lock), else
    only in memory (``plan`` writes nothing)."""
    if not state.intents:
        return state
    from deployctl.executor import intents

    resolutions = intents.resolve_all(state, live)
    if not resolutions:
        return state
    if session is not None:
        intents.record(session, resolutions, stop)
        state = session.document
    else:
        state = intents.applied(state, resolutions)
    for resolution in resolutions:
        console.warning(resolution.message(recorded=session is not None))
    return state


def settle_intents(
    session: StateSession,
    pool: TargetPool,
    console: Console,
    *,
    parallelism: int = 8,
    stop: StopRequests | None = None,
    secrets: Secrets | None = None,
) -> None:
    """Before a saved plan is applied: ask the targets about the session's open intents and
    record their resolutions (the plan was made as if they were; what the targets report is
    masked with ``secrets``, the plan's)."""
    state = session.document
    if state.intents:
        live = refresh_intents(state, pool, console, parallelism=parallelism)
        if secrets is not None:
            live = secrets.with_state(state).mask_view(live)
        resolve_intents(state, live, console, session=session, stop=stop)


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
    from deployctl.manifest.extends import manifest_digest  # reads YAML: only when needed

    try:
        current = manifest_digest(path)  # of the bases it extends too
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
