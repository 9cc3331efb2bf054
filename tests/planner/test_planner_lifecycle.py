"""Lifecycle guards and adoption in the planner (pure, on plain data)."""

from __future__ import annotations

import pytest

from deployctl.errors import PlanError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec, Lifecycle
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, make_plan

URI = "local:/tmp/t"
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2, "instance_count": 1})
NO_GUARDS = Lifecycle()


def desired(
    spec: DeploymentSpec = SPEC, lifecycle: Lifecycle = NO_GUARDS, adopt: bool = False
) -> DesiredTarget:
    return DesiredTarget(
        DesiredDeployment("local", "churn", spec, lifecycle=lifecycle, adopt=adopt), URI
    )


def record(spec: DeploymentSpec = SPEC, protected: bool = False) -> StateRecord:
    return StateRecord(
        "local", "churn", URI, spec, None, "2026-01-01T00:00:00Z", prevent_destroy=protected
    )


def state(*records: StateRecord) -> StateDocument:
    return StateDocument("L", 1, "dev", {r.address: r for r in records})


def live(spec: DeploymentSpec | None = SPEC) -> LiveView:
    rec = (
        LiveRecord("churn", {"name": "churn"})
        if spec is None
        else LiveRecord("churn", {"name": "churn"}, spec.model_uri, spec.flavor, spec.config)
    )
    return LiveView({"local/churn": LiveStatus("local", "churn", True, rec)})


def one(plan):  # type: ignore[no-untyped-def]
    assert len(plan.changes) == 1
    return plan.changes[0]


def test_ignored_paths_do_not_make_an_update() -> None:
    scaled = DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 2, "instance_count": 7})
    ignore = Lifecycle(ignore_changes=("config.instance_count",))
    # Neither a manifest change nor drift on the ignored path plans anything.
    assert one(make_plan("dev", [desired(scaled, ignore)], state(record()), live())).action is (
        Action.NOOP
    )
    assert one(
        make_plan("dev", [desired(lifecycle=ignore)], state(record()), live(scaled))
    ).action is (Action.NOOP)


def test_an_update_keeps_the_current_value_of_ignored_paths() -> None:
    new = DeploymentSpec("models:/churn/4", SPEC.flavor, {"workers": 2, "instance_count": 1})
    scaled = DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 2, "instance_count": 7})
    ignore = Lifecycle(ignore_changes=("config.instance_count",))
    change = one(make_plan("dev", [desired(new, ignore)], state(record()), live(scaled)))
    assert change.action is Action.UPDATE
    assert change.after is not None
    assert change.after.config["instance_count"] == 7  # what the autoscaler set stays
    assert [d.path for d in change.diff] == ["model_uri"]


def test_a_change_under_replace_on_is_a_replace() -> None:
    new = DeploymentSpec(SPEC.model_uri, "pytorch", SPEC.config)
    change = one(
        make_plan("dev", [desired(new, Lifecycle(replace_on=("flavor",)))], state(record()), live())
    )
    assert change.action is Action.REPLACE
    assert change.to_json()["change"]["actions"] == ["delete", "create"]
    assert "lifecycle.replace_on: flavor changed" in change.reason
    # Other changes stay updates.
    other = DeploymentSpec("models:/churn/9", SPEC.flavor, SPEC.config)
    plan = make_plan(
        "dev", [desired(other, Lifecycle(replace_on=("flavor",)))], state(record()), live()
    )
    assert one(plan).action is Action.UPDATE


def test_prevent_destroy_refuses_delete_and_replace() -> None:
    with pytest.raises(PlanError, match=r"protected by lifecycle\.prevent_destroy"):
        make_plan("dev", [], state(record(protected=True)), live())
    with pytest.raises(PlanError, match="would replace it"):
        make_plan(
            "dev",
            [
                desired(
                    DeploymentSpec(SPEC.model_uri, "pytorch", SPEC.config),
                    Lifecycle(prevent_destroy=True, replace_on=("flavor",)),
                )
            ],
            state(record()),
            live(),
        )
    with pytest.raises(PlanError, match="protected"):
        make_plan("dev", [], state(record(protected=True)), live(), destroy=True)


def test_turning_protection_off_is_a_state_only_update() -> None:
    change = one(make_plan("dev", [desired()], state(record(protected=True)), live()))
    assert change.action is Action.UPDATE
    assert change.state_only and change.prevent_destroy is False
    assert "lifecycle.prevent_destroy becomes false" in change.reason


def test_a_protected_deployment_already_gone_may_leave_state() -> None:
    gone = LiveView({"local/churn": LiveStatus("local", "churn", False, None, "gone")})
    change = one(make_plan("dev", [], state(record(protected=True)), gone))
    assert change.action is Action.DELETE and change.state_only


def test_adopt_imports_an_unmanaged_deployment_and_diffs_it_against_the_manifest() -> None:
    running = DeploymentSpec(
        "models:/churn/2", "python_function", {"workers": 2, "instance_count": 1}
    )
    change = one(make_plan("dev", [desired(adopt=True)], state(), live(running)))
    assert change.action is Action.IMPORT
    assert change.before == running
    assert [(d.path, d.before, d.after) for d in change.diff] == [
        ("model_uri", "models:/churn/2", "models:/churn/3")
    ]
    assert "then updated to match the manifest" in change.reason


def test_adopting_from_a_target_that_reports_nothing_assumes_the_manifest() -> None:
    change = one(make_plan("dev", [desired(adopt=True)], state(), live(None)))
    assert change.action is Action.IMPORT
    assert change.diff == ()
    assert "the manifest's values are assumed" in change.reason


def test_without_adopt_the_error_says_how_to_import() -> None:
    with pytest.raises(PlanError, match="deployctl import local/churn -f MANIFEST"):
        make_plan("dev", [desired()], state(), live())
