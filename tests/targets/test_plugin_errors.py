"""Plugin exceptions become one TargetError: its subclass chosen by the MLflow error code, a
one-line message naming target, call and address, and "not found" read from codes, types and
text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_clients import SPEC, Lister, adapter_for, faults
from support import require_mlflow

from deployctl.errors import (
    DeployctlError,
    DeploymentExistsError,
    DeploymentNotFoundError,
    TargetError,
    TargetRejectedError,
)
from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target
from deployctl.targets.plugin_errors import (
    REFUSED,
    UNSURE,
    describe_exception,
    error_class,
    error_says_not_found,
    explicitly_not_found,
    retryable,
    says_not_found,
    transience,
)

Load = Callable[..., TargetAdapter]


# -- error classes by MLflow error code --


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


# -- what plugins raise, wrapped --


def test_a_seed_get_of_a_missing_name_is_a_not_found_target_error(load: Load) -> None:
    adapter = load("seedtest", key="dev")
    with pytest.raises(TargetError) as info:
        adapter.get("ghost")
    error = info.value
    assert (error.target, error.call, error.address) == ("dev", "get_deployment", "dev/ghost")
    assert error.not_found
    assert isinstance(error.cause, ValueError)
    assert (
        str(error)
        == "target 'dev', get_deployment for dev/ghost: ValueError: deployment ghost not found"
    )


def test_an_mlflow_error_code_marks_not_found(load: Load) -> None:
    require_mlflow()
    with pytest.raises(TargetError) as info:
        load("mlflowtest").get("ghost")
    assert info.value.not_found
    assert "MlflowException: deployment ghost does not exist" in str(info.value)


def test_a_botocore_style_error_marks_not_found(load: Load) -> None:
    adapter = load("pagedtest")
    with pytest.raises(TargetError) as info:
        adapter.delete("ghost")
    assert info.value.not_found
    assert info.value.call == "delete_deployment"
    assert "ClientError: An error occurred (ValidationException)" in str(info.value)


def test_a_conflict_is_not_marked_not_found(load: Load) -> None:
    adapter = load("seedtest")
    adapter.create("m", SPEC)
    with pytest.raises(TargetError) as info:
        adapter.create("m", SPEC)
    assert not info.value.not_found


def test_injected_failures_are_wrapped_with_the_address(load: Load) -> None:
    adapter = load("seedtest", key="dev")
    faults(adapter, fail={"create_deployment": ["m"], "list_deployments": True})
    with pytest.raises(
        TargetError, match="InjectedFault: injected failure: create_deployment m"
    ) as info:
        adapter.create("m", SPEC)
    assert info.value.address == "dev/m"
    with pytest.raises(TargetError) as listing:
        adapter.list()
    assert (listing.value.call, listing.value.address) == ("list_deployments", None)


def test_messages_are_one_line_and_truncated() -> None:
    class Noisy(Lister):
        def get_deployment(self, name: str) -> Any:
            raise RuntimeError("first line\n\n   second\tline " + "x" * 1000)

    with pytest.raises(TargetError) as info:
        adapter_for(Noisy()).get("m")
    message = str(info.value)
    assert "\n" not in message
    assert "RuntimeError: first line second line xxx" in message
    assert len(describe_exception(info.value.cause)) == 300  # type: ignore[arg-type]
    assert message.endswith("…")


def test_keyboard_interrupt_is_not_wrapped() -> None:
    class Interrupted(Lister):
        def list_deployments(self) -> Any:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapter_for(Interrupted()).list()


class Coded(Exception):
    def __init__(self, text: str = "", error_code: str | None = None, response: Any = None) -> None:
        super().__init__(text)
        self.error_code = error_code
        self.response = response


class HttpResponse:
    status_code = 404


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (KeyError("m"), True),
        (Coded("boom", "RESOURCE_DOES_NOT_EXIST"), True),
        (Coded("boom", "ENDPOINT_NOT_FOUND"), True),
        (Coded("boom", "NOT_FOUND"), True),
        (Coded("boom", "INTERNAL_ERROR"), False),
        (Coded("Deployment m already exists", "RESOURCE_ALREADY_EXISTS"), False),
        (ValueError("Model m not found"), True),
        (Exception("endpoint does not exist"), True),
        (Exception("HTTP 404 from server"), True),
        (Exception("no such deployment"), True),
        (Exception("listening on port 4040"), False),
        (Coded(response={"Error": {"Code": "ResourceNotFound", "Message": ""}}), True),
        (
            Coded(
                response={
                    "Error": {"Code": "ValidationException", "Message": "Could not find endpoint"}
                }
            ),
            True,
        ),
        (
            Coded(
                response={"Error": {"Code": "ValidationException", "Message": "Bad instance type"}}
            ),
            False,
        ),
        (Coded("Client Error", response=HttpResponse()), True),
        (RuntimeError("connection refused"), False),
        (Exception("Unable to get deployments with name m. Server returned status code 404"), True),
        (Exception("No deployment with name m found"), True),
        (Exception("the call took 404 ms"), False),
        (Coded("Deployment m not found", "TEMPORARILY_UNAVAILABLE"), False),
        (ConnectionError("host not found"), False),
        (PermissionError("no such right"), False),
        (ModuleNotFoundError("No module named 'x'"), False),
        (FileNotFoundError(2, "No such file or directory"), True),
    ],
)
def test_not_found_is_read_from_codes_types_and_text(exc: Exception, expected: bool) -> None:
    assert error_says_not_found(exc) is expected


# -- explicit or worded, transient or not --


def raised_while_handling(outer: Exception, inner: BaseException) -> Exception:
    try:
        raise inner
    except BaseException:
        try:
            raise outer  # the implicit context (__context__) is the point
        except Exception as exc:
            return exc


class Status:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


@pytest.mark.parametrize(
    ("exc", "explicit", "worded"),
    [
        (KeyError("m"), True, False),
        (Coded("gone", "RESOURCE_DOES_NOT_EXIST"), True, False),
        (Coded(response={"Error": {"Code": "ResourceNotFoundException"}}), True, False),
        (Coded("Client Error", response=Status(404)), True, False),
        (ValueError("deployment m not found"), False, True),
        (Coded("Could not find endpoint m", "INTERNAL_ERROR"), False, True),
        (Coded("deployment m not found", "INVALID_PARAMETER_VALUE"), False, False),
        (raised_while_handling(Coded("m not found"), TimeoutError()), False, False),
        (RuntimeError("internal error"), False, False),
    ],
)
def test_not_found_is_explicit_or_only_worded(exc: Exception, explicit: bool, worded: bool) -> None:
    assert explicitly_not_found(exc) is explicit
    assert says_not_found(exc) is worded
    assert error_says_not_found(exc) is (explicit or worded)


class EndpointConnectionError(Exception):
    """Named like botocore's: classes are recognised by name, botocore need not be imported."""


class ReadTimeoutError(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (Coded("busy", "TEMPORARILY_UNAVAILABLE"), REFUSED),
        (Coded("slow down", "REQUEST_LIMIT_EXCEEDED"), REFUSED),
        (Coded("quota", "RESOURCE_EXHAUSTED"), REFUSED),
        (Coded(response={"Error": {"Code": "ThrottlingException"}}), REFUSED),
        (Coded("Too Many Requests", response=Status(429)), REFUSED),
        (Coded("Service Unavailable", response=Status(503)), REFUSED),
        (Coded("Bad Gateway", response=Status(502)), UNSURE),
        (ConnectionRefusedError(), REFUSED),
        (EndpointConnectionError("Could not connect to the endpoint URL"), REFUSED),
        (ConnectionResetError(), UNSURE),
        (TimeoutError(), UNSURE),
        (ReadTimeoutError(), UNSURE),
        (
            raised_while_handling(Coded("error", "INTERNAL_ERROR"), ConnectionRefusedError()),
            REFUSED,
        ),
        (raised_while_handling(Coded("bad", "BAD_REQUEST"), ConnectionRefusedError()), None),
        (Coded("m already exists", "RESOURCE_ALREADY_EXISTS"), None),
        (Coded("bad value", "INVALID_PARAMETER_VALUE"), None),
        (Coded("Conflict", response=Status(409)), None),
        (KeyError("m"), None),
        (RuntimeError("boom"), None),
    ],
)
def test_transient_failures_are_refused_or_unsure(exc: Exception, kind: str | None) -> None:
    assert transience(exc) == kind
    assert retryable(exc, changes=False) is (kind is not None)
    assert retryable(exc, changes=True) is (kind == REFUSED)


def test_a_cause_chain_that_loops_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert transience(first) is None
