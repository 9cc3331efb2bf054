"""The plan's JSON form: round trip, and validity against schemas/plan.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from deployctl.errors import PlanFileError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import DesiredTarget, Plan, make_plan

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())


def sample_plan() -> Plan:
    old = DeploymentSpec("models:/a/1", None, {"workers": 1})
    new = DeploymentSpec("models:/a/2", "python_function", {"workers": 2})
    records = {
        "t/a": StateRecord("t", "a", "local:/x", old, None, "2026-01-01T00:00:00Z"),
        "t/gone": StateRecord("t", "gone", "local:/x", old, None, "2026-01-01T00:00:00Z"),
    }
    live = LiveView(
        {
            "t/a": LiveStatus("t", "a", True, LiveRecord("a", {"name": "a"})),
            "t/gone": LiveStatus("t", "gone", False, None, "not listed"),
            "t/stray": LiveStatus("t", "stray", True, LiveRecord("stray", {})),
        }
    )
    desired = [
        DesiredTarget(DesiredDeployment("t", "a", new), "local:/x"),
        DesiredTarget(DesiredDeployment("t", "b", new), "local:/x"),
    ]
    return make_plan("dev", desired, StateDocument("L", 4, "dev", records), live)


def test_plan_json_validates_against_the_published_schema() -> None:
    jsonschema.validate(sample_plan().to_json(), SCHEMA)


def test_plan_json_has_terraform_like_shape() -> None:
    data = sample_plan().to_json()
    assert data["format_version"] == "1.0"
    assert data["summary"] == {
        "create": 1,
        "update": 1,
        "delete": 1,
        "no-op": 0,
        "import": 0,
        "replace": 0,
    }
    change = data["resource_changes"][0]
    assert change["address"] == "t/a"
    assert change["change"]["actions"] == ["update"]
    assert {"path": "config.workers", "before": 1, "after": 2, "kind": "changed"} in change["diff"]
    assert data["unmanaged"] == [{"address": "t/stray", "target": "t", "name": "stray"}]


def test_plan_round_trips_through_json() -> None:
    plan = sample_plan()
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan


def test_specs_stay_typed_in_the_plan_and_become_json_only_in_it() -> None:
    update = sample_plan().changes[0]
    assert update.before == DeploymentSpec("models:/a/1", None, {"workers": 1})
    assert update.desired == DeploymentSpec("models:/a/2", "python_function", {"workers": 2})
    change = update.to_json()["change"]
    assert isinstance(change, dict)
    assert change["after"] == {
        "model_uri": "models:/a/2",
        "flavor": "python_function",
        "config": {"workers": 2},
    }


def test_a_delete_has_no_desired_spec() -> None:
    delete = sample_plan().changes[2]
    assert delete.after is None
    with pytest.raises(ValueError, match="t/gone: a delete has no desired spec"):
        _ = delete.desired


def test_a_plan_of_another_format_version_is_refused() -> None:
    data = sample_plan().to_json()
    data["format_version"] = "9.9"
    with pytest.raises(PlanFileError, match=r"plan format '9\.9'"):
        Plan.from_json(data)


def test_a_json_document_that_is_not_a_plan_is_refused() -> None:
    with pytest.raises(PlanFileError, match="not a deployctl plan"):
        Plan.from_json({"hello": 1}, source="x.json")
