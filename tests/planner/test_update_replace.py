"""Targets that cannot update in place (``update: replace``) in the planner (pure, plain data)."""

from __future__ import annotations

import pytest

from deployctl.errors import PlanError
from deployctl.manifest.model import UPDATE_REPLACE, DesiredDeployment, UpdateMode
from deployctl.model import DeploymentSpec, Lifecycle
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, make_plan
from deployctl.planner.plan import Plan, ResourceChange

URI = "tritontest:/tmp/tr"
SPEC = DeploymentSpec("s3://models/repo/iris", "triton", {"image": "triton:26", "replicas": 1})
NEW_MODEL = DeploymentSpec("s3://models/repo/iris2", SPEC.flavor, SPEC.config)
REASON = "target 'tr' cannot update in place (update: replace)"


def desired(
    spec: DeploymentSpec = SPEC,
    lifecycle: Lifecycle | None = None,
    *,
    update: UpdateMode = UPDATE_REPLACE,
    adopt: bool = False,
) -> DesiredTarget:
    deployment = DesiredDeployment(
        "tr", "iris", spec, lifecycle=lifecycle or Lifecycle(), adopt=adopt
    )
    return DesiredTarget(deployment, URI, update=update)


def state(spec: DeploymentSpec | None = SPEC, protected: bool = False) -> StateDocument:
    if spec is None:
        return StateDocument("L", 1, "dev", {})
    record = StateRecord(
        "tr", "iris", URI, spec, None, "2026-01-01T00:00:00Z", prevent_destroy=protected
    )
    return StateDocument("L", 1, "dev", {record.address: record})


def live(spec: DeploymentSpec = SPEC) -> LiveView:
    record = LiveRecord(
        "iris", {"deployment_name": "iris"}, spec.model_uri, spec.flavor, spec.config
    )
    return LiveView({"tr/iris": LiveStatus("tr", "iris", True, record)})


def one(plan: Plan) -> ResourceChange:
    assert len(plan.changes) == 1
    return plan.changes[0]


def test_a_manifest_change_on_a_replace_target_is_a_replace_with_the_reason() -> None:
    change = one(make_plan("dev", [desired(NEW_MODEL)], state(), live()))
    assert change.action is Action.REPLACE
    assert change.to_json()["change"]["actions"] == ["delete", "create"]
    assert REASON in change.reason
    assert [d.path for d in change.diff] == ["model_uri"]
    assert change.after == NEW_MODEL


def test_the_same_change_on_an_in_place_target_stays_an_update() -> None:
    change = one(make_plan("dev", [desired(NEW_MODEL, update="in_place")], state(), live()))
    assert change.action is Action.UPDATE
    assert "update: replace" not in change.reason


def test_drift_on_a_replace_target_is_replaced_back() -> None:
    drifted = DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"image": "triton:27", "replicas": 1})
    change = one(make_plan("dev", [desired()], state(), live(drifted)))
    assert change.action is Action.REPLACE
    assert "changed on the target outside deployctl (config)" in change.reason
    assert REASON in change.reason


def test_an_unchanged_deployment_on_a_replace_target_is_a_no_op() -> None:
    assert one(make_plan("dev", [desired()], state(), live())).action is Action.NOOP


def test_a_change_only_under_ignored_paths_is_no_replace() -> None:
    scaled = DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"image": "triton:26", "replicas": 5})
    ignore = Lifecycle(ignore_changes=("config.replicas",))
    # Neither the manifest asking for it nor the target drifting on it plans anything.
    assert one(make_plan("dev", [desired(scaled, ignore)], state(), live())).action is Action.NOOP
    assert one(make_plan("dev", [desired(lifecycle=ignore)], state(), live(scaled))).action is (
        Action.NOOP
    )


def test_a_replace_keeps_the_current_value_of_ignored_paths() -> None:
    scaled = DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"image": "triton:26", "replicas": 5})
    ignore = Lifecycle(ignore_changes=("config.replicas",))
    change = one(make_plan("dev", [desired(NEW_MODEL, ignore)], state(), live(scaled)))
    assert change.action is Action.REPLACE
    assert change.after is not None and change.after.config["replicas"] == 5
    assert [d.path for d in change.diff] == ["model_uri"]


@pytest.mark.parametrize("in_state", [False, True], ids=["desired", "recorded"])
def test_prevent_destroy_refuses_the_replace(in_state: bool) -> None:
    guard = Lifecycle(prevent_destroy=not in_state)
    with pytest.raises(PlanError) as raised:
        make_plan("dev", [desired(NEW_MODEL, guard)], state(protected=in_state), live())
    message = str(raised.value)
    assert "tr/iris is protected by lifecycle.prevent_destroy" in message
    assert "update: replace on target 'tr', and a change to model_uri" in message
    assert "would replace it" in message


def test_turning_protection_off_stays_state_only() -> None:
    change = one(make_plan("dev", [desired()], state(protected=True), live()))
    assert change.action is Action.UPDATE
    assert change.state_only and change.prevent_destroy is False


def test_an_adopt_that_needs_a_change_imports_as_it_is() -> None:
    change = one(make_plan("dev", [desired(NEW_MODEL, adopt=True)], state(None), live()))
    assert change.action is Action.IMPORT
    # Nothing changes on the target now: the adopted record is what the import records ...
    assert change.after == change.before == SPEC
    assert change.diff == ()
    # ... and the plan says what happens next.
    assert REASON in change.reason
    assert "the next plan replaces it to match the manifest: model_uri" in change.reason
    assert "then updated" not in change.reason


def test_the_plan_after_such_an_import_replaces_it() -> None:
    imported = one(make_plan("dev", [desired(NEW_MODEL, adopt=True)], state(None), live()))
    assert imported.after is not None
    after_apply = state(imported.after)
    change = one(make_plan("dev", [desired(NEW_MODEL, adopt=True)], after_apply, live()))
    assert change.action is Action.REPLACE and change.after == NEW_MODEL


def test_an_adopt_that_needs_no_change_imports_as_usual() -> None:
    change = one(make_plan("dev", [desired(adopt=True)], state(None), live()))
    assert change.action is Action.IMPORT
    assert change.reason == "adopt: true and it already exists on the target: imported into state"


def test_an_adopt_on_an_in_place_target_still_updates_after_importing() -> None:
    change = one(
        make_plan("dev", [desired(NEW_MODEL, update="in_place", adopt=True)], state(None), live())
    )
    assert change.action is Action.IMPORT
    assert change.after == NEW_MODEL
    assert "then updated to match the manifest" in change.reason
