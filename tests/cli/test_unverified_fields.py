"""``plan``, ``show`` and ``apply`` say which fields a target does not report (so were compared
with the last apply only), with the SageMaker-like ``pagedtest`` plugin and the ``local`` target."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
from support import manifest, run_cli, write_manifest

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
# pagedtest keeps the model URI under Tags and reports no flavor or config.
SAGEMAKER_FIELDS = {
    "name": "EndpointName",
    "status": "EndpointStatus",
    "model_uri": "Tags.model_uri",
}
SM_LINE = "flavor and config not reported by target 'sm': compared with the last apply only"


def write(tmp_path: Path, version: int = 3, *, sm: bool = True) -> None:
    targets: dict[str, object] = {
        "local": {
            "uri": "local:.deployctl/dev",
            "deployments": {"churn": f"models:/churn/{version}"},
        }
    }
    if sm:
        targets["sm"] = {
            "uri": f"pagedtest:{tmp_path / 'sm'}",
            "fields": SAGEMAKER_FIELDS,
            "deployments": {
                "fraud": {"model_uri": "models:/fraud/1", "config": {"instance_count": 1}},
                "ranker": f"models:/ranker/{version}",
            },
        }
    write_manifest(tmp_path / "dev.yaml", manifest(targets=targets))


@pytest.fixture
def applied(tmp_path: Path, test_plugins: ModuleType) -> Path:
    write(tmp_path)
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    return tmp_path


def test_a_no_op_plan_says_which_fields_the_target_does_not_report(applied: Path) -> None:
    result = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=applied)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-3:] == [
        "No changes. The targets match the manifest.",
        "Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged.",
        SM_LINE,
    ]
    assert "target 'local'" not in result.out


def test_a_target_that_reports_everything_gets_no_such_line(tmp_path: Path) -> None:
    write(tmp_path, sm=False)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    human = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert human.out.splitlines()[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 1 unchanged."
    assert "not reported" not in human.out
    data = json.loads(run_cli("plan", "-f", "dev.yaml", "--json", cwd=tmp_path).out)
    assert data["unverified_fields"] == []


def test_the_json_plan_lists_them_per_target(applied: Path) -> None:
    result = run_cli("plan", "-f", "dev.yaml", "--json", cwd=applied)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    jsonschema.validate(data, SCHEMA)
    assert data["unverified_fields"] == [
        {"target": "sm", "fields": ["flavor", "config"], "deployments": 2, "message": SM_LINE}
    ]


def test_the_markdown_comment_lists_them(applied: Path) -> None:
    result = run_cli("plan", "-f", "dev.yaml", "--markdown", cwd=applied)
    assert result.code == 0, result.err
    assert f"- {SM_LINE}\n" in result.out


def test_a_saved_plan_keeps_them_and_show_prints_them(applied: Path) -> None:
    write(applied, version=4)
    made = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=applied)
    assert made.code == 0, made.err
    assert SM_LINE in made.out
    shown = run_cli("show", "plan.json", cwd=applied)
    assert shown.code == 0, shown.err
    assert shown.out.splitlines()[-1] == SM_LINE
    as_json = json.loads(run_cli("show", "plan.json", "--json", cwd=applied).out)
    assert [u["message"] for u in as_json["unverified_fields"]] == [SM_LINE]
    applying = run_cli("apply", "plan.json", cwd=applied)
    assert applying.code == 0, applying.err
    assert SM_LINE in applying.out


def test_apply_shows_them_with_its_plan_and_in_its_json_plan_summary(applied: Path) -> None:
    write(applied, version=4)
    human = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=applied)
    assert human.code == 0, human.err
    lines = human.out.splitlines()
    summary = lines.index("Plan: 0 to create, 2 to update, 0 to delete, 1 unchanged.")
    assert lines[summary + 1] == SM_LINE
    write(applied, version=5)
    events = run_cli("apply", "-f", "dev.yaml", "--auto-approve", "--json", cwd=applied)
    assert events.code == 0, events.err
    (plan_summary,) = [
        e for e in map(json.loads, events.out.splitlines()) if e["type"] == "plan_summary"
    ]
    assert [u["fields"] for u in plan_summary["unverified_fields"]] == [["flavor", "config"]]


def test_a_destroy_plan_says_it_too(applied: Path) -> None:
    result = run_cli("plan", "-f", "dev.yaml", "--destroy", cwd=applied)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == SM_LINE
