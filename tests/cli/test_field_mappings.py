"""Field mappings that reach where real plugins keep things, end to end through the CLI.

Two fakes of real plugins behind real entry points: ``crusoetest`` (mlflow-crusoe: the model
under ``model``, each config key flat at the top of the record, update merges config) and
``sagemakertest`` (MLflow's sagemaker target: raw AWS records, the instance count in
``ProductionVariants[0]``, boto3 metadata that changes on every read). A change made behind
deployctl's back is made by editing the fake's store directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from support import REPO, Result, manifest, run_cli, write_manifest

from deployctl.model.field_paths import CONFIG_FIELD_RULE, PATH_RULE

LLAMA = "meta-llama/Llama-3.3-70B-Instruct"
CRUSOE_FIELDS = {
    "model_uri": "model",
    "config.temperature": "temperature",
    "config.max_tokens": "max_tokens",
}
SAGEMAKER_FIELDS = {
    "name": "EndpointName",
    "status": "EndpointStatus",
    "model_uri": "Tags.model_uri",
    "config.instance_count": "ProductionVariants.0.CurrentInstanceCount",
}
CRUSOE_ENV = {"CRUSOE_API_KEY": "test-key"}

Run = Callable[..., Result]


def manifest_text(tmp_path: Path, **overrides: Any) -> str:
    """Crusoe ``cr/chat`` and SageMaker ``sm/churn``, each read through its mapping."""
    chat = {"model_uri": LLAMA, "config": {"temperature": 0.7, "max_tokens": 2048, "top_p": 0.9}}
    churn = {
        "model_uri": "models:/churn/3",
        "flavor": "python_function",
        "config": {"instance_type": "ml.m5.large", "instance_count": 2},
    }
    chat.update(overrides.get("chat", {}))
    churn.update(overrides.get("churn", {}))
    return manifest(
        targets={
            "cr": {
                "uri": f"crusoetest:{tmp_path / 'cr'}",
                "fields": overrides.get("cr_fields", CRUSOE_FIELDS),
                "deployments": {"chat": chat},
            },
            "sm": {
                "uri": f"sagemakertest:{tmp_path / 'sm'}",
                "fields": overrides.get("sm_fields", SAGEMAKER_FIELDS),
                "deployments": {"churn": churn},
            },
        }
    )


@pytest.fixture
def run(tmp_path: Path, test_plugins: ModuleType) -> Run:
    """``run(*args)``: deployctl in-process in ``tmp_path``, with crusoe's API key set."""

    def _run(*args: str) -> Result:
        return run_cli(*args, cwd=tmp_path, env=CRUSOE_ENV)

    return _run


@pytest.fixture
def applied(tmp_path: Path, run: Run) -> Path:
    """Both deployments applied; returns the state file."""
    write_manifest(tmp_path / "dev.yaml", manifest_text(tmp_path))
    result = run("apply", "-f", "dev.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    return tmp_path / "state" / "dev.json"


def edit_crusoe(tmp_path: Path, **changes: Any) -> None:
    import dtp_crusoe

    record = dtp_crusoe.read_record(tmp_path / "cr", "chat")
    assert record is not None
    dtp_crusoe.store_record(tmp_path / "cr", "chat", {**record, **changes})


def edit_sagemaker_variant(tmp_path: Path, **changes: Any) -> None:
    import dtp_sagemaker

    record = dtp_sagemaker.read_record(tmp_path / "sm", "churn")
    assert record is not None
    record["ProductionVariants"][0].update(changes)
    dtp_sagemaker.store_record(tmp_path / "sm", "churn", record)


def plan_json(run: Run) -> dict[str, Any]:
    result = run("plan", "-f", "dev.yaml", "--json")
    assert result.code == 0, result.err
    plan: dict[str, Any] = json.loads(result.out)
    return plan


def change_of(plan: dict[str, Any], address: str) -> dict[str, Any]:
    (change,) = [c for c in plan["resource_changes"] if c["address"] == address]
    return change


def live_of(state_file: Path, address: str) -> dict[str, Any]:
    document = json.loads(state_file.read_text(encoding="utf-8"))
    (record,) = [r for r in document["deployments"] if f"{r['target']}/{r['name']}" == address]
    live: dict[str, Any] = record["live"]
    return live


def test_plan_apply_plan_converges_with_per_key_config_mappings(tmp_path: Path, run: Run) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest_text(tmp_path))
    first = run("plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert first.code == 2, first.err
    assert "Plan: 2 to create" in first.out
    assert run("apply", "-f", "dev.yaml", "--auto-approve").code == 0
    again = run("plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes. The targets match the manifest." in again.out
    drift = run("drift", "-f", "dev.yaml", "--detailed-exitcode")
    assert (drift.code, drift.out.splitlines()[-1]) == (0, "No drift."), drift.out


def test_the_state_keeps_what_was_reported_and_which_config_keys(
    tmp_path: Path, applied: Path
) -> None:
    chat, churn = live_of(applied, "cr/chat"), live_of(applied, "sm/churn")
    assert (chat["model_uri"], chat["config"], chat["config_keys"]) == (
        LLAMA,
        {"temperature": 0.7, "max_tokens": 2048},
        ["max_tokens", "temperature"],
    )
    assert (churn["model_uri"], churn["config"], churn["config_keys"]) == (
        "models:/churn/3",
        {"instance_count": 2},
        ["instance_count"],
    )
    assert "ResponseMetadata" not in churn["raw"]
    schema = json.loads((REPO / "schemas" / "state.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(applied.read_text(encoding="utf-8")), schema)


def test_a_mapped_crusoe_key_changed_behind_our_back_is_drift_and_an_update(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    edit_crusoe(tmp_path, temperature=1.5)
    drift = run("drift", "-f", "dev.yaml", "--detailed-exitcode")
    assert drift.code == 2, drift.err
    lines = drift.out.splitlines()
    assert "  ~ drifted cr/chat  (changed on the target outside deployctl (config))" in lines
    assert "      config.temperature: 0.7 → 1.5" in lines
    assert "drifted sm/churn" not in drift.out

    change = change_of(plan_json(run), "cr/chat")
    assert change["change"]["actions"] == ["update"]
    assert [(d["path"], d["before"], d["after"]) for d in change["diff"]] == [
        ("config.temperature", 1.5, 0.7)
    ]
    assert run("apply", "-f", "dev.yaml", "--auto-approve").code == 0
    import dtp_crusoe

    record = dtp_crusoe.read_record(tmp_path / "cr", "chat")
    assert record is not None and record["temperature"] == 0.7
    assert run("plan", "-f", "dev.yaml", "--detailed-exitcode").code == 0


def test_a_sagemaker_instance_count_changed_behind_our_back_is_drift_and_an_update(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    edit_sagemaker_variant(tmp_path, CurrentInstanceCount=5, DesiredInstanceCount=5)
    drift = run("drift", "-f", "dev.yaml", "--json")
    assert drift.code == 0, drift.err
    deployments = json.loads(drift.out)["deployments"]
    (drifted,) = [d for d in deployments if d["status"] == "drifted"]
    assert drifted["address"] == "sm/churn"
    assert [(d["path"], d["before"], d["after"]) for d in drifted["diff"]] == [
        ("config.instance_count", 2, 5)
    ]

    plan = run("plan", "-f", "dev.yaml")
    assert plan.code == 0, plan.err
    lines = plan.out.splitlines()
    update = next(line for line in lines if "~ update sm/churn" in line)
    assert "changed on the target outside deployctl (config)" in update
    assert "      config.instance_count: 5 → 2" in lines
    assert run("apply", "-f", "dev.yaml", "--auto-approve").code == 0
    assert run("plan", "-f", "dev.yaml", "--detailed-exitcode").code == 0


def test_a_change_on_an_unmapped_key_is_not_seen(tmp_path: Path, run: Run, applied: Path) -> None:
    edit_crusoe(tmp_path, top_p=0.1)
    edit_sagemaker_variant(tmp_path, InstanceType="ml.c5.large")
    drift = run("drift", "-f", "dev.yaml", "--detailed-exitcode")
    assert (drift.code, drift.out.splitlines()[-1]) == (0, "No drift."), drift.out
    plan = run("plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert plan.code == 0, plan.out
    # Compared with the last apply only, which the manifest still matches: left as it is.
    import dtp_crusoe

    record = dtp_crusoe.read_record(tmp_path / "cr", "chat")
    assert record is not None and record["top_p"] == 0.1


def test_the_same_change_is_seen_once_the_key_is_mapped(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    edit_crusoe(tmp_path, top_p=0.1)
    fields = {**CRUSOE_FIELDS, "config.top_p": "top_p"}
    write_manifest(tmp_path / "dev.yaml", manifest_text(tmp_path, cr_fields=fields))
    change = change_of(plan_json(run), "cr/chat")
    assert change["change"]["actions"] == ["update"]
    assert [(d["path"], d["before"], d["after"]) for d in change["diff"]] == [
        ("config.top_p", 0.1, 0.9)
    ]


def test_a_manifest_change_of_a_mapped_key_is_an_update_naming_the_key(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    text = manifest_text(tmp_path, chat={"config": {"temperature": 0.2, "max_tokens": 2048}})
    write_manifest(tmp_path / "dev.yaml", text)
    change = change_of(plan_json(run), "cr/chat")
    assert change["change"]["actions"] == ["update"]
    assert sorted((d["path"], d["before"], d["after"]) for d in change["diff"]) == [
        ("config.temperature", 0.7, 0.2),
        ("config.top_p", 0.9, None),
    ]


def test_a_saved_plan_keeps_the_mappings_and_a_partial_config_survives_applying_it(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    edit_crusoe(tmp_path, max_tokens=16)
    edit_sagemaker_variant(tmp_path, CurrentInstanceCount=1)
    made = run("plan", "-f", "dev.yaml", "--out", "plan.json")
    assert made.code == 0, made.err
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert saved["target_fields"] == {"cr": CRUSOE_FIELDS, "sm": SAGEMAKER_FIELDS}
    assert [c["change"]["actions"] for c in saved["resource_changes"]] == [["update"]] * 2

    # Applying it reads the targets as planning did (with the mappings, not the defaults): the
    # live records are the same (SageMaker's per-request metadata aside), so it is not stale.
    result = run("apply", "plan.json")
    assert result.code == 0, result.out + result.err
    assert "2 updated" in result.out
    chat = live_of(tmp_path / "state" / "dev.json", "cr/chat")
    assert (chat["config"], chat["config_keys"]) == (
        {"temperature": 0.7, "max_tokens": 2048},
        ["max_tokens", "temperature"],
    )
    churn = live_of(tmp_path / "state" / "dev.json", "sm/churn")
    assert (churn["config"], churn["config_keys"]) == ({"instance_count": 2}, ["instance_count"])
    assert run("plan", "-f", "dev.yaml", "--detailed-exitcode").code == 0


def test_a_saved_plan_is_stale_when_a_mapped_key_changes_after_it_was_made(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    edit_crusoe(tmp_path, temperature=1.5)
    assert run("plan", "-f", "dev.yaml", "--out", "plan.json").code == 0
    edit_crusoe(tmp_path, temperature=1.9)
    stale = run("apply", "plan.json")
    assert stale.code == 1
    assert "cr/chat" in stale.err
    assert "Traceback" not in stale.err


def test_destroy_hands_sagemaker_archive_from_the_last_applied_config(
    tmp_path: Path, run: Run
) -> None:
    import dtp_sagemaker

    churn = {"config": {"instance_type": "ml.m5.large", "instance_count": 2, "archive": True}}
    write_manifest(tmp_path / "dev.yaml", manifest_text(tmp_path, churn=churn))
    assert run("apply", "-f", "dev.yaml", "--auto-approve").code == 0
    (model,) = dtp_sagemaker.models(tmp_path / "sm")
    destroyed = run("destroy", "-f", "dev.yaml", "--auto-approve")
    assert destroyed.code == 0, destroyed.out + destroyed.err
    assert dtp_sagemaker.read_record(tmp_path / "sm", "churn") is None
    assert dtp_sagemaker.models(tmp_path / "sm") == [model]  # archived, not deleted


def test_a_bad_mapping_is_one_located_line_each_and_nothing_is_contacted(
    tmp_path: Path, run: Run
) -> None:
    fields = {**CRUSOE_FIELDS, "model_uri": "deploy|yaml", "config.a.b": "a"}
    text = manifest_text(tmp_path, cr_fields=fields)
    write_manifest(tmp_path / "dev.yaml", text)
    line = text.splitlines()[5]
    assert line.startswith("    fields: {")
    path_at, key_at = line.index('"deploy|yaml"') + 1, line.index("config.a.b") + 1
    result = run("plan", "-f", "dev.yaml")
    assert result.code == 1
    assert result.err.splitlines() == [
        f"dev.yaml:6:{path_at}: fields of target 'cr': model_uri: 'deploy|yaml' is not a path; "
        f"a path is {PATH_RULE}",
        f"dev.yaml:6:{key_at}: fields of target 'cr': 'config.a.b' names no config key: "
        f"{CONFIG_FIELD_RULE}",
    ]
    assert not (tmp_path / "cr").exists()


def test_a_removed_key_that_crusoe_keeps_is_a_warning_and_planned_again(
    tmp_path: Path, run: Run, applied: Path
) -> None:
    # mlflow-crusoe merges an update's config into the old one: a removed key stays.
    text = manifest_text(tmp_path, chat={"config": {"temperature": 0.2, "top_p": 0.9}})
    write_manifest(tmp_path / "dev.yaml", text)
    result = run("apply", "-f", "dev.yaml", "--auto-approve")
    assert result.code == 0, result.out + result.err
    assert (
        "cr/chat: the target did not take config.max_tokens: removed, it still reports 2048"
        in result.err
    )
    change = change_of(plan_json(run), "cr/chat")
    assert change["change"]["actions"] == ["update"]
    assert [(d["path"], d["before"], d["after"]) for d in change["diff"]] == [
        ("config.max_tokens", 2048, None)
    ]
    strict = run("apply", "-f", "dev.yaml", "--auto-approve", "--strict")
    assert strict.code == 1, strict.out + strict.err
