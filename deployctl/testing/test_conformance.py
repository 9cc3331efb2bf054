"""deployctl's conformance checks for a deployment target, one test per check.

Run them against a target with ``pytest --pyargs deployctl.testing --deployctl-target URI``.
Each check creates, reads or removes throw-away deployments (``dctl-conf-<8 hex>-<purpose>``)
through the target's own plugin client, bound the way deployctl binds its calls, and each
failure says what the plugin did and what deployctl needs instead. The deployments are deleted
at the end of the run; one that cannot be is reported as a ``LeftoverDeploymentWarning``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn

import pytest

from deployctl.errors import DeployctlError
from deployctl.testing.kit import (
    RESOURCE_DOES_NOT_EXIST,
    ConformanceTarget,
    LeftoverDeploymentWarning,
    attempt,
    describe_failure,
    describe_raised,
    describe_value,
    model_hint,
)
from deployctl.testing.options import UPDATE_MODEL_URI_OPTION, KitOptions, kit_options

CREATE_CONTRACT = (
    "MLflow's BaseDeploymentClient.create_deployment must return it, and `mlflow deployments "
    "create` reads deployment['name'] from it"
)


@dataclass(frozen=True)
class Loading:
    """The target of this run, or why deployctl could not load it."""

    options: KitOptions
    target: ConformanceTarget | None = None
    error: Exception | None = None


@pytest.fixture(scope="module")
def loading(request: pytest.FixtureRequest) -> Iterator[Loading]:
    """The target loaded as deployctl loads it; its throw-away deployments deleted afterwards."""
    options = kit_options(request.config)
    try:
        target = ConformanceTarget.load(options)
    except Exception as exc:
        yield Loading(options, error=exc)
        return
    try:
        yield Loading(options, target)
    finally:
        for problem in target.cleanup():
            warnings.warn(LeftoverDeploymentWarning(problem), stacklevel=1)


@pytest.fixture
def target(loading: Loading) -> ConformanceTarget:
    """The loaded target; a check that needs one is skipped when it did not load."""
    if loading.target is None:
        pytest.skip(f"cannot check: the target did not load ({loading.error})")
    return loading.target


def fail(message: str) -> NoReturn:
    """Fail the check with ``message`` alone: the kit's own traceback would only distract."""
    pytest.fail(message, pytrace=False)


def existing(target: ConformanceTarget) -> str:
    """The name of the run's shared deployment; skips the check when it could not be created."""
    name, made = target.created()
    if made.error is not None:
        pytest.skip(
            f"cannot check: create_deployment({name!r}) raised {describe_raised(made.error)} "
            "(see test_create_returns_a_dict_with_name)"
        )
    return name


def test_the_target_loads(loading: Loading) -> None:
    error = loading.error
    if isinstance(error, DeployctlError):
        fail(f"deployctl cannot load the target {loading.options.target_uri!r}: {error}")
    if error is not None:
        fail(
            f"loading the target {loading.options.target_uri!r} raised "
            f"{describe_raised(error)}; deployctl needs the plugin module to import and its "
            "client class to be constructed from the target URI"
        )


def test_create_returns_a_dict_with_name(target: ConformanceTarget) -> None:
    name, made = target.created()
    if made.error is not None:
        fail(
            f"create_deployment({name!r}, {target.options.model_uri!r}) raised "
            f"{describe_raised(made.error)}; deployctl needs create to make the deployment and "
            f"return a dict with at least 'name' ({model_hint(target.options)})"
        )
    result = made.value
    if not isinstance(result, Mapping):
        fail(
            f"create_deployment returned {describe_value(result)}; deployctl needs a dict with at "
            f"least 'name' ({CREATE_CONTRACT}): return the new deployment's record"
        )
    if "name" not in result:
        keys = ", ".join(sorted(map(str, result))) or "none"
        fail(
            f"create_deployment returned a dict without 'name' (its keys: {keys}); deployctl "
            f"needs a dict with at least 'name' ({CREATE_CONTRACT}): add 'name': {name!r}"
        )
    if result["name"] != name:
        fail(
            f"create_deployment returned name {result['name']!r} for the deployment it was asked "
            f"to create as {name!r}; deployctl needs the name it asked for: it finds the "
            "deployment by that name from then on"
        )


def test_get_returns_a_created_deployment(target: ConformanceTarget) -> None:
    name = existing(target)
    got = attempt(functools.partial(target.get, name))
    if got.error is not None:
        fail(
            f"get_deployment({name!r}) raised {describe_raised(got.error)} for a deployment "
            "create_deployment had made; deployctl needs get to return the record of every "
            "deployment that exists: its refresh takes a raise for 'absent' and would plan to "
            "create the deployment again"
        )
    if not isinstance(got.value, Mapping):
        fail(
            f"get_deployment({name!r}) returned {describe_value(got.value)}; deployctl needs a "
            "dict: it reads the deployment's model_uri, flavor, config and status from it"
        )


def test_get_of_a_missing_name_raises_resource_does_not_exist(target: ConformanceTarget) -> None:
    name = target.missing_name()
    got = attempt(functools.partial(target.get, name))
    if got.error is None:
        fail(
            f"get_deployment({name!r}) of a deployment that does not exist returned "
            f"{describe_value(got.value)} instead of raising; deployctl needs "
            f"MlflowException(..., error_code={RESOURCE_DOES_NOT_EXIST}): a get that returns "
            "makes deployctl believe the deployment exists"
        )
    if getattr(got.error, "error_code", None) != RESOURCE_DOES_NOT_EXIST:
        fail(
            f"get_deployment({name!r}) of a deployment that does not exist raised "
            f"{describe_raised(got.error)}; deployctl needs "
            f"MlflowException(..., error_code={RESOURCE_DOES_NOT_EXIST}) to tell 'absent' from "
            "'broken': raise it when the name does not exist, and other errors only for real "
            "failures"
        )


def test_create_of_an_existing_name_raises(target: ConformanceTarget) -> None:
    name = existing(target)
    again = attempt(functools.partial(target.create, name))
    if again.error is None:
        fail(
            f"create_deployment({name!r}) of a name that already exists returned "
            f"{describe_value(again.value)} instead of raising; deployctl needs it to raise "
            "(MlflowException(..., error_code=RESOURCE_ALREADY_EXISTS), as MLflow documents), so "
            "that a deployment made outside deployctl is never silently replaced"
        )


def test_delete_is_idempotent(target: ConformanceTarget) -> None:
    name = target.name("delete")
    made = attempt(functools.partial(target.create, name))
    if made.error is not None:
        pytest.skip(
            f"cannot check: create_deployment({name!r}) raised {describe_raised(made.error)} "
            "(see test_create_returns_a_dict_with_name)"
        )
    first = attempt(functools.partial(target.delete, name))
    if first.error is not None:
        fail(
            f"delete_deployment({name!r}) of an existing deployment raised "
            f"{describe_raised(first.error)}; deployctl needs delete to remove the deployment"
        )
    second = attempt(functools.partial(target.delete, name))
    if second.error is not None:
        fail(
            f"delete_deployment({name!r}) of a deployment that was already deleted raised "
            f"{describe_raised(second.error)}; deployctl needs delete to be idempotent, as MLflow "
            "documents: return normally when the deployment does not exist, so that a destroy "
            "that is retried, or that races with another delete, can finish"
        )


def test_list_includes_what_was_created(target: ConformanceTarget) -> None:
    name = existing(target)
    listed = attempt(target.list_deployments)
    if listed.error is not None:
        fail(
            f"{describe_failure('list_deployments', listed.error)}; deployctl needs a list of "
            "dicts with 'name' (or pages {'deployments': [...], 'next_page_token': ...}): it "
            "cannot plan without the list"
        )
    names = sorted(record.name for record in listed.value)
    if name not in names:
        shown = ", ".join(repr(n) for n in names[:10]) + (", …" if len(names) > 10 else "")
        fail(
            f"list_deployments did not report {name!r}, which create_deployment had made (it "
            f"reported {len(names)} deployment(s){': ' + shown if names else ''}); deployctl "
            "needs the list to include every deployment (a long list may come in pages with "
            "next_page_token, asked for through a page_token or pagination_args parameter): it "
            "finds deployments the manifest does not name only through the list"
        )


def test_update_changes_what_get_reports(target: ConformanceTarget) -> None:
    name = existing(target)
    new_model = target.options.update_model_uri
    before = attempt(functools.partial(target.get, name))
    if before.error is not None:
        pytest.skip(
            f"cannot check: get_deployment({name!r}) raised {describe_raised(before.error)} "
            "(see test_get_returns_a_created_deployment)"
        )
    updated = attempt(functools.partial(target.update, name, new_model))
    if updated.error is not None:
        fail(
            f"{describe_failure('update_deployment', updated.error)} when asked to switch "
            f"{name!r} to model_uri {new_model!r}; deployctl needs update to change an existing "
            f"deployment in place (a target that loads the model needs a real second model: "
            f"pass {UPDATE_MODEL_URI_OPTION} models:/NAME/VERSION)"
        )
    after = attempt(functools.partial(target.get, name))
    if after.error is not None:
        fail(
            f"after update_deployment returned, get_deployment({name!r}) raised "
            f"{describe_raised(after.error)}; deployctl needs get to return the updated "
            "deployment: it reads it back right after every update"
        )
    was = target.record(name, before.value).model_uri
    now = target.record(name, after.value).model_uri
    if now is None:
        where = ", ".join(target.adapter.record_shape.model_uri)
        pytest.skip(
            f"update_deployment succeeded, but get_deployment reports no model_uri (deployctl "
            f"reads it from {where}), so there is no change to see; deployctl then trusts what "
            "it last applied and cannot notice changes made behind its back"
        )
    if now == was:
        fail(
            f"update_deployment({name!r}, model_uri={new_model!r}) returned, but get_deployment "
            f"still reports model_uri {now!r}; deployctl needs get to report the change once "
            "update returns (MLflow's update blocks until it is done): deployctl records what "
            "get reports right after an update, so it would record a change the target did not "
            "make"
        )
