"""Lifecycle guards, adopt and import, end to end through the console script."""

from __future__ import annotations

import json
from pathlib import Path

from support import manifest, run_cli, write_manifest

from deployctl.targets.local import LocalDeploymentClient

BASE = """\
version: 1
environment: dev
variables:
  protect: true
targets:
  local:
    uri: local:.deployctl/dev
    defaults:
      lifecycle:
        prevent_destroy: ${{var.protect}}
    deployments:
      churn:
        model_uri: models:/churn/3
        flavor: {flavor}
        config: {{workers: 2, instance_count: 1}}
        lifecycle:
          ignore_changes: [config.instance_count]
          replace_on: [flavor]
"""


def write_base(tmp_path: Path, flavor: str = "python_function") -> None:
    write_manifest(tmp_path / "dev.yaml", BASE.format(flavor=flavor))


def client(tmp_path: Path) -> LocalDeploymentClient:
    return LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}")


def apply(tmp_path: Path, *args: str) -> None:
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", *args, cwd=tmp_path)
    assert result.code == 0, result.out + result.err


def test_prevent_destroy_survives_removal_from_the_manifest_until_turned_off(
    tmp_path: Path,
) -> None:
    write_base(tmp_path)
    apply(tmp_path)
    state = json.loads(run_cli("state", "pull", "-e", "dev", cwd=tmp_path).out)
    assert state["deployments"][0]["prevent_destroy"] is True
    write_manifest(tmp_path / "dev.yaml", manifest(targets={}))
    refused = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert refused.code == 1
    assert (
        "local/churn is protected by lifecycle.prevent_destroy (recorded in state)" in refused.err
    )
    assert run_cli("destroy", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 1
    # Turn it off in an applied manifest (a variable makes it per environment): state only.
    write_base(tmp_path)
    plan = run_cli("plan", "-f", "dev.yaml", "--var", "protect=false", cwd=tmp_path)
    assert "lifecycle.prevent_destroy becomes false (state only" in plan.out
    apply(tmp_path, "--var", "protect=false")
    write_manifest(tmp_path / "dev.yaml", manifest(targets={}))
    apply(tmp_path)
    assert client(tmp_path).list_deployments() == []


def test_ignored_changes_are_neither_planned_nor_drift(tmp_path: Path) -> None:
    write_base(tmp_path)
    apply(tmp_path)
    client(tmp_path).update_deployment("churn", config={"workers": 2, "instance_count": 9})
    plan = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert plan.code == 0, plan.out
    drift = run_cli("drift", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert drift.code == 0, drift.out
    # A real change still updates, and keeps the autoscaled instance_count.
    write_manifest(
        tmp_path / "dev.yaml", BASE.format(flavor="python_function").replace("churn/3", "churn/4")
    )
    apply(tmp_path)
    assert client(tmp_path).get_deployment("churn")["config"] == {"workers": 2, "instance_count": 9}


def test_replace_on_deletes_then_creates(tmp_path: Path) -> None:
    write_base(tmp_path)
    apply(tmp_path, "--var", "protect=false")
    client(tmp_path).update_deployment("churn", config={"workers": 2, "instance_count": 1})
    revision = client(tmp_path).get_deployment("churn")["revision"]
    assert revision == 2
    write_base(tmp_path, flavor="pytorch")
    plan = run_cli("plan", "-f", "dev.yaml", "--var", "protect=false", "--json", cwd=tmp_path)
    change = json.loads(plan.out)["resource_changes"][0]
    assert change["change"]["actions"] == ["delete", "create"]
    apply(tmp_path, "--var", "protect=false")
    record = client(tmp_path).get_deployment("churn")
    assert record["flavor"] == "pytorch"
    assert record["revision"] == 1  # a new deployment, not an update
    # Protected, the same change is refused.
    refused = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert refused.code == 0  # nothing to replace any more
    write_base(tmp_path, flavor="sklearn")
    refused = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert refused.code == 1
    assert "would replace it" in refused.err


def test_adopt_true_imports_during_apply(tmp_path: Path) -> None:
    client(tmp_path).create_deployment(
        "churn", "models:/churn/2", "python_function", {"workers": 1}
    )
    write_base(tmp_path)
    text = (
        (tmp_path / "dev.yaml")
        .read_text()
        .replace("      churn:\n", "      churn:\n        adopt: true\n")
    )
    (tmp_path / "dev.yaml").write_text(text)
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert plan.code == 0, plan.err
    assert "import local/churn" in plan.out
    assert 'model_uri: "models:/churn/2" → "models:/churn/3"' in plan.out
    apply(tmp_path)
    assert client(tmp_path).get_deployment("churn")["model_uri"] == "models:/churn/3"
    record = json.loads(run_cli("state", "show", "local/churn", "-e", "dev", cwd=tmp_path).out)
    assert record["previous"]["model_uri"] == "models:/churn/2"  # the adopted record
    again = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0


def test_import_command_adopts_without_touching_the_target(tmp_path: Path) -> None:
    client(tmp_path).create_deployment(
        "churn", "models:/churn/2", "python_function", {"workers": 1}
    )
    write_base(tmp_path)
    refused = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert "deployctl import local/churn -f MANIFEST" in refused.err
    imported = run_cli("import", "local/churn", "-f", "dev.yaml", cwd=tmp_path)
    assert imported.code == 0, imported.err
    assert "Imported local/churn" in imported.out
    assert client(tmp_path).get_deployment("churn")["revision"] == 1
    record = json.loads(run_cli("state", "show", "local/churn", "-e", "dev", cwd=tmp_path).out)
    assert record["model_uri"] == "models:/churn/2"
    assert record["prevent_destroy"] is True
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert "~ update local/churn" in plan.out
    twice = run_cli("import", "local/churn", "-f", "dev.yaml", cwd=tmp_path)
    assert twice.code == 1 and "already managed" in twice.err
    missing = run_cli("import", "local/nope", "-f", "dev.yaml", cwd=tmp_path)
    assert missing.code == 1 and "local/nope is not in dev.yaml" in missing.err
    client(tmp_path).delete_deployment("churn")
    run_cli("state", "rm", "local/churn", "-e", "dev", cwd=tmp_path)
    gone = run_cli("import", "local/churn", "-f", "dev.yaml", cwd=tmp_path)
    assert gone.code == 1 and "was not found on target 'local'" in gone.err
