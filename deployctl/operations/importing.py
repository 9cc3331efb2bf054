"""Importing: adopting a deployment that already exists on its target into state.

Its live record becomes the last applied one, as if deployctl had applied it; fields the target
does not report are taken from the manifest (``planner.adopt``). Nothing on the target changes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from deployctl.errors import PlanError, StateError, TargetError
from deployctl.manifest.model import Manifest
from deployctl.model import Address
from deployctl.model.state import StateRecord
from deployctl.operations.secrets import for_manifest

if TYPE_CHECKING:
    from deployctl.state.protocol import StateSession
    from deployctl.targets.pool import TargetPool


def import_deployment(
    manifest: Manifest, address: Address, session: StateSession, pool: TargetPool
) -> tuple[StateRecord, tuple[str, ...]]:
    """Record the deployment at ``address`` (in the manifest, live on its target) in state.

    Returns the record and the fields the target does not report (taken from the manifest).
    Secrets are recorded as their keyed hashes (``operations.secrets``).
    """
    from deployctl.planner.adopt import adopted_spec

    target = manifest.target(address.target)
    desired = manifest.deployment(address)
    if target is None or desired is None:
        raise PlanError(
            f"{address} is not in {manifest.path}",
            hint="add the deployment to the manifest first, then import it",
        )
    if str(address) in session.document.records:
        raise StateError(f"{address} is already managed; nothing to import")
    adapter = pool.get(address.target, target.resolved_uri)
    try:
        live = adapter.get(address.name)
    except TargetError as exc:
        raise PlanError(
            f"cannot import {address}: it was not found on target '{address.target}' ({exc})",
            hint="check the name, or let 'deployctl apply' create it",
        ) from exc
    secrets = for_manifest(manifest)
    live = secrets.mask_live(desired.address, live)
    spec, assumed = adopted_spec(secrets.mask_spec(desired.address, desired.spec), live)
    pin = None
    if "model_uri" in assumed:
        # The manifest's model_uri stands in: an alias stands for the version it names now.
        from deployctl.operations.pinning import pin_models
        from deployctl.planner.planner import DesiredTarget

        (pinned,) = pin_models(
            [DesiredTarget(desired, target.resolved_uri)], tracking_uri=manifest.registry_uri
        )
        if pinned.pin is not None:
            pin = pinned.pin
            spec = replace(spec, model_uri=pin.pinned_uri)
    record = StateRecord.applied_now(
        None,
        target=address.target,
        name=address.name,
        target_uri=target.resolved_uri,
        applied=spec,
        live=live,
        prevent_destroy=desired.lifecycle.prevent_destroy,
        model_pin=pin,
    )
    session.record(record)
    return record, assumed
