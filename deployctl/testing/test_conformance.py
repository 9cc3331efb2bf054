"""deployctl's conformance checks for a deployment target, one test per check.

Run them against a target with ``pytest --pyargs deployctl.testing --deployctl-target URI``.
Each check creates, reads or removes throw-away deployments (``dctl-conf-<8 hex>-<purpose>``)
through the target's own plugin client, bound the way deployctl binds its calls, and reads
records through the run's field mapping (``--deployctl-fields``). Each failure is one paragraph:
what the plugin did, the MLflow contract the check enforces (quoted from
``mlflow/deployments/base.py``), and what deployctl does about it. The deployments are deleted
at the end of the run; one that cannot be is reported as a ``LeftoverDeploymentWarning``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, NoReturn

import pytest

from deployctl.errors import DeployctlError
from deployctl.model.live import LiveRecord
from deployctl.targets.plugin_errors import error_says_not_found, not_found_evidence
from deployctl.testing.kit import (
    RESOURCE_DOES_NOT_EXIST,
    ConformanceTarget,
    LeftoverDeploymentWarning,
    attempt,
    describe_failure,
    describe_raised,
    describe_value,
    is_record_shape_error,
    model_hint,
    preview,
    refuses_updates,
)
from deployctl.testing.options import (
    FIELDS_OPTION,
    UPDATE_CONFIG_OPTION,
    UPDATE_MODEL_URI_OPTION,
    KitOptions,
    kit_options,
)

# What mlflow/deployments/base.py documents for each method, quoted in the failure messages.
CONTRACT = "MLflow's contract (mlflow/deployments/base.py)"
LOAD_CONTRACT = (
    f'{CONTRACT}: a plugin module implements "Exactly one client class subclassed from '
    'BaseDeploymentClient", run_local and target_help, and the client is constructed with the '
    "target URI alone"
)
CREATE_CONTRACT = (
    f'{CONTRACT}: create_deployment returns a "Dict corresponding to created deployment, which '
    "must contain the 'name' key\" (`mlflow deployments create` prints deployment['name'])"
)
CREATE_BLOCKS_CONTRACT = (
    f"{CONTRACT}: create_deployment \"should block until deployment completes (i.e. until it's "
    'possible to perform inference with the deployment)"'
)
CONFLICT_CONTRACT = (
    f'{CONTRACT}: "If another deployment exists with the same name", create_deployment '
    '"raises a MlflowException"'
)
GET_CONTRACT = (
    f'{CONTRACT}: get_deployment returns "A dict corresponding to the retrieved deployment", '
    '"guaranteed to contain a \'name\' key"; "The other fields of the returned dictionary and '
    'their types may vary across targets"'
)
MISSING_CONTRACT = (
    f'{CONTRACT}: get_deployment raises "a MlflowException or an HTTPError for remote '
    "deployments if no deployment exists with the provided ID\", and MLflow's error codes say "
    f"which failure an MlflowException is: error_code={RESOURCE_DOES_NOT_EXIST} for a missing one"
)
DELETE_CONTRACT = (
    f'{CONTRACT}: "Deletion should be idempotent (i.e. deletion should not fail if retried on '
    'a non-existent deployment)"'
)
LIST_CONTRACT = (
    f'{CONTRACT}: list_deployments returns "an unpaginated list of all deployments" (or '
    "pages {'deployments': [...], 'next_page_token': ...} asked for through pagination_args), "
    "and \"Each dict is guaranteed to contain a 'name' key\""
)
UPDATE_CONTRACT = (
    f'{CONTRACT}: update_deployment changes "the URI of the model [...] and/or any '
    'target-specific attributes of the deployment (via `config`)" and "should block until '
    "deployment completes (i.e. until it's possible to perform inference with the updated "
    'deployment)"'
)
REPLACE_FIX = (
    "set `update: replace` on the target in the manifest, and deployctl plans every update "
    "there as a delete and a create (the deployment is down in between)"
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
    uri = loading.options.target_uri
    if isinstance(error, DeployctlError):
        fail(
            f"deployctl cannot load the target {uri!r}: {error}; {LOAD_CONTRACT}; `deployctl "
            "plan` stops with this same error for every manifest that uses the target"
        )
    if error is not None:
        fail(
            f"loading the target {uri!r} raised {describe_raised(error)}; {LOAD_CONTRACT}; "
            "deployctl imports the plugin module and constructs its client this way for every "
            "plan, apply and drift, so none of them can run against this target"
        )


def test_create_returns_a_dict_with_name(target: ConformanceTarget) -> None:
    name, made = target.created()
    if made.error is not None:
        fail(
            f"create_deployment({name!r}, {target.options.model_uri!r}) raised "
            f"{describe_raised(made.error)}; {CREATE_BLOCKS_CONTRACT}; deployctl calls it for "
            "every create it plans, and an apply whose create raises fails (deployctl then asks "
            f"get_deployment whether it was made anyway) ({model_hint(target.options)})"
        )
    result = made.value
    if not isinstance(result, Mapping):
        fail(
            f"create_deployment returned {describe_value(result)}; {CREATE_CONTRACT}; deployctl "
            "does not rely on what create returns (it finds the deployment by the name it asked "
            "for), but MLflow's own CLI does: return the new deployment's record"
        )
    if "name" not in result:
        keys = ", ".join(sorted(map(str, result))) or "none"
        fail(
            f"create_deployment returned a dict without 'name' (its keys: {keys}); "
            f"{CREATE_CONTRACT}; deployctl does not rely on that name (it finds the deployment "
            f"by the name it asked for), but MLflow's own CLI does: add 'name': {name!r}"
        )
    if result["name"] != name:
        fail(
            f"create_deployment returned name {result['name']!r} for the deployment it was asked "
            f"to create as {name!r}; {CREATE_CONTRACT}, and that is the name create was given "
            "('name: Unique name to use for deployment'); deployctl does not rely on that name: "
            f"it goes on finding the deployment as {name!r}, so get, update and delete must "
            "accept that name"
        )


def test_get_returns_a_created_deployment(target: ConformanceTarget) -> None:
    name = existing(target)
    got = attempt(functools.partial(target.get, name))
    if got.error is not None:
        if error_says_not_found(got.error):
            then = (
                "takes that for 'absent' when list_deployments does not report the name either, "
                "and plans to create the deployment again"
            )
        else:
            then = (
                "keeps the list's record when list_deployments reports the name, and otherwise "
                "cannot tell whether it exists and stops (nothing is planned)"
            )
        fail(
            f"get_deployment({name!r}) raised {describe_raised(got.error)} for a deployment "
            f"create_deployment had made; {GET_CONTRACT}; deployctl's refresh gets every "
            f"deployment the manifest or state names, and after such a raise it {then}"
        )
    if not isinstance(got.value, Mapping):
        fail(
            f"get_deployment({name!r}) returned {describe_value(got.value)}; {GET_CONTRACT}; "
            "deployctl reads model_uri, flavor, config and status from that dict, so for this "
            "target it compares every field with the last apply only and cannot see drift: "
            "return the deployment's record"
        )
    unmapped = target.unmapped(target.record(name, got.value))
    if unmapped:
        keys = ", ".join(sorted(map(str, got.value))) or "none"
        fail(
            f"{FIELDS_OPTION} maps {', '.join(unmapped)}, but get_deployment({name!r}) reports "
            f"nothing there (its keys: {keys}); {GET_CONTRACT}, so deployctl reads them where "
            "the target's `fields:` says: a manifest with this mapping would compare those "
            "fields with the last apply only: fix the paths"
        )


def test_get_of_a_missing_name_raises_resource_does_not_exist(target: ConformanceTarget) -> None:
    name = target.missing_name()
    got = attempt(functools.partial(target.get, name))
    if got.error is None:
        fail(
            f"get_deployment({name!r}) of a deployment that does not exist returned "
            f"{describe_value(got.value)} instead of raising; {MISSING_CONTRACT}; deployctl's "
            "refresh takes a get that returns for 'it exists', so a deployment that is missing "
            "would never be created again: raise MlflowException(..., "
            f"error_code={RESOURCE_DOES_NOT_EXIST})"
        )
    if getattr(got.error, "error_code", None) != RESOURCE_DOES_NOT_EXIST:
        evidence = not_found_evidence(got.error)
        if evidence == "explicit":
            then = (
                "recognises this as 'not found' (by its exception type, error code or HTTP "
                "status), but other MLflow tools look for the code"
            )
        elif evidence == "message":
            then = (
                "reads the words: it takes this for 'absent' for a name that list_deployments "
                "does not report either, but a real failure worded alike would pass for 'absent' "
                "too"
            )
        else:
            then = (
                "cannot tell 'absent' from 'broken' here: a plan that needs a name the list "
                "does not report stops with 'existence unknown' (nothing is planned)"
            )
        fail(
            f"get_deployment({name!r}) of a deployment that does not exist raised "
            f"{describe_raised(got.error)}; {MISSING_CONTRACT}; without that code deployctl's "
            f"refresh {then}: raise MlflowException(..., error_code={RESOURCE_DOES_NOT_EXIST}) "
            "when the name does not exist, and other errors only for real failures"
        )


def test_create_of_an_existing_name_raises(target: ConformanceTarget) -> None:
    name = existing(target)
    again = attempt(functools.partial(target.create, name))
    if again.error is None:
        fail(
            f"create_deployment({name!r}) of a name that already exists returned "
            f"{describe_value(again.value)} instead of raising; {CONFLICT_CONTRACT}; deployctl "
            "plans a create only for a name its refresh found absent, and relies on the raise "
            "when the name was taken since (another run, a person): a create that returns "
            "replaces that deployment without anyone noticing: raise MlflowException(..., "
            "error_code=RESOURCE_ALREADY_EXISTS)"
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
            f'{describe_raised(first.error)}; {CONTRACT}: delete_deployment: "Delete the '
            'deployment with name `name` from the specified target"; deployctl calls it for '
            "every delete and replace it plans: each such apply fails, and the deployment stays "
            "in state"
        )
    second = attempt(functools.partial(target.delete, name))
    if second.error is not None:
        fail(
            f"delete_deployment({name!r}) of a deployment that was already deleted raised "
            f"{describe_raised(second.error)}; {DELETE_CONTRACT}; deployctl deletes only what "
            "its refresh found, but a destroy that is retried, or that races with another "
            "delete, meets a deployment that is gone: deployctl then drops it from state only if "
            "get_deployment says so explicitly (an error code, exception type or HTTP 404, not "
            "the words of a message), and otherwise fails and keeps it in state: return normally "
            "when the deployment does not exist"
        )


def test_list_includes_what_was_created(target: ConformanceTarget) -> None:
    name = existing(target)
    listed = attempt(target.list_deployments)
    if listed.error is not None:
        # A record deployctl cannot read (no name it knows) can be fixed by a mapping.
        mapping = (
            f" (if the records name deployments under another key, map it with {FIELDS_OPTION} "
            '\'{"name": "KEY"}\', what the target\'s `fields:` in the manifest say)'
            if is_record_shape_error(listed.error)
            else ""
        )
        fail(
            f"{describe_failure('list_deployments', listed.error)}; {LIST_CONTRACT}; deployctl "
            f"lists every target before it plans, and a failing list fails the plan{mapping}"
        )
    names = sorted(record.name for record in listed.value)
    if name not in names:
        shown = ", ".join(repr(n) for n in names[:10]) + (", …" if len(names) > 10 else "")
        fail(
            f"list_deployments did not report {name!r}, which create_deployment had made (it "
            f"reported {len(names)} deployment(s){': ' + shown if names else ''}); "
            f"{LIST_CONTRACT}; deployctl also gets each name the manifest or state names, but "
            "finds the others (made by hand, left by a crashed run) only through the list: "
            "report every deployment, in pages with next_page_token if the list is long"
        )


def test_update_changes_what_get_reports(target: ConformanceTarget) -> None:
    name = existing(target)
    options = target.options
    before = attempt(functools.partial(target.get, name))
    if before.error is not None:
        pytest.skip(
            f"cannot check: get_deployment({name!r}) raised {describe_raised(before.error)} "
            "(see test_get_returns_a_created_deployment)"
        )
    asked = f"update_deployment({name!r}, model_uri={options.update_model_uri!r}"
    if options.update_config is not None:
        asked += f", config={preview(options.update_config)}"
    asked += ")"
    updated = attempt(functools.partial(target.update, name))
    if updated.error is not None:
        if target.has_no_update():
            did = f"the plugin's client {target.adapter.shape.class_name} has no update_deployment"
        elif refuses_updates(updated.error):
            did = describe_failure("update_deployment", updated.error)
        else:
            did = None
        if did is not None:
            fail(
                f"{did}: this target cannot update a deployment in place; {UPDATE_CONTRACT}; "
                "deployctl calls it for every update it plans, so each such apply would fail: "
                f"{REPLACE_FIX}"
            )
        fail(
            f"{describe_failure('update_deployment', updated.error)} when called as {asked}; "
            f"{UPDATE_CONTRACT}; deployctl calls it for every update it plans, and an apply "
            "whose update raises fails (a target that loads the model needs a real second "
            f"model: pass {UPDATE_MODEL_URI_OPTION} models:/NAME/VERSION; a target that cannot "
            f"update in place: {REPLACE_FIX})"
        )
    after = attempt(functools.partial(target.get, name))
    if after.error is not None:
        fail(
            f"after {asked} returned, get_deployment({name!r}) raised "
            f"{describe_raised(after.error)}; {UPDATE_CONTRACT}; deployctl reads every "
            "deployment back right after an update, and its next refresh gets it again"
        )
    was, now = target.record(name, before.value), target.record(name, after.value)
    if any(field.startswith(("model_uri ", "config")) for field in target.unmapped(now)):
        pytest.skip(
            f"cannot check: the {FIELDS_OPTION} mapping finds nothing in what get_deployment "
            "reports (see test_get_returns_a_created_deployment)"
        )
    unchanged, compared = unchanged_fields(options, was, now)
    if not compared:
        pytest.skip(f"{asked} returned, but {nothing_to_compare(target, now)}")
    if unchanged:
        fail(
            f"{asked} returned, but get_deployment still reports {'; '.join(unchanged)}; "
            f"{UPDATE_CONTRACT}; deployctl reads every deployment back after an update, warns "
            "that the target did not take the field (an error with 'apply --strict') and "
            "records what the target reports, so the next plan asks for the update again, but "
            "the deployment stays as it was: make update_deployment take effect, or "
            f"{REPLACE_FIX}"
        )


def unchanged_fields(
    options: KitOptions, was: LiveRecord, now: LiveRecord
) -> tuple[list[str], list[str]]:
    """What the update should have changed but get still reports as before (``field value``),
    and every such field the target reports (compared at all)."""
    unchanged: list[str] = []
    compared: list[str] = []
    if was.model_uri is not None or now.model_uri is not None:
        compared.append("model_uri")
        if now.model_uri == was.model_uri:
            unchanged.append(f"model_uri {now.model_uri!r}")
    sent_before, sent_after = options.config, options.config_after_update
    changed = sorted(
        key
        for key in {*sent_before, *sent_after}
        if sent_before.get(key, _ABSENT) != sent_after.get(key, _ABSENT)
    )
    reported_before, reported_after = was.config or {}, now.config or {}
    for key in changed:
        if key not in reported_before and key not in reported_after:
            continue
        compared.append(f"config.{key}")
        value = reported_after.get(key, _ABSENT)
        if value == reported_before.get(key, _ABSENT):
            shown = "absent" if value is _ABSENT else repr(value)
            unchanged.append(f"config key {key!r} {shown}")
    return unchanged, compared


def nothing_to_compare(target: ConformanceTarget, now: LiveRecord) -> str:
    """Why the update check saw nothing it could compare, and what to pass to fix that."""
    paths = ", ".join(target.adapter.record_shape.model_uri)
    reasons = [
        f"get_deployment reports no model_uri (deployctl reads it from {paths}): if the target "
        f'keeps it elsewhere, pass {FIELDS_OPTION} \'{{"model_uri": "PATH"}}\', what the '
        "target's `fields:` in the manifest say"
    ]
    if now.config is not None:
        keys = ", ".join(sorted(now.config)) or "none"
        reasons.append(
            f"it reports config (keys: {keys}) but the update sent no different value for a "
            f"reported key: pass {UPDATE_CONFIG_OPTION} with another value for one of them"
        )
    return (
        "; ".join(reasons)
        + "; until then deployctl trusts what it last applied and cannot notice an update the "
        "target ignored, nor a change made behind its back"
    )


_ABSENT: Final = object()
