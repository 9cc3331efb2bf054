"""Plugin exceptions become TargetError subclasses by their MLflow error code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support import require_mlflow

from deployctl.errors import (
    DeployctlError,
    DeploymentExistsError,
    DeploymentNotFoundError,
    TargetError,
    TargetRejectedError,
)
from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import TargetAdapter, error_class
from deployctl.targets.registry import load_target

Load = Callable[..., TargetAdapter]
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"replicas": 2})


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RESOURCE_DOES_NOT_EXIST", DeploymentNotFoundError),
        ("ENDPOINT_NOT_FOUND", DeploymentNotFoundError),
        ("NOT_FOUND", DeploymentNotFoundError),
        ("RESOURCE_ALREADY_EXISTS", DeploymentExistsError),
        ("INVALID_PARAMETER_VALUE", TargetRejectedError),
        ("BAD_REQUEST", TargetRejectedError),
        ("INTERNAL_ERROR", TargetError),
        (None, TargetError),
    ],
)
def test_each_mlflow_error_code_has_its_error_class(
    code: str | None, expected: type[TargetError]
) -> None:
    assert error_class(code) is expected


def test_the_error_classes_are_target_errors() -> None:
    for cls in (DeploymentNotFoundError, DeploymentExistsError, TargetRejectedError):
        assert issubclass(cls, TargetError) and issubclass(cls, DeployctlError)


def test_a_missing_deployment_is_a_not_found_error_naming_target_call_and_address(
    load: Load,
) -> None:
    adapter = load("mlflow2test", key="prod")
    with pytest.raises(DeploymentNotFoundError) as info:
        adapter.get("ghost")
    error = info.value
    assert (error.target, error.call, error.address) == ("prod", "get_deployment", "prod/ghost")
    assert error.not_found
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert str(error) == (
        "target 'prod', get_deployment for prod/ghost: PluginError: deployment ghost does not exist"
    )
    with pytest.raises(DeploymentNotFoundError):
        adapter.update("ghost", SPEC)


def test_creating_an_existing_deployment_is_an_exists_error(load: Load) -> None:
    adapter = load("mlflow2test", key="prod")
    adapter.create("churn", SPEC)
    with pytest.raises(DeploymentExistsError) as info:
        adapter.create("churn", SPEC)
    assert (info.value.call, info.value.address) == ("create_deployment", "prod/churn")
    assert not info.value.not_found
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"


@pytest.mark.parametrize(
    ("spec", "code", "text"),
    [
        (
            DeploymentSpec("models:/churn/3", None, {"replicas": "two"}),
            "INVALID_PARAMETER_VALUE",
            "config replicas must be a positive whole number, not 'two'",
        ),
        (DeploymentSpec("models:/churn/3", "onnx"), "BAD_REQUEST", "unsupported flavor 'onnx'"),
    ],
)
def test_a_value_the_target_rejects_is_a_rejected_error_pointing_at_target_help(
    load: Load, spec: DeploymentSpec, code: str, text: str
) -> None:
    adapter = load("mlflow2test", key="prod")
    with pytest.raises(TargetRejectedError) as info:
        adapter.create("churn", spec)
    message = str(info.value)
    assert message.startswith(
        f"target 'prod', create_deployment for prod/churn: PluginError: {text}"
    )
    assert "deployctl target-help mlflow2test" in message
    assert info.value.error_code == code
    assert not info.value.not_found


def test_an_exception_without_a_known_code_is_a_plain_target_error(load: Load) -> None:
    from dtp_common import write_faults

    adapter = load("mlflow2test", key="prod")
    write_faults(Path(adapter.uri.partition(":")[2]), {"fail": {"list_deployments": True}})
    with pytest.raises(TargetError) as info:
        adapter.list()
    assert type(info.value) is TargetError
    assert info.value.error_code is None


def test_not_found_without_a_code_stays_a_plain_target_error_marked_not_found(
    load: Load,
) -> None:
    # The seed raises ValueError("... not found"): informative, not a code to build on.
    with pytest.raises(TargetError) as info:
        load("seedtest").get("ghost")
    assert type(info.value) is TargetError
    assert info.value.not_found


def test_mlflow_exceptions_map_by_their_error_code(load: Load, tmp_path: Path) -> None:
    require_mlflow()
    adapter = load("mlflowtest", key="ml")
    with pytest.raises(DeploymentNotFoundError) as missing:
        adapter.get("ghost")
    assert "MlflowException: deployment ghost does not exist" in str(missing.value)
    adapter.create("churn", SPEC)
    with pytest.raises(DeploymentExistsError):
        adapter.create("churn", SPEC)

    # The local target raises MlflowException once MLflow is loaded, with the same codes.
    from mlflow.exceptions import MlflowException

    local = load_target(f"local:{tmp_path}", key="dev")
    with pytest.raises(TargetRejectedError) as rejected:
        local.create("bad name", DeploymentSpec("models:/m/1"))
    assert isinstance(rejected.value.cause, MlflowException)
    assert rejected.value.error_code == "INVALID_PARAMETER_VALUE"


def test_the_local_targets_errors_map_with_or_without_mlflow(tmp_path: Path) -> None:
    adapter = load_target(f"local:{tmp_path}", key="dev")
    adapter.create("churn", DeploymentSpec("models:/churn/3"))
    with pytest.raises(DeploymentExistsError):
        adapter.create("churn", DeploymentSpec("models:/churn/3"))
    with pytest.raises(DeploymentNotFoundError):
        adapter.get("ghost")
    with pytest.raises(TargetRejectedError):
        adapter.create("bad name", DeploymentSpec("models:/m/1"))


def test_errors_of_every_class_are_caught_as_target_errors(load: Load) -> None:
    adapter = load("mlflow2test")
    for call in (
        lambda: adapter.get("ghost"),
        lambda: adapter.create("x", DeploymentSpec("m:/1", "onnx")),
    ):
        with pytest.raises(TargetError):
            call()
