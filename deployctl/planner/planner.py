"""The planner: a pure function ``(desired, state, live) -> Plan``.

No I/O happens here: refresh has already asked the targets what is live. For each address the
decision follows this table (``../README.md`` documents it for users):

=======  ========  =====  ============================================================
desired  in state  live   action
=======  ========  =====  ============================================================
yes      any       no     create (the reason says if it vanished from the target)
yes      yes       yes    update if desired != last applied, or a field the target reports
                          drifted since the last apply; else no-op. Fields the target does not
                          report are compared with the last applied record only, and the
                          reason says so ("live value not reported by target: ...")
yes      no        yes    error: exists on the target but is not managed (with
                          ``adopt: true``: import)
no       yes       yes    delete
no       yes       no     delete from state only (no call)
no       no        yes    untouched; reported as unmanaged
=======  ========  =====  ============================================================

Lifecycle guards refine it: ``ignore_changes`` paths take no part in comparing, diffing or
drift (and keep their current values in updates); a change under a ``replace_on`` path turns
an update into a replace (delete, then create), as does any update on a target with ``update:
replace`` (an import there that would need an update imports as it is; the next plan replaces
it); ``prevent_destroy`` (desired, or recorded in state when the deployment left the manifest)
makes any plan that would delete or replace it an error. A change of ``prevent_destroy`` alone
is a state-only update.

Each change says why in two ways: ``reason``, a sentence for people, and ``action_reason``, a
value of ``plan.ActionReason`` for policies (its docstring maps the cases above to values).

Secrets (``model.sensitive``) arrive masked in all three inputs, so they are compared by their
keyed hashes: an unchanged secret is no change, a changed one is an update like any other.
Each change lists its sensitive fields: the desired deployment's, and those its record masks.

A ``PlanContext`` makes a partial plan (only the addresses its selection matches are planned)
and carries what the plan records of its origin (manifest, state path, creation time); every
change records the fingerprint of the live record it was planned from (for a plan that is
saved or printed: ``PlanContext.fingerprints``).

One deployment has one address (``planner.one_address``): two addresses at the same target URI
and name are an error before anything is planned.

Most deployments of most plans are unchanged; ``planner.unchanged`` tells those apart with one
comparison per field, and only the others go through the rules above.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from deployctl.errors import PlanError
from deployctl.manifest.model import UPDATE_IN_PLACE, UPDATE_REPLACE, DesiredDeployment, UpdateMode
from deployctl.model import SPEC_FIELDS, DeploymentSpec, JSONObject, JSONValue, json_equal
from deployctl.model.live import LiveStatus, LiveView
from deployctl.model.pins import ModelPin
from deployctl.model.sensitive import fields_hold_marker, fields_of, merge_fields
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner.adopt import adopted_spec
from deployctl.planner.diff import creation_diff, deletion_diff, field_diff
from deployctl.planner.lifecycle import keep_current, triggers, without
from deployctl.planner.one_address import shared_deployments
from deployctl.planner.plan import (
    Action,
    ActionReason,
    Plan,
    PlanContext,
    ResourceChange,
    UnmanagedDeployment,
    live_fingerprint,
)
from deployctl.planner.unchanged import unchanged
from deployctl.planner.unverified import unverified_fields


@dataclass(frozen=True)
class DesiredTarget:
    """What the planner needs of a desired deployment: where it goes and what it should be.

    ``update`` is its target's ``update:``; with ``replace`` every update is planned as a
    replace (the target cannot update in place).
    """

    deployment: DesiredDeployment
    target_uri: str
    update: UpdateMode = UPDATE_IN_PLACE
    # The registry reference the deployment's model_uri was pinned from (its spec holds the
    # pinned URI), if it names one.
    pin: ModelPin | None = None

    @property
    def replaces_updates(self) -> bool:
        """Whether an update of this deployment must be a replace (``update: replace``)."""
        return self.update == UPDATE_REPLACE

    @property
    def no_update_in_place(self) -> str:
        """Why an update of it is a replace, as plans say it."""
        return f"target '{self.deployment.target}' cannot update in place (update: replace)"


class _Where(NamedTuple):
    """The first three fields of a ResourceChange."""

    target: str
    name: str
    target_uri: str


def drift_baseline(record: StateRecord) -> JSONObject:
    """Each managed field right after the last apply: as the target reported it, else applied."""
    applied = record.applied.to_json()
    if record.live is None:
        return applied
    return {**applied, **record.live.reported_over(record.applied.config)}


def drifted_fields(
    record: StateRecord, live: LiveStatus, ignore: tuple[str, ...] = ()
) -> dict[str, JSONValue]:
    """The managed fields the target reports whose live value moved since the last apply, with
    their live values: the one drift rule that both ``plan`` and ``drift`` apply.

    The baseline is ``drift_baseline(record)``: what the target reported right after that apply
    (plugins often normalise or add defaults), falling back to what was applied when nothing was
    read back. Fields the target does not report never count. Paths in ``ignore``
    (``lifecycle.ignore_changes``) do not count either.
    """
    if live.record is None:
        return {}
    baseline = drift_baseline(record)
    config = baseline["config"]
    now = live.record.reported_over(config if isinstance(config, dict) else {})
    drifted: dict[str, JSONValue] = {}
    for name in SPEC_FIELDS:
        if name not in now:
            continue
        if not json_equal(
            without({name: now[name]}, ignore), without({name: baseline[name]}, ignore)
        ):
            drifted[name] = now[name]
    return drifted


UNREPORTED = "live value not reported by target"


def _unreported(live: LiveStatus) -> str | None:
    """``live value not reported by target: config, flavor`` for the fields the target left out."""
    if live.record is None:
        missing: tuple[str, ...] = SPEC_FIELDS
    else:
        missing = live.record.unreported_fields()
    if not missing:
        return None
    return f"{UNREPORTED}: {', '.join(sorted(missing))}"


def _protected(address: str, what: str, where: str) -> str:
    return (
        f"{address} is protected by lifecycle.prevent_destroy ({where}) and the plan would "
        f"{what} it; set prevent_destroy: false on it in the manifest and apply that first, "
        "or change the manifest so it is not deleted"
    )


def _plan_import(item: DesiredTarget, live: LiveStatus) -> ResourceChange:
    """``adopt: true`` on a deployment that exists but is not managed: import it."""
    desired = item.deployment
    ignore = desired.lifecycle.ignore_changes
    adopted, assumed = adopted_spec(desired.spec, live.record)
    before = adopted.to_json()
    after = keep_current(desired.spec.to_json(), before, ignore)
    diff = field_diff(without(before, ignore), without(after, ignore))
    reason = "adopt: true and it already exists on the target: imported into state"
    if diff:
        reason += ", then updated to match the manifest"
    if assumed:
        reason += f" ({UNREPORTED}: {', '.join(assumed)}; the manifest's values are assumed)"
    return ResourceChange(
        desired.target,
        desired.name,
        item.target_uri,
        action=Action.IMPORT,
        reason=reason,
        action_reason=ActionReason.IMPORT_BECAUSE_ADOPT,
        before=adopted,
        after=DeploymentSpec.from_json(after),
        diff=diff,
        prevent_destroy=desired.lifecycle.prevent_destroy,
    )


def _why_different(
    pin: ModelPin | None, record: StateRecord, after: JSONObject
) -> tuple[ActionReason, str]:
    """Why the desired spec differs from the last applied one: the registry alias moved (when
    that is the only difference), else the manifest changed."""
    moved = pin.moved_from(record.model_pin) if pin is not None else None
    manifest = ActionReason.UPDATE_BECAUSE_MANIFEST_CHANGED
    if moved is None:
        return manifest, "the manifest differs from the last applied version"
    applied = record.applied.to_json()
    others = [f for f in SPEC_FIELDS if f != "model_uri" and not json_equal(applied[f], after[f])]
    if others:
        return manifest, f"the manifest differs from the last applied version ({moved})"
    return ActionReason.UPDATE_BECAUSE_MODEL_PIN_MOVED, moved


def _plan_desired(
    item: DesiredTarget, record: StateRecord | None, live: LiveStatus | None
) -> ResourceChange | str:
    """The change for a desired address, or an error message when it cannot be planned."""
    desired = item.deployment
    lifecycle = desired.lifecycle
    ignore = lifecycle.ignore_changes
    protect = lifecycle.prevent_destroy
    base = _Where(desired.target, desired.name, item.target_uri)
    exists = live is not None and live.exists
    if not exists:
        after = desired.spec.to_json()
        if record is not None:
            why = live.reason if live and live.reason else "not found on the target"
            reason = f"recorded in state but vanished from the target ({why})"
            created_because = ActionReason.CREATE_BECAUSE_VANISHED
        else:
            reason = "not yet on the target"
            created_because = ActionReason.CREATE_BECAUSE_NEW
        return ResourceChange(
            *base,
            action=Action.CREATE,
            reason=reason,
            action_reason=created_because,
            after=desired.spec,
            diff=creation_diff(after),
            prevent_destroy=protect,
        )
    assert live is not None
    if record is not None and unchanged(desired, record, live):
        unreported = _unreported(live)
        return ResourceChange(
            *base,
            action=Action.NOOP,
            reason=f"up to date ({unreported})" if unreported else "up to date",
            action_reason=ActionReason.NO_OP_BECAUSE_UP_TO_DATE,
            before=record.applied,
            after=desired.spec,
            prevent_destroy=protect,
        )
    if record is None:
        if desired.adopt:
            return _import_as_is(item, _plan_import(item, live))
        return (
            f"{desired.address} already exists on target '{desired.target}' but is not managed "
            "by deployctl; adopt it with 'deployctl import "
            f"{desired.address} -f MANIFEST' (or 'adopt: true' on it), delete it on the "
            "target, or rename the deployment in the manifest"
        )
    moved = drifted_fields(record, live)
    # A field equal to its baseline is equal with ``ignore``'s paths left out as well: only a
    # field that moved can count as drifted.
    drifted = drifted_fields(record, live, ignore) if ignore and moved else moved
    # ``before`` is the deployment as it is now, ignored paths included; those keep their
    # current values in ``after``: an update never sends what the user asked to ignore.
    before: JSONObject = {**record.applied.to_json(), **moved}
    after = keep_current(desired.spec.to_json(), before, ignore)
    before_spec = DeploymentSpec.from_json(before)
    after_spec = DeploymentSpec.from_json(after)
    reasons = []
    # The change's action_reason is causes[0]: a replace puts its own cause first.
    causes: list[ActionReason] = []
    if not json_equal(without(record.applied.to_json(), ignore), without(after, ignore)):
        cause, text = _why_different(item.pin, record, after)
        causes.append(cause)
        reasons.append(text)
    if drifted:
        causes.append(ActionReason.UPDATE_BECAUSE_DRIFTED)
        reasons.append(
            "changed on the target outside deployctl (" + ", ".join(sorted(drifted)) + ")"
        )
    unreported = _unreported(live)
    if not reasons:
        if record.prevent_destroy != protect:
            return ResourceChange(
                *base,
                action=Action.UPDATE,
                reason=f"lifecycle.prevent_destroy becomes {str(protect).lower()} "
                "(state only; nothing is sent to the target)",
                action_reason=ActionReason.UPDATE_BECAUSE_PREVENT_DESTROY_CHANGED,
                before=before_spec,
                after=record.applied,
                state_only=True,
                prevent_destroy=protect,
            )
        reason = f"up to date ({unreported})" if unreported else "up to date"
        return ResourceChange(
            *base,
            action=Action.NOOP,
            reason=reason,
            action_reason=ActionReason.NO_OP_BECAUSE_UP_TO_DATE,
            before=before_spec,
            after=after_spec,
            prevent_destroy=protect,
        )
    if unreported:
        reasons.append(unreported)
    diff = field_diff(without(before, ignore), without(after, ignore))
    action = Action.UPDATE
    replaced_by = triggers(diff, lifecycle.replace_on)
    if replaced_by:
        if protect or record.prevent_destroy:
            return _protected(desired.address, "replace", f"a change to {', '.join(replaced_by)}")
        action = Action.REPLACE
        causes.insert(0, ActionReason.REPLACE_BY_TRIGGERS)
        reasons.append(f"lifecycle.replace_on: {', '.join(replaced_by)} changed")
    elif item.replaces_updates:
        # Every update is a replace here, even one whose diff is empty (the target already
        # shows the manifest's values): update_deployment is the call this target lacks.
        if protect or record.prevent_destroy:
            changed = ", ".join(d.path for d in diff) or "the deployment"
            where = f"update: replace on target '{desired.target}', and a change to {changed}"
            return _protected(desired.address, "replace", where)
        action = Action.REPLACE
        causes.insert(0, ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE)
        reasons.append(item.no_update_in_place)
    return ResourceChange(
        *base,
        action=action,
        reason="; ".join(reasons),
        action_reason=causes[0],
        before=before_spec,
        after=after_spec,
        diff=diff,
        prevent_destroy=protect,
    )


def _import_as_is(item: DesiredTarget, imported: ResourceChange) -> ResourceChange:
    """On a target that cannot update in place, an import that would then update: imported
    as it is, with no change made; the next plan shows the replace that makes it match the
    manifest (and ``prevent_destroy`` can still refuse it there)."""
    if not item.replaces_updates or not imported.diff:
        return imported
    changed = ", ".join(d.path for d in imported.diff)
    instead = (
        f" as it is ({item.no_update_in_place}: the next plan replaces it to match the "
        f"manifest: {changed})"
    )
    updated = ", then updated to match the manifest"
    if updated in imported.reason:
        reason = imported.reason.replace(updated, instead, 1)
    else:
        reason = imported.reason + instead
    return replace(imported, reason=reason, after=imported.before, diff=())


def _plan_orphan(
    record: StateRecord, live: LiveStatus | None, destroy: bool = False
) -> ResourceChange | str:
    """The delete of a recorded deployment the manifest no longer has (or, with ``destroy``,
    that a destroy removes)."""
    why_delete = "destroy requested" if destroy else "no longer in the manifest"
    if destroy:
        deleted_because = ActionReason.DELETE_BY_REQUEST
    else:
        deleted_because = ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG
    before = record.applied.to_json()
    base = _Where(record.target, record.name, record.target_uri)
    if live is not None and live.exists:
        if record.prevent_destroy:
            return _protected(record.address, "delete", "recorded in state")
        return ResourceChange(
            *base,
            action=Action.DELETE,
            reason=why_delete,
            action_reason=deleted_because,
            before=record.applied,
            diff=deletion_diff(before),
        )
    why = live.reason if live and live.reason else "not found on the target"
    return ResourceChange(
        *base,
        action=Action.DELETE,
        reason=f"{why_delete} and already gone from the target ({why}); only removed from state",
        action_reason=ActionReason.DELETE_BECAUSE_GONE,
        before=record.applied,
        diff=deletion_diff(before),
        state_only=True,
    )


def make_plan(
    environment: str,
    desired: Iterable[DesiredTarget],
    state: StateDocument,
    live: LiveView,
    *,
    destroy: bool = False,
    context: PlanContext | None = None,
) -> Plan:
    """Reconcile desired, recorded and live deployments into a deterministic Plan.

    With ``destroy``, ``desired`` should be empty: every recorded deployment is deleted. Only
    the addresses ``context.selection`` matches are planned; the rest of ``context`` is recorded
    in the plan as it is. Each change keeps the ``live_fingerprint`` of its address in ``live``
    (unless ``context.fingerprints`` is false: then it is ``None``);
    the plan lists, per target, the fields its planned deployments' live records do not report
    (``unverified``). Raises ``PlanError`` listing every address that cannot be planned.
    """
    context = context or PlanContext()
    selection = context.selection
    # Without --target/--exclude every address is selected: no test per address.
    selected = selection.matches if selection.partial else _everything
    items = [(d.deployment.address, d) for d in desired]  # each address worked out once
    shared = shared_deployments(
        [(a, d.target_uri, d.deployment.name) for a, d in items], state.records, selected
    )
    if shared:
        raise PlanError("\n".join(shared))
    if selection.partial:
        desired_by_address = {a: d for a, d in items if selected(a)}
        records = {a: r for a, r in state.records.items() if selected(a)}
    else:
        desired_by_address = dict(items)
        records = dict(state.records)
    changes: list[ResourceChange] = []
    planned_live: list[LiveStatus] = []
    errors: list[str] = []
    for address in sorted(desired_by_address.keys() | records.keys()):
        record = records.get(address)
        status = live.get(address)
        item = desired_by_address.get(address)
        if item is not None:
            outcome = _plan_desired(item, record, status)
            smoke = item.deployment.smoke
            if (item.pin is not None or smoke is not None) and not isinstance(outcome, str):
                outcome = replace(outcome, model_pin=item.pin, smoke=smoke)
        else:
            assert record is not None  # every address is desired or recorded
            outcome = _plan_orphan(record, status, destroy)
        if isinstance(outcome, str):
            errors.append(outcome)
            continue
        declared = item.deployment.sensitive if item is not None else ()
        applied = record.applied if record is not None else None
        recorded = (
            fields_of(applied.to_json())
            if applied is not None
            and fields_hold_marker(applied.model_uri, applied.flavor, applied.config)
            else ()
        )
        sensitive = merge_fields(declared, recorded) if declared or recorded else ()
        fingerprint = live_fingerprint(status) if context.fingerprints else None
        if sensitive or fingerprint is not None:
            outcome = replace(outcome, live_fingerprint=fingerprint, sensitive=sensitive)
        changes.append(outcome)
        if status is not None:
            planned_live.append(status)
    if errors:
        raise PlanError("\n".join(errors))
    unmanaged = tuple(
        UnmanagedDeployment(s.target, s.name)
        for address, s in sorted(live.statuses.items())
        if s.exists
        and address not in desired_by_address
        and address not in records
        and selected(address)
    )
    return Plan(
        environment=environment,
        changes=tuple(changes),
        unmanaged=unmanaged,
        destroy=destroy,
        targets=selection.targets,
        excludes=selection.excludes,
        target_fields={k: dict(v) for k, v in context.target_fields.items()},
        target_calls=dict(context.target_calls),
        manifest_path=context.manifest_path,
        manifest_sha256=context.manifest_sha256,
        state_path=context.state_path,
        state_lineage=state.lineage,
        state_serial=state.serial,
        created_at=context.created_at,
        unverified=unverified_fields(planned_live),
    )


def _everything(address: str) -> bool:
    """The selection of a plan without ``--target`` or ``--exclude``."""
    return True
