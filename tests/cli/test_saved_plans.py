"""plan --out / apply PLANFILE: exactly the reviewed actions, and refusal of stale plans."""

from __future__ import annotations

import json
from pathlib import Path

from support import ONE_DEPLOYMENT, manifest, run_cli, write_manifest

MANIFEST = ONE_DEPLOYMENT


def test_saved_plan_applies_exactly_its_actions(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    made = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path)
    assert made.code == 0, made.err
    assert "deployctl apply plan.json" in made.out
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["summary"]["create"] == 1
    applied = run_cli("apply", "plan.json", cwd=tmp_path)  # no prompt for a reviewed plan
    assert applied.code == 0, applied.err
    assert "1 created" in applied.out
    again = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0


def test_plan_is_refused_after_someone_else_applied(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    stale = run_cli("apply", "plan.json", cwd=tmp_path)
    assert stale.code == 1
    assert "the saved plan was made for state lineage None" in stale.err
    assert "Traceback" not in stale.err


def test_plan_is_refused_when_the_state_serial_moved(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    write_manifest(tmp_path / "dev.yaml", MANIFEST.replace("churn/3", "churn/4"))
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    assert run_cli("state", "rm", "local/churn", "-f", "dev.yaml", cwd=tmp_path).code == 0
    stale = run_cli("apply", "plan.json", cwd=tmp_path)
    assert stale.code == 1
    assert "the state changed since the plan was made" in stale.err


def test_plan_is_refused_when_the_manifest_changed(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    write_manifest(tmp_path / "dev.yaml", MANIFEST.replace("churn/3", "churn/5"))
    stale = run_cli("apply", "plan.json", cwd=tmp_path)
    assert stale.code == 1
    assert "dev.yaml changed since the plan was made" in stale.err
    assert not (tmp_path / "state" / "dev.json").exists()


def test_a_corrupt_plan_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text('{"format_version": "1.0", ')
    result = run_cli("apply", "plan.json", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith("Error: plan.json:1:")
    assert "Traceback" not in result.err


def test_plan_records_a_fingerprint_of_each_live_record(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    change = json.loads((tmp_path / "plan.json").read_text())["resource_changes"][0]
    assert change["live_fingerprint"] == "absent"
    assert run_cli("apply", "plan.json", cwd=tmp_path).code == 0
    write_manifest(tmp_path / "dev.yaml", MANIFEST.replace("churn/3", "churn/4"))
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    change = json.loads((tmp_path / "plan.json").read_text())["resource_changes"][0]
    assert change["live_fingerprint"].startswith("sha256:")


def test_plan_is_refused_when_the_target_changed_behind_our_back(tmp_path: Path) -> None:
    from deployctl.targets.local import LocalDeploymentClient

    write_manifest(tmp_path / "dev.yaml", MANIFEST + "      fraud:\n        model_uri: m:/1\n")
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    write_manifest(
        tmp_path / "dev.yaml",
        MANIFEST.replace("churn/3", "churn/4") + "      fraud:\n        model_uri: m:/2\n",
    )
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    client = LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}")
    client.update_deployment(
        "fraud", config={"workers": 9}
    )  # someone else, between review and release
    stale = run_cli("apply", "plan.json", cwd=tmp_path)
    assert stale.code == 1
    assert "changed on their targets since the plan was made: local/fraud" in stale.err
    assert client.get_deployment("churn")["model_uri"] == "models:/churn/3"  # nothing applied


def test_a_saved_plan_applies_on_a_target_with_new_request_metadata_on_every_read(
    tmp_path: Path,
) -> None:
    # pagedtest describes endpoints like boto3 does: a new ResponseMetadata.RequestId each call.
    def sagemaker_like(model_uri: str) -> str:
        target = {"uri": f"pagedtest:{tmp_path / 'sm'}", "deployments": {"churn": model_uri}}
        return manifest(targets={"sm": target})

    write_manifest(tmp_path / "dev.yaml", sagemaker_like("models:/churn/3"))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    write_manifest(tmp_path / "dev.yaml", sagemaker_like("models:/churn/4"))
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    change = json.loads((tmp_path / "plan.json").read_text())["resource_changes"][0]
    assert change["live_fingerprint"].startswith("sha256:")
    applied = run_cli("apply", "plan.json", cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert "1 updated" in applied.out
    state = json.loads((tmp_path / "state" / "dev.json").read_text())
    assert "ResponseMetadata" not in json.dumps(state)


def test_plan_is_refused_when_a_planned_create_appeared_meanwhile(tmp_path: Path) -> None:
    from deployctl.targets.local import LocalDeploymentClient

    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}").create_deployment(
        "churn", "models:/other/1"
    )
    stale = run_cli("apply", "plan.json", cwd=tmp_path)
    assert stale.code == 1
    assert "local/churn" in stale.err


def test_an_unwritable_plan_file_is_a_clear_error(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = run_cli("plan", "-f", "dev.yaml", "--out", "blocker/plan.json", cwd=tmp_path)
    assert result.code == 1
    assert "Error: --out blocker/plan.json: cannot write the plan file" in result.err
    assert "Traceback" not in result.err and "crashed" not in result.err
