"""Importing a deployment that already exists on its target into state."""

from __future__ import annotations

import pytest
from workspace import Workspace

from deployctl.errors import PlanError, StateError
from deployctl.model import Address
from deployctl.operations.importing import import_deployment
from deployctl.targets.pool import TargetPool

CHURN = Address("local", "churn")


def test_an_existing_deployment_is_recorded_as_last_applied(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.client().create_deployment("churn", "models:/churn/2", config={"workers": 4})
    with workspace.backend().lock(operation="import") as session:
        record, assumed = import_deployment(
            manifest, CHURN, session, TargetPool.for_manifest(manifest)
        )
    assert assumed == ()
    assert record.address == "local/churn"
    assert record.applied.model_uri == "models:/churn/2"
    assert record.applied.config == {"workers": 4}
    assert workspace.state().records["local/churn"] == record
    assert workspace.client().get_deployment("churn")["revision"] == 1  # untouched


def test_an_address_not_in_the_manifest_is_refused(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    for address in (Address("local", "nope"), Address("edge", "churn")):
        with (
            workspace.backend().lock(operation="import") as session,
            pytest.raises(PlanError, match=f"{address} is not in .*dev.yaml"),
        ):
            import_deployment(manifest, address, session, TargetPool.for_manifest(manifest))


def test_a_deployment_missing_on_its_target_is_refused(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    with (
        workspace.backend().lock(operation="import") as session,
        pytest.raises(PlanError, match="cannot import local/churn: it was not found on target"),
    ):
        import_deployment(manifest, CHURN, session, TargetPool.for_manifest(manifest))
    assert workspace.state().records == {}


def test_a_managed_deployment_is_not_imported_again(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    with (
        workspace.backend().lock(operation="import") as session,
        pytest.raises(StateError, match="local/churn is already managed"),
    ):
        import_deployment(manifest, CHURN, session, TargetPool.for_manifest(manifest))
