"""Applying a plan: the local target changes and the state records each result."""

from __future__ import annotations

from workspace import MANIFEST, Workspace

from deployctl.executor.console import CaptureConsole
from deployctl.operations import applying
from deployctl.targets.pool import TargetPool


def test_applying_a_plan_changes_the_target_and_records_the_state(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    plan = workspace.plan(manifest)
    console = CaptureConsole()
    with workspace.backend().lock(operation="apply") as session:
        report = applying.apply(plan, session, TargetPool.for_manifest(manifest), console)
    assert report.ok and not report.interrupted
    assert [r.address for r in report.results] == ["local/churn", "local/fraud"]
    assert workspace.client().get_deployment("fraud")["config"] == {"workers": 2}
    assert sorted(workspace.state().records) == ["local/churn", "local/fraud"]
    assert console.events[-1] == ("apply_finished", report)
    assert not workspace.plan(manifest).has_changes


def test_a_saved_plan_applies_with_a_pool_made_from_the_plan_alone(workspace: Workspace) -> None:
    workspace.apply(workspace.manifest())
    plan = workspace.plan(workspace.manifest(MANIFEST.replace("churn/3", "churn/4")))
    with workspace.backend().lock(operation="apply") as session:
        report = applying.apply(plan, session, TargetPool(plan.target_fields), CaptureConsole())
    assert report.ok
    assert workspace.client().get_deployment("churn")["model_uri"] == "models:/churn/4"
    churn = workspace.state().records["local/churn"]
    assert churn.applied.model_uri == "models:/churn/4"
