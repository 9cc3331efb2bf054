"""Pinning registry aliases at plan time, end to end through the CLI against a real MLflow model
registry (MLflow's file store): what was reviewed is what ships, and a moved alias is an update
that says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Registry
from support import Result, manifest, run_cli, write_manifest


def run(tmp_path: Path, registry: Registry, *args: str) -> Result:
    return run_cli(*args, cwd=tmp_path, env={"MLFLOW_TRACKING_URI": registry.uri})


def write(tmp_path: Path, model_uri: str, **extra: Any) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest({"churn": {"model_uri": model_uri, **extra}}))


def state_record(tmp_path: Path) -> dict[str, Any]:
    document = json.loads((tmp_path / "state" / "dev.json").read_text(encoding="utf-8"))
    (record,) = document["deployments"]
    found: dict[str, Any] = record
    return found


def live_model_uri(tmp_path: Path) -> str:
    record = json.loads(
        (tmp_path / ".deployctl" / "dev" / "deployments" / "churn.json").read_text("utf-8")
    )
    uri: str = record["model_uri"]
    return uri


def test_an_alias_is_planned_as_the_version_it_names_and_both_are_shown(
    tmp_path: Path, registry: Registry
) -> None:
    name = registry.model("pin-shown", versions=3, aliases={"champion": 2})
    write(tmp_path, f"models:/{name}@champion")
    result = run(tmp_path, registry, "plan", "-f", "dev.yaml")
    assert result.code == 0, result.err
    assert f"models:/{name}@champion → models:/{name}/2" in result.out
    as_json = run(tmp_path, registry, "plan", "-f", "dev.yaml", "--json")
    (change,) = json.loads(as_json.out)["resource_changes"]
    assert change["change"]["after"]["model_uri"] == f"models:/{name}/2"
    assert change["model_pin"] == {
        "source": f"models:/{name}@champion",
        "reference": "alias champion",
        "version": "2",
        "pinned_uri": f"models:/{name}/2",
    }


def test_a_saved_plan_ships_the_reviewed_version_even_when_the_alias_moved_since(
    tmp_path: Path, registry: Registry
) -> None:
    name = registry.model("pin-saved", versions=3, aliases={"champion": 1})
    write(tmp_path, f"models:/{name}@champion")
    assert run(tmp_path, registry, "plan", "-f", "dev.yaml", "--out", "plan.json").code == 0
    registry.move(name, "champion", 3)  # after the review, before the release
    applied = run(tmp_path, registry, "apply", "plan.json")
    assert applied.code == 0, applied.err
    assert live_model_uri(tmp_path) == f"models:/{name}/1"
    record = state_record(tmp_path)
    assert record["model_uri"] == f"models:/{name}/1"
    assert record["model_pin"]["source"] == f"models:/{name}@champion"
    assert record["model_pin"]["version"] == "1"


def test_when_the_alias_moves_the_next_plan_is_an_update_saying_so(
    tmp_path: Path, registry: Registry
) -> None:
    name = registry.model("pin-moved", versions=3, aliases={"champion": 1})
    write(tmp_path, f"models:/{name}@champion")
    assert run(tmp_path, registry, "apply", "-f", "dev.yaml", "--auto-approve").code == 0
    same = run(tmp_path, registry, "plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert same.code == 0, same.out + same.err
    registry.move(name, "champion", 2)
    moved = run(tmp_path, registry, "plan", "-f", "dev.yaml", "--json")
    (change,) = json.loads(moved.out)["resource_changes"]
    assert change["change"]["actions"] == ["update"]
    assert change["action_reason"] == "update_because_model_pin_moved"
    assert change["action_reason_text"] == "alias champion moved 1 → 2"
    assert [(d["path"], d["before"], d["after"]) for d in change["diff"]] == [
        ("model_uri", f"models:/{name}/1", f"models:/{name}/2")
    ]
    assert run(tmp_path, registry, "apply", "-f", "dev.yaml", "--auto-approve").code == 0
    assert live_model_uri(tmp_path) == f"models:/{name}/2"
    assert state_record(tmp_path)["model_pin"]["version"] == "2"


def test_latest_is_pinned_to_the_highest_version(tmp_path: Path, registry: Registry) -> None:
    name = registry.model("pin-latest", versions=4)
    write(tmp_path, f"models:/{name}/latest")
    result = run(tmp_path, registry, "plan", "-f", "dev.yaml")
    assert f"models:/{name}/latest → models:/{name}/4" in result.out


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("models:/pin-missing-model@champion", "no model 'pin-missing-model'"),
        ("models:/pin-no-alias@champoin", "has no alias 'champoin'"),
    ],
)
def test_an_unresolvable_uri_is_a_plan_error_naming_the_deployment_and_the_uri(
    tmp_path: Path, registry: Registry, uri: str, words: str
) -> None:
    if "pin-no-alias" in uri:
        registry.model("pin-no-alias", versions=1, aliases={"champion": 1})
    write(tmp_path, uri)
    result = run(tmp_path, registry, "plan", "-f", "dev.yaml")
    assert result.code == 1
    (line,) = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: local/churn: {uri}: ")
    assert words in line
    assert "Reading" not in result.err  # failed before any target was read
    assert "Traceback" not in result.err


def test_a_uri_that_names_a_version_is_deployed_as_written_without_a_registry(
    tmp_path: Path,
) -> None:
    write(tmp_path, "models:/churn/3")
    result = run_cli(
        "plan",
        "-f",
        "dev.yaml",
        "--json",
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
    )
    assert result.code == 0, result.err
    (change,) = json.loads(result.out)["resource_changes"]
    assert "model_pin" not in change


def test_import_records_the_version_an_alias_names_when_the_target_does_not_report_it(
    tmp_path: Path, registry: Registry, test_plugins: object
) -> None:
    from deployctl.model import DeploymentSpec
    from deployctl.targets.loading import load_target

    name = registry.model("pin-import", versions=2, aliases={"champion": 2})
    uri = f"pagedtest:{tmp_path / 'sm'}"  # SageMaker-like: reports no model_uri unmapped
    load_target(uri, key="sm").create("churn", DeploymentSpec(f"models:/{name}/2"))
    text = manifest(
        targets={
            "sm": {"uri": uri, "deployments": {"churn": {"model_uri": f"models:/{name}@champion"}}}
        }
    )
    write_manifest(tmp_path / "dev.yaml", text)
    result = run(tmp_path, registry, "import", "sm/churn", "-f", "dev.yaml")
    assert result.code == 0, result.err
    record = state_record(tmp_path)
    assert record["model_uri"] == f"models:/{name}/2"
    assert record["model_pin"]["source"] == f"models:/{name}@champion"
    again = run(tmp_path, registry, "plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
