"""What policies filter on in the plan JSON: ``type``, ``mode``, ``provider_name`` and
``action_reason`` (one ``ActionReason`` per planner decision), with the sentence apart in
``action_reason_text``; plans saved before the enum still load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import manifest, require_mlflow, run_cli, write_manifest

from deployctl.errors import PlanFileError
from deployctl.manifest.model import UPDATE_REPLACE, DesiredDeployment
from deployctl.model import DeploymentSpec, Lifecycle
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.pins import ModelPin
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import DesiredTarget, Plan, make_plan
from deployctl.planner.plan import Action, ActionReason
from deployctl.planner.planfile import plan_json, read_plan

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
URI = "local:/tmp/t"
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2})
NEW = DeploymentSpec("models:/churn/4", "python_function", {"workers": 2})
DRIFTED = DeploymentSpec("models:/churn/3", "python_function", {"workers": 5})
PIN_3 = ModelPin("models:/churn@champion", "alias champion", "3", "models:/churn/3")
PIN_4 = ModelPin("models:/churn@champion", "alias champion", "4", "models:/churn/4")


@dataclass(frozen=True)
class Case:
    """One planner decision: the desired deployment (if any), its record and its live status."""

    desired: DeploymentSpec | None = SPEC
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    adopt: bool = False
    replace_updates: bool = False
    pin: ModelPin | None = None
    recorded: DeploymentSpec | None = SPEC
    recorded_pin: ModelPin | None = None
    live: DeploymentSpec | None = SPEC
    destroy: bool = False

    def plan(self) -> Plan:
        desired = []
        if self.desired is not None:
            deployment = DesiredDeployment(
                "local", "churn", self.desired, lifecycle=self.lifecycle, adopt=self.adopt
            )
            update = UPDATE_REPLACE if self.replace_updates else "in_place"
            desired.append(DesiredTarget(deployment, URI, update=update, pin=self.pin))
        records = {}
        if self.recorded is not None:
            record = StateRecord(
                "local",
                "churn",
                URI,
                self.recorded,
                None,
                "2026-01-01T00:00:00Z",
                model_pin=self.recorded_pin,
            )
            records[record.address] = record
        if self.live is None:
            status = LiveStatus("local", "churn", False, None, "not listed")
        else:
            live = self.live
            record_live = LiveRecord("churn", {}, live.model_uri, live.flavor, live.config)
            status = LiveStatus("local", "churn", True, record_live)
        state = StateDocument("L", 1, "prod", records)
        view = LiveView({status.address: status})
        return make_plan("prod", desired, state, view, destroy=self.destroy)


CASES: dict[ActionReason, Case] = {
    ActionReason.CREATE_BECAUSE_NEW: Case(recorded=None, live=None),
    ActionReason.CREATE_BECAUSE_VANISHED: Case(live=None),
    ActionReason.UPDATE_BECAUSE_MANIFEST_CHANGED: Case(desired=NEW),
    ActionReason.UPDATE_BECAUSE_MODEL_PIN_MOVED: Case(desired=NEW, pin=PIN_4, recorded_pin=PIN_3),
    ActionReason.UPDATE_BECAUSE_DRIFTED: Case(live=DRIFTED),
    ActionReason.UPDATE_BECAUSE_PREVENT_DESTROY_CHANGED: Case(
        lifecycle=Lifecycle(prevent_destroy=True)
    ),
    ActionReason.REPLACE_BY_TRIGGERS: Case(
        desired=NEW, lifecycle=Lifecycle(replace_on=("model_uri",))
    ),
    ActionReason.REPLACE_BECAUSE_CANNOT_UPDATE: Case(desired=NEW, replace_updates=True),
    ActionReason.IMPORT_BECAUSE_ADOPT: Case(adopt=True, recorded=None),
    ActionReason.DELETE_BECAUSE_NO_RESOURCE_CONFIG: Case(desired=None),
    ActionReason.DELETE_BY_REQUEST: Case(desired=None, destroy=True),
    ActionReason.DELETE_BECAUSE_GONE: Case(desired=None, live=None),
    ActionReason.NO_OP_BECAUSE_UP_TO_DATE: Case(),
}


def only_change_json(plan: Plan) -> dict[str, Any]:
    (change,) = plan.to_json()["resource_changes"]  # type: ignore[misc]
    assert isinstance(change, dict)
    return change


@pytest.mark.parametrize("expected", list(CASES), ids=str)
def test_each_planner_decision_has_its_action_reason_and_its_sentence_apart(
    expected: ActionReason,
) -> None:
    plan = CASES[expected].plan()
    (change,) = plan.changes
    assert change.action_reason is expected
    assert change.action is expected.action
    data = only_change_json(plan)
    assert data["action_reason"] == expected.value
    assert data["action_reason_text"] == change.reason != expected.value
    jsonschema.validate(plan.to_json(), SCHEMA)


def test_the_cases_cover_every_action_reason() -> None:
    assert set(CASES) == set(ActionReason)


def test_an_update_that_changed_in_the_manifest_and_drifted_gives_the_manifest_first() -> None:
    (change,) = Case(desired=NEW, live=DRIFTED).plan().changes
    assert change.action_reason is ActionReason.UPDATE_BECAUSE_MANIFEST_CHANGED
    assert "changed on the target outside deployctl (config)" in change.reason


def test_a_replace_gives_its_own_reason_over_the_update_it_replaces() -> None:
    case = Case(desired=NEW, live=DRIFTED, lifecycle=Lifecycle(replace_on=("config.workers",)))
    (change,) = case.plan().changes
    assert change.action is Action.REPLACE
    assert change.action_reason is ActionReason.REPLACE_BY_TRIGGERS


def test_a_moved_alias_with_other_changes_is_a_manifest_change() -> None:
    other = DeploymentSpec("models:/churn/4", "python_function", {"workers": 3})
    (change,) = Case(desired=other, pin=PIN_4, recorded_pin=PIN_3).plan().changes
    assert change.action_reason is ActionReason.UPDATE_BECAUSE_MANIFEST_CHANGED
    assert "alias champion moved 3 → 4" in change.reason


@pytest.mark.parametrize(
    ("uri", "provider"),
    [
        ("local:/tmp/t", "local"),
        ("sagemaker:/eu-west-1", "sagemaker"),
        ("tritontest:/srv/triton", "tritontest"),
        ("databricks", "databricks"),
    ],
)
def test_each_change_names_its_type_mode_and_the_targets_plugin(uri: str, provider: str) -> None:
    deployment = DesiredDeployment("t", "churn", SPEC)
    plan = make_plan(
        "prod", [DesiredTarget(deployment, uri)], StateDocument("L", 1, "prod", {}), LiveView({})
    )
    data = only_change_json(plan)
    assert (data["type"], data["mode"], data["provider_name"]) == (
        "mlflow_deployment",
        "managed",
        provider,
    )


def test_the_schema_lists_exactly_the_action_reasons_each_with_a_description() -> None:
    reasons = SCHEMA["$defs"]["action_reason"]
    assert reasons["enum"] == [r.value for r in ActionReason]
    assert len(reasons["enumDescriptions"]) == len(reasons["enum"])


def test_the_schema_refuses_a_new_plan_whose_action_reason_is_not_in_the_list() -> None:
    data = CASES[ActionReason.CREATE_BECAUSE_NEW].plan().to_json()
    data["resource_changes"][0]["action_reason"] = "not yet on the target"  # type: ignore[index]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def old_form(plan: Plan) -> dict[str, Any]:
    """The plan as deployctl wrote it before action_reason was an enum."""
    data: dict[str, Any] = json.loads(plan_json(plan))
    for change in data["resource_changes"]:
        change["action_reason"] = change.pop("action_reason_text")
        for added in ("type", "mode", "provider_name"):
            del change[added]
    return data


@pytest.mark.parametrize("expected", list(CASES), ids=str)
def test_a_plan_saved_before_the_enum_loads_with_the_reason_read_from_its_text(
    expected: ActionReason, tmp_path: Path
) -> None:
    plan = CASES[expected].plan()
    saved = tmp_path / "old.plan.json"
    saved.write_text(json.dumps(old_form(plan)), encoding="utf-8")
    again = read_plan(str(saved))
    assert again == plan
    assert again.changes[0].action_reason is expected


def test_a_plan_saved_before_the_enum_reads_a_moved_alias_after_a_drift_as_the_alias() -> None:
    case = Case(desired=NEW, pin=PIN_4, recorded_pin=PIN_3, live=DRIFTED)
    plan = case.plan()
    assert plan.changes[0].action_reason is ActionReason.UPDATE_BECAUSE_MODEL_PIN_MOVED
    assert Plan.from_json(old_form(plan)) == plan


def write_changed(tmp_path: Path, **fields: object) -> str:
    data = json.loads(plan_json(CASES[ActionReason.CREATE_BECAUSE_NEW].plan()))
    data["resource_changes"][0].update(fields)
    path = tmp_path / "edited.plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_a_plan_file_with_an_unknown_action_reason_is_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    path = write_changed(tmp_path, action_reason="create_because_reasons")
    with pytest.raises(PlanFileError) as caught:
        read_plan(path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{path} is malformed: at resource_changes[0].action_reason:" in message
    assert "'create_because_reasons' is not one of" in message


def test_a_plan_file_whose_action_reason_explains_another_action_is_refused(
    tmp_path: Path,
) -> None:
    path = write_changed(tmp_path, action_reason="delete_by_request")
    with pytest.raises(PlanFileError, match="'delete_by_request' is not a reason to create"):
        read_plan(path)


def test_plan_json_from_the_cli_names_each_targets_plugin(tmp_path: Path) -> None:
    require_mlflow()  # mlflowtest is a plugin written for MLflow
    targets = {
        "primary": {"uri": "local:.deployctl/prod", "deployments": {"churn": "models:/churn/3"}},
        "ml": {"uri": f"mlflowtest:{tmp_path / 'ml'}", "deployments": {"fraud": "models:/f/1"}},
    }
    write_manifest(tmp_path / "prod.yaml", manifest(targets=targets, environment="prod"))
    result = run_cli("plan", "-f", "prod.yaml", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    changes = json.loads(result.out)["resource_changes"]
    assert [
        (c["address"], c["provider_name"], c["action_reason"], c["action_reason_text"])
        for c in changes
    ] == [
        ("ml/fraud", "mlflowtest", "create_because_new", "not yet on the target"),
        ("primary/churn", "local", "create_because_new", "not yet on the target"),
    ]
