"""Drift: what changed on the targets outside deployctl since the last apply.

The same refresh as planning, then the planner's drift rule over every recorded deployment
(``planner.drift``). Nothing is written and no target is changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.executor.console import Console
from deployctl.manifest.model import Manifest
from deployctl.model.state import StateDocument
from deployctl.operations.planning import check_environment
from deployctl.operations.refresh import refresh
from deployctl.operations.secrets import for_manifest, redacting

if TYPE_CHECKING:
    from deployctl.planner.drift import DriftReport
    from deployctl.targets.pool import TargetPool


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
    Secrets are compared, and shown, by their keyed hashes (``operations.secrets``).
    """
    from deployctl.planner.drift import drift_report

    check_environment(manifest, state, state_path)
    secrets = for_manifest(manifest).with_state(state)
    with redacting(secrets):
        live = refresh(manifest, state, pool, console, parallelism=parallelism)
    live = secrets.mask_view(live)
    ignore = {d.address: d.lifecycle.ignore_changes for d in manifest.deployments()}
    return drift_report(manifest.environment, secrets.mask_state(state), live, ignore)
