"""Planning a manifest against its state and targets, and the checks a plan must pass."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from workspace import MANIFEST, Workspace

from deployctl.errors import PlanError, StalePlanError, StateError
from deployctl.operations.planning import (
    check_environment,
    check_max_deletes,
    check_plan_is_current,
    desired_targets,
)
from deployctl.planner.plan import ABSENT, Action
from deployctl.planner.selection import Selection

FIELDS = MANIFEST.replace(
    "    uri: local:.deployctl/dev\n",
    "    uri: local:.deployctl/dev\n    fields:\n      status: status\n",
)


def test_a_plan_is_made_once_with_everything_it_records(workspace: Workspace) -> None:
    manifest = workspace.manifest(FIELDS)
    plan = workspace.plan(manifest, fingerprints=True)
    assert [(c.address, c.action) for c in plan.changes] == [
        ("local/churn", Action.CREATE),
        ("local/fraud", Action.CREATE),
    ]
    assert plan.manifest_path == str(workspace.manifest_path)
    assert plan.manifest_sha256 == hashlib.sha256(workspace.manifest_path.read_bytes()).hexdigest()
    assert plan.manifest_sha256 == manifest.sha256
    assert plan.state_path == str(workspace.state_path)
    assert plan.target_fields == {"local": {"status": "status"}}
    assert plan.created_at is not None and plan.created_at.endswith("Z")
    assert all(c.live_fingerprint == ABSENT for c in plan.changes)
    assert not plan.partial


def test_after_an_apply_the_plan_has_no_changes_and_fingerprints_the_records(
    workspace: Workspace,
) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    plan = workspace.plan(manifest, fingerprints=True)
    assert not plan.has_changes
    assert plan.state_serial == workspace.state().serial
    assert all(str(c.live_fingerprint).startswith("sha256:") for c in plan.changes)


def test_a_selection_makes_a_partial_plan(workspace: Workspace) -> None:
    plan = workspace.plan(workspace.manifest(), selection=Selection.parse([], ["local/fraud"]))
    assert [c.address for c in plan.changes] == ["local/churn"]
    assert plan.partial and plan.excludes == ("local/fraud",)


def test_a_destroy_plan_deletes_everything_recorded(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    plan = workspace.plan(manifest, destroy=True)
    assert plan.destroy
    assert [(c.address, c.action) for c in plan.changes] == [
        ("local/churn", Action.DELETE),
        ("local/fraud", Action.DELETE),
    ]


def test_max_deletes_refuses_a_plan_deleting_more(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    with pytest.raises(PlanError, match=r"deletes or replaces 2 deployment\(s\), more than"):
        workspace.plan(manifest, destroy=True, max_deletes=1)
    plan = workspace.plan(manifest, destroy=True, max_deletes=2)
    check_max_deletes(plan, None)
    with pytest.raises(PlanError, match="local/churn, local/fraud"):
        check_max_deletes(plan, 0)


def test_state_only_deletes_do_not_count_against_max_deletes(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    workspace.apply(manifest)
    workspace.client().delete_deployment("churn")
    workspace.client().delete_deployment("fraud")
    plan = workspace.plan(manifest, destroy=True, max_deletes=0)
    assert all(c.state_only for c in plan.changes)


def test_the_state_of_another_environment_is_refused(workspace: Workspace) -> None:
    workspace.apply(workspace.manifest())
    prod = workspace.manifest(MANIFEST.replace("environment: dev", "environment: prod"))
    with pytest.raises(StateError, match=r"holds environment 'dev', but .* is environment 'prod'"):
        check_environment(prod, workspace.state(), "state/dev.json")
    with pytest.raises(StateError):
        workspace.plan(prod)


def test_desired_targets_pair_each_deployment_with_its_target_uri(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    uri = f"local:{workspace.root / '.deployctl' / 'dev'}"
    assert [(d.deployment.address, d.target_uri) for d in desired_targets(manifest)] == [
        ("local/churn", uri),
        ("local/fraud", uri),
    ]


def test_a_plan_is_current_until_its_state_or_manifest_changes(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    plan = workspace.plan(manifest)
    check_plan_is_current(plan, workspace.state(), manifest_path=None)
    workspace.manifest(MANIFEST.replace("churn/3", "churn/4"))
    with pytest.raises(StalePlanError, match=r"dev\.yaml changed since the plan was made"):
        check_plan_is_current(plan, workspace.state(), manifest_path=None)


def test_a_plan_is_stale_once_someone_applied(workspace: Workspace) -> None:
    manifest = workspace.manifest()
    plan = workspace.plan(manifest)
    workspace.apply(manifest)
    with pytest.raises(StalePlanError, match="made for state lineage None"):
        check_plan_is_current(plan, workspace.state(), manifest_path=None)
    applied = workspace.plan(manifest)
    moved = replace(applied, state_serial=applied.state_serial - 1)
    with pytest.raises(StalePlanError, match=r"the state changed since the plan was made"):
        check_plan_is_current(moved, workspace.state(), manifest_path=None)


def test_the_manifest_of_a_plan_can_be_given_elsewhere(workspace: Workspace) -> None:
    plan = workspace.plan(workspace.manifest())
    elsewhere = workspace.root / "checkout" / "dev.yaml"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(workspace.manifest_path.read_bytes())
    workspace.manifest_path.unlink()
    with pytest.raises(StalePlanError, match="cannot read the manifest the plan was made from"):
        check_plan_is_current(plan, workspace.state(), manifest_path=None)
    check_plan_is_current(plan, workspace.state(), manifest_path=str(elsewhere))
