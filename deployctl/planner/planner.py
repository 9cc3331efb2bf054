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
an update into a replace (delete, then create); ``prevent_destroy`` (desired, or recorded in
state when the deployment left the manifest) makes any plan that would delete or replace it an
error. A change of ``prevent_destroy`` alone is a state-only update.

Secrets (``model.sensitive``) arrive masked in all three inputs, so they are compared by their
keyed hashes: an unchanged secret is no change, a changed one is an update like any other.
Each change lists its sensitive fields: the desired deployment's, and those its record masks.

A ``PlanContext`` makes a partial plan (only the addresses its selection matches are planned)
and carries what the plan records of its origin (manifest, state path, creation time); every
change records the fingerprint of the live record it was planned from.

One deployment has one address. Two addresses (desired or recorded) at the same target URI and
name would be planned as two deployments, e.g. a target key renamed in the manifest: the new
address would be "exists but not managed" and the old one deleted, deleting the live
deployment. So that is an error before anything is planned; for a renamed key it says to run
``deployctl state mv OLD NEW``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

from deployctl.errors import PlanError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import SPEC_FIELDS, DeploymentSpec, JSONObject, JSONValue, json_equal
from deployctl.model.live import LiveStatus, LiveView
from deployctl.model.sensitive import fields_of, merge_fields
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner.adopt import adopted_spec
from deployctl.planner.diff import creation_diff, deletion_diff, field_diff
from deployctl.planner.lifecycle import keep_current, triggers, without
from deployctl.planner.plan import (
    Action,
    Plan,
    PlanContext,
    ResourceChange,
    UnmanagedDeployment,
    live_fingerprint,
)


@dataclass(frozen=True)
class DesiredTarget:
    """What the planner needs of a desired deployment: where it goes and what it should be."""

    deployment: DesiredDeployment
    target_uri: str


class _Where(NamedTuple):
    """The first three fields of a ResourceChange."""

    target: str
    name: str
    target_uri: str


def drift_baseline(record: StateRecord) -> JSONObject:
    """Each managed field right after the last apply: as the target reported it, else applied."""
    then = record.live.reported_fields() if record.live else {}
    return {**record.applied.to_json(), **then}


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
    now = live.record.reported_fields()
    baseline = drift_baseline(record)
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
        before=adopted,
        after=DeploymentSpec.from_json(after),
        diff=diff,
        prevent_destroy=desired.lifecycle.prevent_destroy,
    )


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
        else:
            reason = "not yet on the target"
        return ResourceChange(
            *base,
            action=Action.CREATE,
            reason=reason,
            after=desired.spec,
            diff=creation_diff(after),
            prevent_destroy=protect,
        )
    assert live is not None
    if record is None:
        if desired.adopt:
            return _plan_import(item, live)
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
    if not json_equal(without(record.applied.to_json(), ignore), without(after, ignore)):
        reasons.append("the manifest differs from the last applied version")
    if drifted:
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
        reasons.append(f"lifecycle.replace_on: {', '.join(replaced_by)} changed")
    return ResourceChange(
        *base,
        action=action,
        reason="; ".join(reasons),
        before=before_spec,
        after=after_spec,
        diff=diff,
        prevent_destroy=protect,
    )


def _plan_orphan(
    record: StateRecord, live: LiveStatus | None, destroy: bool = False
) -> ResourceChange | str:
    """The delete of a recorded deployment the manifest no longer has (or, with ``destroy``,
    that a destroy removes)."""
    why_delete = "destroy requested" if destroy else "no longer in the manifest"
    before = record.applied.to_json()
    base = _Where(record.target, record.name, record.target_uri)
    if live is not None and live.exists:
        if record.prevent_destroy:
            return _protected(record.address, "delete", "recorded in state")
        return ResourceChange(
            *base,
            action=Action.DELETE,
            reason=why_delete,
            before=record.applied,
            diff=deletion_diff(before),
        )
    why = live.reason if live and live.reason else "not found on the target"
    return ResourceChange(
        *base,
        action=Action.DELETE,
        reason=f"{why_delete} and already gone from the target ({why}); only removed from state",
        before=record.applied,
        diff=deletion_diff(before),
        state_only=True,
    )


def _shared_deployments(
    desired: list[DesiredTarget], state: StateDocument, selected: Callable[[str], bool]
) -> list[str]:
    """One message per deployment (target URI and name) that two addresses point at, among the
    desired and recorded addresses; only deployments with a selected address count."""
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for item in desired:
        where = found.setdefault((item.target_uri, item.deployment.name), {})
        where.setdefault(item.deployment.address, set()).add("manifest")
    for address, record in state.records.items():
        where = found.setdefault((record.target_uri, record.name), {})
        where.setdefault(address, set()).add("state")
    messages = []
    for (uri, name), addresses in sorted(found.items()):
        if len(addresses) < 2 or not any(selected(a) for a in addresses):
            continue
        in_state = [a for a, seen in sorted(addresses.items()) if seen == {"state"}]
        in_manifest = [a for a, seen in sorted(addresses.items()) if seen == {"manifest"}]
        if len(addresses) == 2 and len(in_state) == 1 and len(in_manifest) == 1:
            old, new = in_state[0], in_manifest[0]
            messages.append(
                f"{new} (in the manifest) and {old} (in the state) are the same deployment "
                f"'{name}' at {uri}: the target key was renamed; run 'deployctl state mv {old} "
                f"{new}', then plan again (planned as it is, {old} would be deleted on the "
                "target)"
            )
            continue
        roles = ", ".join(
            f"{a} (in the {' and the '.join(sorted(seen))})"
            for a, seen in sorted(addresses.items())
        )
        messages.append(
            f"{roles} are the same deployment '{name}' at {uri}: a deployment may have one "
            "address only; declare it under one target of the manifest, and move or remove the "
            "other records with 'deployctl state mv' or 'deployctl state rm'"
        )
    return messages


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
    in the plan as it is. Each change keeps the ``live_fingerprint`` of its address in ``live``.
    Raises ``PlanError`` listing every address that cannot be planned.
    """
    context = context or PlanContext()
    selected = context.selection.matches
    desired = list(desired)
    shared = _shared_deployments(desired, state, selected)
    if shared:
        raise PlanError("\n".join(shared))
    desired_by_address = {
        d.deployment.address: d for d in desired if selected(d.deployment.address)
    }
    records = {a: r for a, r in state.records.items() if selected(a)}
    changes: list[ResourceChange] = []
    errors: list[str] = []
    for address in sorted(set(desired_by_address) | set(records)):
        record = records.get(address)
        status = live.get(address)
        item = desired_by_address.get(address)
        if item is not None:
            outcome = _plan_desired(item, record, status)
        else:
            assert record is not None  # every address is desired or recorded
            outcome = _plan_orphan(record, status, destroy)
        if isinstance(outcome, str):
            errors.append(outcome)
        else:
            sensitive = merge_fields(
                item.deployment.sensitive if item is not None else (),
                fields_of(record.applied.to_json()) if record is not None else (),
            )
            changes.append(
                replace(outcome, live_fingerprint=live_fingerprint(status), sensitive=sensitive)
            )
    if errors:
        raise PlanError("\n".join(errors))
    unmanaged = tuple(
        UnmanagedDeployment(s.target, s.name)
        for s in live.existing()
        if selected(s.address) and s.address not in desired_by_address and s.address not in records
    )
    return Plan(
        environment=environment,
        changes=tuple(changes),
        unmanaged=unmanaged,
        destroy=destroy,
        targets=context.selection.targets,
        excludes=context.selection.excludes,
        target_fields={k: dict(v) for k, v in context.target_fields.items()},
        target_calls=dict(context.target_calls),
        manifest_path=context.manifest_path,
        manifest_sha256=context.manifest_sha256,
        state_path=context.state_path,
        state_lineage=state.lineage,
        state_serial=state.serial,
        created_at=context.created_at,
    )
