"""state list / show / rm through the console script."""

from __future__ import annotations

import json
from pathlib import Path

from support import manifest, run_cli, write_manifest

CHURN = {"model_uri": "models:/churn/3", "flavor": "python_function", "config": {"workers": 2}}
MANIFEST = manifest({"churn": CHURN, "fraud": "models:/fraud/1"})


def applied(tmp_path: Path) -> Path:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    return tmp_path


def test_state_list_prints_addresses_and_json_records(tmp_path: Path) -> None:
    applied(tmp_path)
    plain = run_cli("state", "list", "-f", "dev.yaml", cwd=tmp_path)
    assert plain.out.split() == ["local/churn", "local/fraud"]
    as_json = json.loads(run_cli("state", "list", "-e", "dev", "--json", cwd=tmp_path).out)
    assert as_json[0] == {
        "address": "local/churn",
        "target_uri": f"local:{(tmp_path / '.deployctl' / 'dev').resolve()}",
        "name": "churn",
        "model_uri": "models:/churn/3",
        "flavor": "python_function",
        "config": {"workers": 2},
    }


def test_state_show_prints_the_full_record(tmp_path: Path) -> None:
    applied(tmp_path)
    shown = run_cli("state", "show", "local/fraud", "--state", "state/dev.json", cwd=tmp_path)
    record = json.loads(shown.out)
    assert record["address"] == "local/fraud"
    assert record["live"]["name"] == "fraud"
    assert record["previous"] is None
    missing = run_cli("state", "show", "local/nope", "-f", "dev.yaml", cwd=tmp_path)
    assert missing.code == 1
    assert "local/nope is not in state/dev.json" in missing.err


def test_state_rm_forgets_without_touching_the_target(tmp_path: Path) -> None:
    applied(tmp_path)
    removed = run_cli("state", "rm", "local/fraud", "-f", "dev.yaml", cwd=tmp_path)
    assert removed.code == 0, removed.err
    assert run_cli("state", "list", "-f", "dev.yaml", cwd=tmp_path).out.split() == ["local/churn"]
    # Still on the target, now unmanaged, and desired again: the plan refuses to take it over.
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert plan.code == 1
    assert "local/fraud already exists" in plan.err


def test_state_commands_need_to_know_which_state(tmp_path: Path) -> None:
    result = run_cli("state", "list", cwd=tmp_path)
    assert result.code == 1
    assert "-f MANIFEST, -e ENVIRONMENT, --state URL|PATH or DEPLOYCTL_STATE" in result.err


def test_update_keeps_the_previous_record(tmp_path: Path) -> None:
    applied(tmp_path)
    write_manifest(tmp_path / "dev.yaml", MANIFEST.replace("churn/3", "churn/4"))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    record = json.loads(run_cli("state", "show", "local/churn", "-e", "dev", cwd=tmp_path).out)
    assert record["model_uri"] == "models:/churn/4"
    assert record["previous"]["model_uri"] == "models:/churn/3"
