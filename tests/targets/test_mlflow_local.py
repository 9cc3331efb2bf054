"""The local target as an MLflow plugin: MLflow's own loader, client API and CLI drive it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pyfunc_model import save_model
from support import in_ci, require_mlflow

from deployctl.targets.local import LocalDeploymentClient


@pytest.fixture(autouse=True)
def entry_point_is_current() -> None:
    require_mlflow()
    found = [ep.value for ep in metadata.entry_points(group="mlflow.deployments", name="local")]
    if found != ["deployctl.targets.mlflow_local"]:
        message = f"deployctl's installed entry points are stale ({found}): pip install -e ."
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


def mlflow_deployments() -> ModuleType:
    import mlflow.deployments

    return mlflow.deployments


def test_mlflow_finds_exactly_one_client_class_and_the_module_functions() -> None:
    from mlflow.deployments import BaseDeploymentClient

    get_deploy_client: Any = mlflow_deployments().get_deploy_client
    from deployctl.targets.mlflow_local import MlflowLocalDeploymentClient

    client = get_deploy_client("local:/tmp/deployctl-never-written")
    assert type(client) is MlflowLocalDeploymentClient
    assert isinstance(client, BaseDeploymentClient)
    assert isinstance(client, LocalDeploymentClient)


def test_mlflow_client_api_shares_records_with_the_local_target(tmp_path: Path) -> None:
    from mlflow.exceptions import MlflowException

    get_deploy_client: Any = mlflow_deployments().get_deploy_client

    uri = f"local:{tmp_path}"
    client = get_deploy_client(uri)
    client.create_deployment("churn", "models:/churn/1", config={"replicas": "2"})
    assert LocalDeploymentClient(uri).get_deployment("churn")["config"] == {"replicas": "2"}
    with pytest.raises(MlflowException) as info:
        client.create_deployment("churn", "models:/churn/1")
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.delete_deployment("churn")
    with pytest.raises(MlflowException) as missing:
        client.get_deployment("churn")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def mlflow_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlflow", "deployments", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_mlflow_cli_creates_lists_gets_updates_and_deletes(tmp_path: Path) -> None:
    target = f"local:{tmp_path}"
    created = mlflow_cli(
        "create", "-t", target, "--name", "churn", "-m", "models:/c/1", "-C", "a=1"
    )
    assert created.returncode == 0, created.stderr
    listed = mlflow_cli("list", "-t", target)
    assert listed.returncode == 0, listed.stderr
    assert "'name': 'churn'" in listed.stdout
    updated = mlflow_cli("update", "-t", target, "--name", "churn", "-m", "models:/c/2")
    assert updated.returncode == 0, updated.stderr
    got = mlflow_cli("get", "-t", target, "--name", "churn")
    assert got.returncode == 0, got.stderr
    assert "model_uri: models:/c/2" in got.stdout
    assert "revision: 2" in got.stdout
    record = LocalDeploymentClient(target).get_deployment("churn")
    assert record["config"] == {"a": "1"}  # MLflow's -C values arrive as strings
    deleted = mlflow_cli("delete", "-t", target, "--name", "churn")
    assert deleted.returncode == 0, deleted.stderr
    assert LocalDeploymentClient(target).list_deployments() == []
    help_text = mlflow_cli("help", "-t", "local")
    assert "local:/absolute/path" in help_text.stdout


def test_mlflow_cli_predicts_with_a_real_model(tmp_path: Path) -> None:
    model = save_model(tmp_path / "double", 2)
    target = f"local:{tmp_path / 'target'}"
    assert mlflow_cli("create", "-t", target, "--name", "m", "-m", model).returncode == 0
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"x": [1, 2]}))
    predicted = mlflow_cli("predict", "-t", target, "--name", "m", "-I", str(inputs))
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout.strip().splitlines()[-1]) == {
        "predictions": [{"x": 1, "y": 2}, {"x": 2, "y": 4}]
    }
