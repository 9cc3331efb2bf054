"""Refreshing the targets in play, and re-checking a saved plan's live records."""

from __future__ import annotations

import pytest
from workspace import MANIFEST, Workspace

from deployctl.errors import StalePlanError, TargetError
from deployctl.executor.console import CaptureConsole
from deployctl.operations.refresh import (
    check_live_unchanged,
    lookup_target_uri,
    refresh,
    target_uris,
)
from deployctl.planner.selection import Selection
from deployctl.targets.pool import TargetPool

TWO_TARGETS = (
    MANIFEST
    + """\
  edge:
    uri: local:.deployctl/edge
    deployments:
      scorer:
        model_uri: models:/scorer/1
"""
)


def test_target_uris_come_from_the_manifest_then_from_state(workspace: Workspace) -> None:
    workspace.apply(workspace.manifest(TWO_TARGETS))
    manifest = workspace.manifest()  # 'edge' left the manifest; state still records it
    uris = target_uris(manifest, workspace.state())
    assert uris == {
        "local": f"local:{workspace.root / '.deployctl' / 'dev'}",
        "edge": f"local:{workspace.root / '.deployctl' / 'edge'}",
    }
    assert target_uris(None, workspace.state()) == uris


def test_an_unknown_target_key_is_an_error_naming_the_known_ones(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    assert lookup_target_uri("local", manifest, workspace.state()).startswith("local:")
    with pytest.raises(TargetError, match=r"target 'nope'.*known targets: local"):
        lookup_target_uri("nope", manifest, workspace.state())


def test_refresh_reports_desired_recorded_and_unmanaged_addresses(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.client().create_deployment("stray", "models:/stray/1")
    workspace.client().create_deployment("churn", "models:/churn/3")
    console = CaptureConsole()
    live = refresh(manifest, workspace.state(), TargetPool.for_manifest(manifest), console)
    assert console.events == [("refresh_started", ["local"]), ("refresh_finished", None)]
    assert sorted(live.statuses) == ["local/churn", "local/fraud", "local/stray"]
    assert [s.address for s in live.existing()] == ["local/churn", "local/stray"]
    fraud = live.get("local/fraud")
    assert fraud is not None and not fraud.exists


def test_a_selection_reads_only_its_targets_and_keeps_only_its_addresses(
    workspace: Workspace,
) -> None:
    manifest = workspace.manifest(TWO_TARGETS)
    console = CaptureConsole()
    live = refresh(
        manifest,
        workspace.state(),
        TargetPool.for_manifest(manifest),
        console,
        selection=Selection.parse(["local/churn"], []),
    )
    assert console.events == [("refresh_started", ["local"]), ("refresh_finished", None)]
    assert list(live.statuses) == ["local/churn"]


def test_a_saved_plan_passes_while_its_live_records_are_unchanged(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    plan = workspace.plan(
        workspace.manifest(MANIFEST.replace("churn/3", "churn/4")), fingerprints=True
    )
    console = CaptureConsole()
    check_live_unchanged(plan, TargetPool(), console)
    assert console.events == [("refresh_started", ["local"]), ("refresh_finished", None)]


def test_a_saved_plan_is_refused_when_a_target_changed_behind_deployctl(
    workspace: Workspace,
) -> None:
    workspace.apply(workspace.manifest())
    plan = workspace.plan(
        workspace.manifest(MANIFEST.replace("churn/3", "churn/4")), fingerprints=True
    )
    workspace.client().update_deployment("churn", config={"workers": 9})
    with pytest.raises(StalePlanError, match=r"changed on their targets since .*: local/churn \("):
        check_live_unchanged(plan, TargetPool(), CaptureConsole())


def test_a_planned_create_is_refused_when_the_name_appeared_meanwhile(
    workspace: Workspace,
) -> None:
    plan = workspace.plan(workspace.manifest(), fingerprints=True)
    workspace.client().create_deployment("fraud", "models:/other/1")
    with pytest.raises(StalePlanError, match="local/fraud"):
        check_live_unchanged(plan, TargetPool(), CaptureConsole())


def test_a_plan_without_changes_reads_no_target(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    console = CaptureConsole()
    check_live_unchanged(workspace.plan(manifest, fingerprints=True), TargetPool(), console)
    assert console.events == []
