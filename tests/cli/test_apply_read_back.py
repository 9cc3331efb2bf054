"""Read-back after every change, end to end through the CLI: the fake of mlflow-torchserve
reports success for an update of ``model_uri`` and ignores it; ``apply`` says so (and fails with
``--strict``), and the next plan plans the update again instead of claiming convergence."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from support import require_mlflow, run_cli, write_manifest

WARNING = (
    "ts/churn: the target did not take model_uri: sent models:/churn/2, it reports models:/churn/1"
)


@pytest.fixture(autouse=True)
def _plugins(test_plugins: ModuleType) -> None:
    require_mlflow()


def torchserve(tmp_path: Path, version: int) -> None:
    """One torchserve target ``ts`` whose records' JSON text gives the model URI."""
    text = f"""\
version: 1
environment: dev
targets:
  ts:
    uri: torchservetest:{tmp_path / "ts"}
    fields: {{model_uri: "deploy|json.0.modelUrl"}}
    deployments:
      churn:
        model_uri: models:/churn/{version}
        config: {{handler: churn_handler.py}}
"""
    write_manifest(tmp_path / "dev.yaml", text)


def cli(tmp_path: Path, *args: str, code: int = 0) -> tuple[str, str]:
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == code, result.out + result.err
    return result.out, result.err


def ignored_update(tmp_path: Path) -> None:
    """Churn created at version 1, and the manifest asking for version 2."""
    torchserve(tmp_path, 1)
    cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve")
    torchserve(tmp_path, 2)


def recorded(tmp_path: Path) -> dict[str, object]:
    state = json.loads((tmp_path / "state" / "dev.json").read_text(encoding="utf-8"))
    [record] = state["deployments"]
    assert isinstance(record, dict)
    return record


def test_an_ignored_update_is_a_warning_and_the_next_plan_shows_it_again(tmp_path: Path) -> None:
    ignored_update(tmp_path)
    out, err = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve")
    assert f"Warning: {WARNING}" in err
    assert "ts/churn: the target did not take model_uri" in out  # in the results table too
    assert "Apply complete! 0 created, 1 updated" in out
    assert recorded(tmp_path)["model_uri"] == "models:/churn/1"
    plan, _ = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode", code=2)
    assert "~ update ts/churn" in plan
    assert 'model_uri: "models:/churn/1" → "models:/churn/2"' in plan
    assert "Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged." in plan


def test_strict_fails_the_apply_and_the_state_records_what_the_target_reports(
    tmp_path: Path,
) -> None:
    ignored_update(tmp_path)
    out, _ = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", "--strict", code=1)
    assert "FAILED" in out
    assert "the target did not take model_uri: sent models:/churn/2, it reports" in out
    assert "Apply failed! 0 created, 0 updated, 0 deleted, 1 failed (environment dev)." in out
    assert recorded(tmp_path)["model_uri"] == "models:/churn/1"


def test_strict_applies_to_a_saved_plan_too(tmp_path: Path) -> None:
    ignored_update(tmp_path)
    cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "churn.plan")
    out, _ = cli(tmp_path, "apply", "churn.plan", "--strict", code=1)
    assert "Apply failed!" in out


def test_the_json_result_carries_the_warning(tmp_path: Path) -> None:
    ignored_update(tmp_path)
    out, _ = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    [complete] = [e for e in events if e["type"] == "apply_complete"]
    assert complete["warnings"] == [WARNING]
    assert complete["@level"] == "warn"


def test_a_target_that_takes_every_field_converges_without_a_warning(tmp_path: Path) -> None:
    torchserve(tmp_path, 1)
    _, err = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", "--strict")
    assert "did not take" not in err
    plan, _ = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert "No changes." in plan


def test_a_create_that_returns_the_whole_record_is_not_read_back(tmp_path: Path) -> None:
    from dtp_common import read_calls

    text = f"""\
version: 1
environment: dev
targets:
  ml:
    uri: mlflowtest:{tmp_path / "ml"}
    deployments:
      churn: {{model_uri: "models:/churn/1", config: {{workers: 2}}}}
"""
    write_manifest(tmp_path / "dev.yaml", text)
    cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", "--strict")
    methods = [c["method"] for c in read_calls(tmp_path / "ml")]
    assert methods[methods.index("create_deployment") :] == ["create_deployment"]
    assert recorded(tmp_path)["live"]["model_uri"] == "models:/churn/1"  # type: ignore[index]
