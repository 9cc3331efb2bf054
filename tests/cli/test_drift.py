"""``deployctl drift`` end to end: the local target is changed behind deployctl's back."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import jsonschema
from support import REPO, manifest, run_cli, write_manifest

from deployctl.targets.local import LocalDeploymentClient

DEFAULTS = {"flavor": "python_function", "config": {"workers": 1}}
API_AND_CHURN = {
    "api": "models:/api/1",
    "churn": {"model_uri": "models:/churn/3", "config": {"workers": 2}},
}
MANIFEST = manifest({**API_AND_CHURN, "fraud": "models:/fraud/7"}, defaults=DEFAULTS)


def applied(tmp_path: Path, text: str = MANIFEST) -> LocalDeploymentClient:
    write_manifest(tmp_path / "dev.yaml", text)
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 0, result.err
    return LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}")


def change_behind_our_back(client: LocalDeploymentClient) -> None:
    client.update_deployment("churn", config={"workers": 9})
    client.delete_deployment("fraud")
    client.create_deployment("stray", "models:/x/1")


def test_no_drift_right_after_apply_exits_0_even_with_detailed_exitcode(tmp_path: Path) -> None:
    applied(tmp_path)
    result = run_cli("drift", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    assert result.out.strip() == "No drift."


def test_drift_reports_drifted_vanished_and_unmanaged_field_by_field(tmp_path: Path) -> None:
    change_behind_our_back(applied(tmp_path))
    result = run_cli("drift", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "  ~ drifted local/churn  (changed on the target outside deployctl (config))" in lines
    assert "      config.workers: 2 → 9" in lines
    vanished = next(line for line in lines if "- vanished local/fraud" in line)
    # The refresh's reason: the local target's list reads its directory, so it is complete.
    assert "not reported by list_deployments, which reports every deployment" in vanished
    assert "Not managed by deployctl: local/stray" in lines
    assert lines[-1] == "Drift: 1 drifted, 1 vanished, 1 unmanaged, 1 in sync."
    assert "local/api" not in result.out  # in sync: only counted


def test_detailed_exitcode_is_2_when_anything_drifted(tmp_path: Path) -> None:
    applied(tmp_path).update_deployment("churn", model_uri="models:/churn/4")
    result = run_cli("drift", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert result.code == 2, result.err
    assert 'model_uri: "models:/churn/3" → "models:/churn/4"' in result.out


def test_detailed_exitcode_is_2_for_a_vanished_deployment(tmp_path: Path) -> None:
    applied(tmp_path).delete_deployment("api")
    result = run_cli("drift", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert result.code == 2, result.err
    assert "Drift: 0 drifted, 1 vanished, 0 unmanaged, 2 in sync." in result.out


def test_an_unmanaged_deployment_alone_counts_as_drift(tmp_path: Path) -> None:
    applied(tmp_path).create_deployment("stray", "models:/x/1")
    result = run_cli("drift", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert result.code == 2, result.err
    assert "Drift: 0 drifted, 0 vanished, 1 unmanaged, 3 in sync." in result.out


def test_drift_changes_nothing_on_the_targets_or_in_state(tmp_path: Path) -> None:
    client = applied(tmp_path)
    change_behind_our_back(client)
    state_file = tmp_path / "state" / "dev.json"
    files = sorted(p.name for p in state_file.parent.iterdir())
    before = (state_file.read_bytes(), client.list_deployments())
    assert run_cli("drift", "-f", "dev.yaml", cwd=tmp_path).code == 0
    assert (state_file.read_bytes(), client.list_deployments()) == before
    # No lock, journal or history version left behind.
    assert sorted(p.name for p in state_file.parent.iterdir()) == files
    assert "dev.json.lock" not in files
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert "config.workers: 9 → 2" in plan.out  # still there for plan to put back


def test_drift_json_is_one_document_valid_against_the_schema(tmp_path: Path) -> None:
    change_behind_our_back(applied(tmp_path))
    result = run_cli("drift", "-f", "dev.yaml", "--json", "--detailed-exitcode", cwd=tmp_path)
    assert result.code == 2, result.err
    data = json.loads(result.out)
    schema = json.loads((REPO / "schemas" / "drift.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["environment"] == "dev"
    assert data["summary"] == {"drifted": 1, "vanished": 1, "unmanaged": 1, "in_sync": 1}
    by_address = {d["address"]: d for d in data["deployments"]}
    assert by_address["local/churn"]["status"] == "drifted"
    assert by_address["local/churn"]["diff"] == [
        {"path": "config.workers", "before": 2, "after": 9, "kind": "changed"}
    ]
    assert by_address["local/fraud"]["status"] == "vanished"
    assert by_address["local/api"] == {
        "address": "local/api",
        "target": "local",
        "name": "api",
        "status": "in_sync",
        "reason": "matches the last apply",
        "diff": [],
        "not_reported": [],
    }
    assert data["unmanaged"] == [{"address": "local/stray", "target": "local", "name": "stray"}]


def test_deployments_removed_from_the_manifest_are_still_checked(tmp_path: Path) -> None:
    client = applied(tmp_path)
    client.update_deployment("fraud", config={"workers": 3})
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(API_AND_CHURN, defaults=DEFAULTS),
    )
    result = run_cli("drift", "-f", "dev.yaml", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    fraud = next(d for d in json.loads(result.out)["deployments"] if d["name"] == "fraud")
    assert fraud["status"] == "drifted"
    assert fraud["diff"] == [{"path": "config.workers", "before": 1, "after": 3, "kind": "changed"}]


def test_fields_a_target_does_not_report_are_listed_as_not_reported(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target_dir = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(
            targets={
                "sm": {
                    "uri": f"pagedtest:{target_dir}",
                    "deployments": {"churn": "models:/churn/3"},
                }
            }
        ),
    )
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    result = run_cli("drift", "-f", "dev.yaml", "--json", "--detailed-exitcode", cwd=tmp_path)
    assert result.code == 0, result.out + result.err
    (churn,) = json.loads(result.out)["deployments"]
    assert churn["status"] == "in_sync"
    assert churn["not_reported"] == ["model_uri", "flavor", "config"]
    human = run_cli("drift", "-f", "dev.yaml", cwd=tmp_path)
    assert "not reported (not checked): sm/churn (model_uri, flavor, config)" in human.out
    assert "No drift." in human.out


def test_drift_against_another_environments_state_is_an_error(tmp_path: Path) -> None:
    applied(tmp_path)
    write_manifest(
        tmp_path / "prod.yaml", MANIFEST.replace("environment: dev", "environment: prod")
    )
    result = run_cli(
        "drift", "-f", "prod.yaml", "--state", "state/dev.json", "--detailed-exitcode", cwd=tmp_path
    )
    assert result.code == 1
    assert "holds environment 'dev'" in result.err
    assert "Traceback" not in result.err
