"""The drift operation: refresh, then compare every recorded deployment with its target."""

from __future__ import annotations

import pytest
from workspace import MANIFEST, Workspace

from deployctl.errors import StateError
from deployctl.executor.console import CaptureConsole
from deployctl.operations.drift import drift
from deployctl.planner.drift import DriftStatus
from deployctl.targets.pool import TargetPool


def report_for(workspace: Workspace, text: str = MANIFEST):  # type: ignore[no-untyped-def]
    manifest = workspace.manifest(text)
    return drift(
        manifest,
        workspace.state(),
        TargetPool.for_manifest(manifest),
        CaptureConsole(),
        state_path=str(workspace.state_path),
    )


def test_right_after_an_apply_nothing_drifted(workspace: Workspace) -> None:
    workspace.apply(workspace.manifest())
    report = report_for(workspace)
    assert not report.has_drift
    assert [d.status for d in report.deployments] == [DriftStatus.IN_SYNC] * 2


def test_changes_made_on_the_target_are_drifted_vanished_or_unmanaged(
    workspace: Workspace,
) -> None:
    workspace.apply(workspace.manifest())
    client = workspace.client()
    client.update_deployment("churn", config={"workers": 9})
    client.delete_deployment("fraud")
    client.create_deployment("stray", "models:/stray/1")
    report = report_for(workspace)
    assert {d.address: d.status for d in report.deployments} == {
        "local/churn": DriftStatus.DRIFTED,
        "local/fraud": DriftStatus.VANISHED,
    }
    assert [u.address for u in report.unmanaged] == ["local/stray"]
    (churn,) = report.with_status(DriftStatus.DRIFTED)
    assert [(d.path, d.before, d.after) for d in churn.diff] == [("config.workers", None, 9)]


def test_deployments_that_left_the_manifest_are_still_checked(workspace: Workspace) -> None:
    workspace.apply(workspace.manifest())
    workspace.client().delete_deployment("fraud")
    only_churn = MANIFEST.split("      fraud:")[0]
    report = report_for(workspace, only_churn)
    assert {d.address: d.status for d in report.deployments}["local/fraud"] == (
        DriftStatus.VANISHED
    )


def test_ignored_paths_are_not_drift(workspace: Workspace) -> None:
    ignoring = MANIFEST + "        lifecycle: {ignore_changes: [config.workers]}\n"
    workspace.apply(workspace.manifest(ignoring))
    workspace.client().update_deployment("fraud", config={"workers": 9})
    assert not report_for(workspace, ignoring).has_drift


def test_drift_refuses_the_state_of_another_environment(workspace: Workspace) -> None:
    workspace.apply(workspace.manifest())
    with pytest.raises(StateError, match="holds environment 'dev'"):
        report_for(workspace, MANIFEST.replace("environment: dev", "environment: prod"))
