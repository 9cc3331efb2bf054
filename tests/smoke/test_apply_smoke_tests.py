"""Smoke tests and rollback during apply, end to end: real pyfunc models (examples/models) served
by the local target's predict, through the CLI in-process. After every outcome, what is live
and what state records agree."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support import REPO, Result, run_cli, write_manifest

MODELS = REPO / "examples" / "models"
SAMPLE = REPO / "examples" / "data" / "churn_sample.csv"

RAISING_MODEL = """
import mlflow
from mlflow.pyfunc import PythonModel


class Raising(PythonModel):
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):
        raise ValueError("the model is broken")


mlflow.models.set_model(Raising())
"""


@pytest.fixture(autouse=True)
def _mlflow() -> None:
    from support import require_mlflow

    require_mlflow()


def write(tmp_path: Path, model: str, **deployment: Any) -> None:
    smoke = deployment.pop(
        "smoke_test", {"input": "sample.csv", "expect": {"rows": 3, "columns": ["prediction"]}}
    )
    fields = {"model_uri": model, "flavor": "python_function", **deployment}
    if smoke is not None:
        fields["smoke_test"] = smoke
    text = json.dumps(
        {
            "version": 1,
            "environment": "dev",
            "targets": {"local": {"uri": "local:.deployctl/dev", "deployments": {"churn": fields}}},
        }
    )
    write_manifest(tmp_path / "dev.yaml", text)


def apply(tmp_path: Path, *extra: str) -> Result:
    return run_cli("apply", "-f", "dev.yaml", "--auto-approve", *extra, cwd=tmp_path)


def live(tmp_path: Path) -> dict[str, Any] | None:
    path = tmp_path / ".deployctl" / "dev" / "deployments" / "churn.json"
    if not path.exists():
        return None
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


def recorded(tmp_path: Path) -> dict[str, Any] | None:
    path = tmp_path / "state" / "dev.json"
    if not path.exists():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    records = [r for r in document["deployments"] if r["name"] == "churn"]
    return records[0] if records else None


def agree(tmp_path: Path) -> str | None:
    """The model live and recorded (they must be the same), or None when neither has it."""
    now, record = live(tmp_path), recorded(tmp_path)
    assert (now is None) == (record is None), (now, record)
    if now is None or record is None:
        return None
    assert now["model_uri"] == record["model_uri"]
    uri: str = now["model_uri"]
    return uri


@pytest.fixture
def models(tmp_path: Path) -> dict[str, str]:
    """The example models, and one whose predict raises, by name -> absolute path."""
    shutil.copy(SAMPLE, tmp_path / "sample.csv")
    found = {name: str(MODELS / f"churn-{name}") for name in ("v1", "v2", "broken")}
    import mlflow.pyfunc

    code = tmp_path / "raising.py"
    code.write_text(RAISING_MODEL, encoding="utf-8")
    mlflow.pyfunc.save_model(str(tmp_path / "raising"), python_model=str(code))
    found["raising"] = str(tmp_path / "raising")
    return found


def test_a_passing_smoke_test_is_reported_in_the_result(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["v1"])
    result = apply(tmp_path)
    assert result.code == 0, result.out + result.err
    assert "smoke test passed" in result.out + result.err
    assert agree(tmp_path) == models["v1"]


def test_a_failed_update_is_rolled_back_to_the_previous_version(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["v1"])
    assert apply(tmp_path).code == 0
    write(tmp_path, models["broken"])
    result = apply(tmp_path)
    assert result.code == 1, result.out + result.err
    text = " ".join((result.out + result.err).split())
    assert "smoke test failed: expected columns [prediction], got [score]" in text
    assert f"rolled back: back to {models['v1']}" in text
    assert agree(tmp_path) == models["v1"]
    # The manifest still asks for the broken model: the next plan shows that update again.
    plan = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert plan.code == 2


def test_a_model_that_raises_is_rolled_back_and_the_reason_names_the_exception(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["v1"])
    assert apply(tmp_path).code == 0
    write(tmp_path, models["raising"])
    result = apply(tmp_path, "--json")
    assert result.code == 1
    (errored,) = [
        e for e in map(json.loads, result.out.splitlines()) if e["type"] == "apply_errored"
    ]
    assert errored["error"].startswith("smoke test failed: predict raised ValueError")
    assert "the model is broken" in errored["error"]
    assert errored["note"] == f"rolled back: back to {models['v1']}"
    assert agree(tmp_path) == models["v1"]


def test_a_failed_create_is_rolled_back_by_deleting_the_new_deployment(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["broken"])
    result = apply(tmp_path)
    assert result.code == 1
    assert "rolled back: the new deployment was deleted" in " ".join(result.err.split()) + " ".join(
        result.out.split()
    )
    assert agree(tmp_path) is None


def test_rollback_never_leaves_the_failed_version_deployed_and_recorded(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["v1"], rollback="never")
    assert apply(tmp_path).code == 0
    write(tmp_path, models["broken"], rollback="never")
    result = apply(tmp_path)
    assert result.code == 1
    assert "not rolled back (rollback: never)" in " ".join((result.out + result.err).split())
    assert agree(tmp_path) == models["broken"]


def test_skip_smoke_tests_deploys_without_testing_and_says_so(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["broken"])
    result = apply(tmp_path, "--skip-smoke-tests", "--json")
    assert result.code == 0, result.out + result.err
    (complete,) = [
        e for e in map(json.loads, result.out.splitlines()) if e["type"] == "apply_complete"
    ]
    assert "smoke test skipped (--skip-smoke-tests)" in complete["note"]
    assert agree(tmp_path) == models["broken"]


def test_an_unreadable_input_fails_the_action_before_anything_changes(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["v1"], smoke_test={"input": "missing.csv"})
    result = apply(tmp_path)
    assert result.code == 1
    text = " ".join((result.out + result.err).split())
    assert "smoke test input:" in text and "missing.csv" in text
    assert "nothing was changed" in text
    assert agree(tmp_path) is None


def test_a_saved_plan_carries_the_smoke_test_and_its_input_path(
    tmp_path: Path, models: dict[str, str]
) -> None:
    write(tmp_path, models["broken"], smoke_test={"input": "sample.csv", "expect": {"rows": 3}})
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    (change,) = json.loads((tmp_path / "plan.json").read_text("utf-8"))["resource_changes"]
    assert change["smoke_test"] == {
        "input": str(tmp_path / "sample.csv"),
        "expect": {"rows": 3},
        "rollback": "auto",
    }
    result = run_cli("apply", "plan.json", cwd=tmp_path)
    assert result.code == 0, result.out + result.err  # 3 rows: the broken model passes this
    assert agree(tmp_path) == models["broken"]
