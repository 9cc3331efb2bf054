"""plan -> apply -> plan, end to end through the installed console script on the local target."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import jsonschema
from support import REPO, manifest, run_cli, write_manifest

from deployctl.targets.local import LocalDeploymentClient

CHURN = {"model_uri": "models:/churn/${var.churn_version}", "config": {"workers": 2}}
DEFAULTS = {"flavor": "python_function", "config": {"workers": 1}}
MANIFEST = manifest(
    {"churn": CHURN, "fraud": "models:/fraud/7"},
    defaults=DEFAULTS,
    variables={"churn_version": "3"},
)


def setup(tmp_path: Path, text: str = MANIFEST) -> Path:
    return write_manifest(tmp_path / "dev.yaml", text)


def client(tmp_path: Path) -> LocalDeploymentClient:
    return LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}")


def test_first_plan_shows_creates_with_fields_and_summary(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "+ create local/churn" in result.out
    assert 'model_uri: "models:/churn/3"' in result.out
    assert "config.workers: 2" in result.out
    assert "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged." in result.out
    assert not (tmp_path / "state" / "dev.json").exists()  # plan changes nothing


def test_apply_then_replan_shows_no_changes(tmp_path: Path) -> None:
    setup(tmp_path)
    applied = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert (
        "Apply complete! 2 created, 0 updated, 0 deleted, 0 failed (environment dev)."
        in applied.out
    )
    record = client(tmp_path).get_deployment("churn")
    assert record["model_uri"] == "models:/churn/3"
    assert record["config"] == {"workers": 2}
    state = json.loads((tmp_path / "state" / "dev.json").read_text())
    assert [d["address"] for d in state["deployments"]] == ["local/churn", "local/fraud"]
    assert state["deployments"][0]["live"]["model_uri"] == "models:/churn/3"
    again = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.out + again.err
    assert "No changes." in again.out
    assert "Plan: 0 to create, 0 to update, 0 to delete, 2 unchanged." in again.out


def test_detailed_exitcode_is_2_when_changes_are_present(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path).code == 2


def test_var_override_produces_a_field_level_update(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    result = run_cli("plan", "-f", "dev.yaml", "--var", "churn_version=4", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "~ update local/churn" in result.out
    assert 'model_uri: "models:/churn/3" → "models:/churn/4"' in result.out
    assert "Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged." in result.out


def test_plan_json_is_valid_against_the_schema(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli("plan", "-f", "dev.yaml", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    schema = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["summary"] == {
        "create": 2,
        "update": 0,
        "delete": 0,
        "no-op": 0,
        "import": 0,
        "replace": 0,
    }
    assert data["resource_changes"][0]["change"]["actions"] == ["create"]
    assert data["resource_changes"][0]["change"]["before"] is None


def test_removing_a_deployment_from_the_manifest_deletes_it(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    setup(tmp_path, manifest({"churn": CHURN}, defaults=DEFAULTS, variables={"churn_version": "3"}))
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "- delete local/fraud" in result.out
    names = [d["name"] for d in client(tmp_path).list_deployments()]
    assert names == ["churn"]


def test_drift_on_the_target_is_planned_back(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    client(tmp_path).update_deployment("churn", config={"workers": 9})
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert "~ update local/churn" in result.out
    assert "changed on the target outside deployctl (config)" in result.out
    assert "config.workers: 9 → 2" in result.out


def test_a_deployment_deleted_behind_our_back_is_recreated_with_the_reason(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    client(tmp_path).delete_deployment("fraud")
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert "+ create local/fraud" in result.out
    assert "vanished from the target" in result.out


def test_unmanaged_deployments_are_reported_or_refused(tmp_path: Path) -> None:
    setup(tmp_path)
    client(tmp_path).create_deployment("stray", "models:/x/1")
    client(tmp_path).create_deployment("churn", "models:/churn/1")
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    assert "local/churn already exists on target 'local' but is not managed" in result.err
    assert "Traceback" not in result.err
    client(tmp_path).delete_deployment("churn")
    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 0
    assert "Not managed by deployctl (left untouched): local/stray" in result.out


def test_apply_without_a_terminal_or_auto_approve_refuses(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli("apply", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    assert "pass --auto-approve" in result.err
    assert client(tmp_path).list_deployments() == []


def test_destroy_deletes_every_managed_deployment_but_not_others(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    client(tmp_path).create_deployment("stray", "models:/x/1")
    result = run_cli("destroy", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "Destroy complete! 2 deleted, 0 failed (environment dev)." in result.out
    assert [d["name"] for d in client(tmp_path).list_deployments()] == ["stray"]
    state = json.loads((tmp_path / "state" / "dev.json").read_text())
    assert state["deployments"] == []


def test_apply_and_destroy_refresh_with_their_parallelism(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "seed"
    deployments = {"a": "models:/a/1", "b": "models:/b/1", "c": "models:/c/1"}
    setup(
        tmp_path, manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments}})
    )
    test_plugins.write_faults(target, {"sleep": 0.05})
    for command in ("apply", "destroy"):
        result = run_cli(
            command, "-f", "dev.yaml", "--auto-approve", "--parallelism", "1", cwd=tmp_path
        )
        assert result.code == 0, result.err
    calls = test_plugins.read_calls(target)
    assert {c["method"] for c in calls} >= {"list_deployments", "get_deployment"}
    assert test_plugins.max_concurrent_calls(calls) == 1


def test_state_option_moves_the_state_file(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli(
        "apply", "-f", "dev.yaml", "--auto-approve", "--state", "elsewhere/s.json", cwd=tmp_path
    )
    assert result.code == 0, result.err
    assert (tmp_path / "elsewhere" / "s.json").exists()
    assert not (tmp_path / "state").exists()
