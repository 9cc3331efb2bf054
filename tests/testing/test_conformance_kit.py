"""The conformance kit run as plugin authors run it, against the built-in and the test targets.

Each run is ``python -m pytest --pyargs deployctl.testing --deployctl-target URI`` in a fresh
directory; the outcome of every check is read from its JUnit XML report.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from kit_runs import KitRunner, PytestRunner
from support import require_mlflow

from deployctl.model import DeploymentSpec
from deployctl.targets.loading import load_target
from deployctl.targets.local import LocalDeploymentClient
from deployctl.testing.options import DEFAULT_MODEL_URI
from deployctl.testing.test_conformance import CREATE_CONTRACT

ALL_CHECKS = (
    "test_the_target_loads",
    "test_create_returns_a_dict_with_name",
    "test_get_returns_a_created_deployment",
    "test_get_of_a_missing_name_raises_resource_does_not_exist",
    "test_create_of_an_existing_name_raises",
    "test_delete_is_idempotent",
    "test_list_includes_what_was_created",
    "test_update_changes_what_get_reports",
)
RUN_ID = re.compile(r"dctl-conf-([0-9a-f]{8})-")


@dataclass(frozen=True)
class Check:
    outcome: str
    message: str = ""


def run_checks(run_kit: KitRunner, *args: str) -> dict[str, Check]:
    """Run the kit; the outcome and message of each check, by test name."""
    report = run_kit.directory / "report.xml"
    result = run_kit(*args, f"--junitxml={report}")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stderr.str()
    checks = {}
    for case in ET.parse(report).iter("testcase"):
        check = Check("passed")
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                # A failure's message attribute is cut short past a few hundred characters; its
                # text is the whole message (the checks fail with pytrace=False).
                if child.tag == "failure":
                    message = (child.text or "").strip()
                else:
                    message = (child.get("message") or "").removeprefix("Failed: ")
                check = Check(outcome, message)
        checks[str(case.get("name"))] = check
    assert sorted(checks) == sorted(ALL_CHECKS)
    return checks


def outcomes(checks: dict[str, Check]) -> dict[str, str]:
    """The checks that did not pass, with their outcome."""
    return {name: c.outcome for name, c in checks.items() if c.outcome != "passed"}


def run_id(*texts: str) -> str:
    """The one run id in the throw-away names that ``texts`` mention."""
    found = {m for text in texts for m in RUN_ID.findall(text)}
    assert len(found) == 1, found
    return found.pop()


def run_id_of(checks: dict[str, Check]) -> str:
    return run_id(*(c.message for c in checks.values()))


def records_left(directory: Path) -> list[str]:
    """The deployments a test plugin still holds in ``directory``."""
    return sorted(p.stem for p in (directory / "records").glob("*.json"))


def test_the_local_target_passes_every_check(run_kit: KitRunner, tmp_path: Path) -> None:
    checks = run_checks(run_kit, "--deployctl-target", f"local:{tmp_path}")

    assert outcomes(checks) == {}
    assert list((tmp_path / "deployments").glob("*.json")) == []


def test_the_mlflow_3_test_plugin_passes_every_check(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    require_mlflow()
    checks = run_checks(run_kit, "--deployctl-target", f"mlflowtest:{tmp_path}")

    assert outcomes(checks) == {}
    assert records_left(tmp_path) == []


def test_the_seed_test_plugin_fails_the_error_code_and_idempotent_delete_checks(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    checks = run_checks(run_kit, "--deployctl-target", f"seedtest:{tmp_path}")

    # Its update_deployment(target, name, ...) is called as deployctl calls it, so it passes.
    assert outcomes(checks) == {
        "test_get_of_a_missing_name_raises_resource_does_not_exist": "failed",
        "test_delete_is_idempotent": "failed",
    }
    run = run_id_of(checks)
    assert checks["test_get_of_a_missing_name_raises_resource_does_not_exist"].message == (
        f"get_deployment('dctl-conf-{run}-missing') of a deployment that does not exist raised "
        f"ValueError (no error_code): deployment dctl-conf-{run}-missing not found; MLflow's "
        'contract (mlflow/deployments/base.py): get_deployment raises "a MlflowException or an '
        'HTTPError for remote deployments if no deployment exists with the provided ID", and '
        "MLflow's error codes say which failure an MlflowException is: "
        "error_code=RESOURCE_DOES_NOT_EXIST for a missing one; without that code deployctl's "
        "refresh reads the words: it takes this for 'absent' for a name that list_deployments "
        "does not report either, but a real failure worded alike would pass for 'absent' too: "
        "raise MlflowException(..., error_code=RESOURCE_DOES_NOT_EXIST) when the name does not "
        "exist, and other errors only for real failures"
    )
    assert checks["test_delete_is_idempotent"].message == (
        f"delete_deployment('dctl-conf-{run}-delete') of a deployment that was already deleted "
        f"raised ValueError (no error_code): deployment dctl-conf-{run}-delete not found; "
        "MLflow's contract (mlflow/deployments/base.py): \"Deletion should be idempotent (i.e. "
        'deletion should not fail if retried on a non-existent deployment)"; deployctl deletes '
        "only what its refresh found, but a destroy that is retried, or that races with another "
        "delete, meets a deployment that is gone: deployctl then drops it from state only if "
        "get_deployment says so explicitly (an error code, exception type or HTTP 404, not the "
        "words of a message), and otherwise fails and keeps it in state: return normally when "
        "the deployment does not exist"
    )
    assert records_left(tmp_path) == []


def test_the_paged_test_plugin_fails_create_error_code_and_delete_and_cannot_show_updates(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    checks = run_checks(run_kit, "--deployctl-target", f"pagedtest:{tmp_path}")

    assert outcomes(checks) == {
        "test_create_returns_a_dict_with_name": "failed",
        "test_get_of_a_missing_name_raises_resource_does_not_exist": "failed",
        "test_delete_is_idempotent": "failed",
        "test_update_changes_what_get_reports": "skipped",
    }
    run = run_id_of(checks)
    create = checks["test_create_returns_a_dict_with_name"].message
    assert create.startswith("create_deployment returned a dict without 'name' (its keys: ")
    assert "EndpointName" in create
    assert create.endswith(
        f"); {CREATE_CONTRACT}; deployctl does not rely on that name (it finds the deployment by "
        f"the name it asked for), but MLflow's own CLI does: add 'name': 'dctl-conf-{run}-create'"
    )
    assert (
        "raised ClientError (no error_code): An error occurred (ValidationException) when calling "
        "the DescribeEndpoint operation"
    ) in checks["test_get_of_a_missing_name_raises_resource_does_not_exist"].message
    assert (
        "deployctl then drops it from state only if" in checks["test_delete_is_idempotent"].message
    )
    assert checks["test_update_changes_what_get_reports"].message == (
        f"update_deployment('dctl-conf-{run}-create', model_uri='models:/deployctl-conformance/2') "
        "returned, but get_deployment reports no model_uri (deployctl reads it from model_uri, "
        "mlflow_model_uri): if the target keeps it elsewhere, pass --deployctl-fields "
        '\'{"model_uri": "PATH"}\', what the target\'s `fields:` in the manifest say; until '
        "then deployctl trusts what it last applied and cannot notice an update the target "
        "ignored, nor a change made behind its back"
    )
    # Its records are named under EndpointName: the list check reads them as deployctl does.
    assert checks["test_list_includes_what_was_created"].outcome == "passed"
    assert records_left(tmp_path) == []


SAGEMAKER_FIELDS = '{"name": "EndpointName", "model_uri": "Tags.model_uri"}'


def test_with_the_users_field_mapping_the_paged_plugins_update_check_runs_and_passes(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    checks = run_checks(
        run_kit,
        "--deployctl-target",
        f"pagedtest:{tmp_path}",
        "--deployctl-fields",
        SAGEMAKER_FIELDS,
    )

    # Its records report model_uri under Tags.model_uri: the update is seen, not skipped.
    assert outcomes(checks) == {
        "test_create_returns_a_dict_with_name": "failed",
        "test_get_of_a_missing_name_raises_resource_does_not_exist": "failed",
        "test_delete_is_idempotent": "failed",
    }
    calls = test_plugins.read_calls(tmp_path)
    updates = [c for c in calls if c["method"] == "update_deployment"]
    assert [u["kwargs"]["model_uri"] for u in updates] == ["models:/deployctl-conformance/2"]
    assert records_left(tmp_path) == []


def test_a_mapping_that_finds_nothing_fails_the_get_check_and_skips_the_update_check(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    fields = '{"model_uri": "Tags.model", "config.instance_count": "Variants.0.Count"}'
    checks = run_checks(
        run_kit, "--deployctl-target", f"pagedtest:{tmp_path}", "--deployctl-fields", fields
    )

    assert checks["test_get_returns_a_created_deployment"].outcome == "failed"
    message = checks["test_get_returns_a_created_deployment"].message
    run = run_id(message)
    assert message == (
        "--deployctl-fields maps model_uri (Tags.model), config.instance_count "
        f"(Variants.0.Count), but get_deployment('dctl-conf-{run}-create') reports nothing "
        "there (its keys: CreationTime, EndpointArn, EndpointName, EndpointStatus, Handle, "
        "ResponseMetadata, Tags); MLflow's contract (mlflow/deployments/base.py): get_deployment "
        'returns "A dict corresponding to the retrieved deployment", "guaranteed to contain a '
        "'name' key\"; \"The other fields of the returned dictionary and their types may vary "
        "across targets\", so deployctl reads them where the target's `fields:` says: a manifest "
        "with this mapping would compare those fields with the last apply only: fix the paths"
    )
    assert checks["test_update_changes_what_get_reports"].outcome == "skipped"
    assert records_left(tmp_path) == []


def test_an_update_the_target_ignores_fails_the_update_check(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    require_mlflow()
    # mlflow-torchserve reports success for a model_uri update and ignores it; its get returns
    # TorchServe's describe as JSON text, one object per version.
    checks = run_checks(
        run_kit,
        *("--deployctl-target", f"torchservetest:{tmp_path}"),
        *("--deployctl-fields", '{"model_uri": "deploy|json.0.modelUrl"}'),
        *("--deployctl-config", '{"handler": "handler.py"}'),
    )

    update = checks["test_update_changes_what_get_reports"]
    run = run_id(update.message)
    assert update.outcome == "failed"
    assert update.message == (
        f"update_deployment('dctl-conf-{run}-create', model_uri='models:/deployctl-conformance/2') "
        "returned, but get_deployment still reports model_uri 'models:/deployctl-conformance/1'; "
        "MLflow's contract (mlflow/deployments/base.py): update_deployment changes \"the URI of "
        "the model [...] and/or any target-specific attributes of the deployment (via "
        '`config`)" and "should block until deployment completes (i.e. until it\'s possible to '
        'perform inference with the updated deployment)"; deployctl reads every deployment back '
        "after an update, warns that the target did not take the field (an error with 'apply "
        "--strict') and records what the target reports, so the next plan asks for the update "
        "again, but the deployment stays as it was: make "
        "update_deployment take effect, or set `update: replace` on the target in the manifest, "
        "and deployctl plans every update there as a delete and a create (the deployment is down "
        "in between)"
    )
    # It names the created version 'NAME/1.0': deployctl goes on by the name it asked for.
    assert checks["test_create_returns_a_dict_with_name"].message.startswith(
        f"create_deployment returned name 'dctl-conf-{run}-create/1.0' for the deployment it "
        f"was asked to create as 'dctl-conf-{run}-create'; {CREATE_CONTRACT}, and that is the "
        "name create was given ('name: Unique name to use for deployment'); deployctl does not "
        f"rely on that name: it goes on finding the deployment as 'dctl-conf-{run}-create'"
    )


def test_a_target_that_refuses_updates_is_told_to_use_update_replace(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    require_mlflow()
    checks = run_checks(
        run_kit,
        *("--deployctl-target", f"tritontest:{tmp_path}"),
        *("--deployctl-model-uri", "s3://models/triton/churn"),
        *("--deployctl-update-model-uri", "s3://models/triton/churn2"),
        *("--deployctl-config", '{"s3_profile_id": 1, "image": "nvcr.io/triton:24.01"}'),
    )

    update = checks["test_update_changes_what_get_reports"]
    assert update.outcome == "failed"
    assert update.message.startswith(
        "update_deployment raised MlflowException (error_code INTERNAL_ERROR): Updating "
        "deployments is not supported: this target cannot update a deployment in place; "
        "MLflow's contract (mlflow/deployments/base.py): update_deployment changes"
    )
    assert update.message.endswith(
        "; deployctl calls it for every update it plans, so each such apply would fail: set "
        "`update: replace` on the target in the manifest, and deployctl plans every update "
        "there as a delete and a create (the deployment is down in between)"
    )


@pytest.mark.parametrize(
    ("update_config", "outcome", "message"),
    [
        ('{"api_key": "k", "temperature": 0.5}', "passed", ""),
        (
            None,
            "skipped",
            "it reports config (keys: temperature) but the update sent no different value for a "
            "reported key: pass --deployctl-update-config with another value for one of them",
        ),
    ],
)
def test_a_target_reporting_only_mapped_config_keys_is_checked_with_an_update_config(
    run_kit: KitRunner,
    tmp_path: Path,
    test_plugins: ModuleType,
    update_config: str | None,
    outcome: str,
    message: str,
) -> None:
    require_mlflow()
    # mlflow-crusoe keeps each config key flat at the top of its record, the model under "model".
    args = [
        *("--deployctl-target", f"crusoetest:{tmp_path}"),
        *("--deployctl-fields", '{"config.temperature": "temperature"}'),
        *("--deployctl-config", '{"api_key": "k", "temperature": 0.1}'),
    ]
    if update_config is not None:
        args += ["--deployctl-update-config", update_config]

    update = run_checks(run_kit, *args)["test_update_changes_what_get_reports"]

    assert update.outcome == outcome
    assert message in update.message


def test_a_run_touches_only_its_own_throw_away_deployments(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    uri = f"seedtest:{tmp_path}"
    load_target(uri, key="setup").create("keep-me", DeploymentSpec("models:/keep/1"))

    setup_calls = len(test_plugins.read_calls(tmp_path))

    first = run_id_of(run_checks(run_kit, "--deployctl-target", uri))
    second = run_id_of(run_checks(run_kit, "--deployctl-target", uri))

    assert first != second
    changed = {
        c["name"]
        for c in test_plugins.read_calls(tmp_path)[setup_calls:]
        if c["method"] in ("create_deployment", "update_deployment", "delete_deployment")
    }
    assert all(re.fullmatch(rf"dctl-conf-({first}|{second})-[a-z]+", n) for n in changed)
    assert records_left(tmp_path) == ["keep-me"]


def test_the_model_uris_and_config_reach_create_and_update(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    run_checks(
        run_kit,
        "--deployctl-target",
        f"seedtest:{tmp_path}",
        "--deployctl-model-uri",
        "models:/mine/7",
        "--deployctl-update-model-uri",
        "models:/mine/8",
        "--deployctl-config",
        '{"workers": 2}',
    )

    calls = test_plugins.read_calls(tmp_path)
    creates = [c["args"] for c in calls if c["method"] == "create_deployment"]
    updates = [c["kwargs"] for c in calls if c["method"] == "update_deployment"]
    assert creates and all(a[1:] == ["models:/mine/7", None, {"workers": 2}] for a in creates)
    assert updates == [{"model_uri": "models:/mine/8", "flavor": None, "config": {"workers": 2}}]


def test_a_deployment_the_kit_cannot_delete_is_reported_as_left_over(
    run_kit: KitRunner, tmp_path: Path, test_plugins: ModuleType
) -> None:
    test_plugins.write_faults(tmp_path, {"fail": {"delete_deployment": True}})

    result = run_kit("--deployctl-target", f"seedtest:{tmp_path}")

    result.stdout.fnmatch_lines(
        [
            "*delete_deployment('dctl-conf-*-delete') of an existing deployment raised "
            "InjectedFault (no error_code): injected failure: delete_deployment "
            "dctl-conf-*-delete; MLflow's contract (mlflow/deployments/base.py): "
            'delete_deployment: "Delete the deployment with name `name` from the specified '
            'target"; deployctl calls it for every delete and replace it plans: each such apply '
            "fails, and the deployment stays in state",
            "*LeftoverDeploymentWarning: the conformance kit could not delete its deployment "
            "'dctl-conf-*-create' on seedtest:*: delete_deployment raised InjectedFault*; delete "
            "it by hand*",
        ]
    )
    run = run_id(result.stdout.str())
    assert records_left(tmp_path) == [f"dctl-conf-{run}-create", f"dctl-conf-{run}-delete"]


def test_without_a_target_the_kit_stops_with_a_usage_error(run_kit: KitRunner) -> None:
    result = run_kit()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: the deployctl conformance kit needs a target to check: pytest --pyargs "
            "deployctl.testing --deployctl-target URI (e.g. --deployctl-target "
            "local:/tmp/conformance, or a URI of your plugin's scheme; or set DEPLOYCTL_TARGET)"
        ]
    )


def test_the_target_can_come_from_the_environment(
    run_kit: KitRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYCTL_TARGET", f"local:{tmp_path}")

    assert outcomes(run_checks(run_kit)) == {}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            ["--deployctl-config", "[1]"],
            "--deployctl-config is a JSON array, not an object: pass a JSON object, e.g. "
            '\'{"instance_type": "small"}\'',
        ),
        (["--deployctl-config", "{"], "--deployctl-config is not JSON (Expecting property name"),
        (["--deployctl-update-config", '"big"'], "--deployctl-update-config is a JSON string, not"),
        (
            ["--deployctl-fields", "{name: EndpointName}"],
            "--deployctl-fields is not JSON (Expecting property name enclosed in double quotes: "
            'line 1 column 2 (char 1)): pass a JSON object, e.g. \'{"name": "EndpointName", '
            '"model_uri": "Tags.model_uri"}\'',
        ),
        (["--deployctl-fields", '["name"]'], "--deployctl-fields is a JSON array, not an object"),
        (
            ["--deployctl-fields", '{"model_uri": ["Tags", "model_uri"]}'],
            "--deployctl-fields maps 'model_uri' to a JSON array: each value is a path, a string",
        ),
        (
            ["--deployctl-fields", '{"model": "Tags.model_uri"}'],
            "--deployctl-fields: 'model' is not a record field (expected one of name, model_uri, "
            "flavor, config, status, or config.KEY for one config key) (the option holds what a "
            "manifest target's `fields:` holds, e.g. ",
        ),
        (
            ["--deployctl-fields", '{"model_uri": "Tags..model_uri"}'],
            "--deployctl-fields: 'Tags..model_uri' is not a key of the target's records or a "
            "dotted path into them",
        ),
        (
            ["--deployctl-update-model-uri", DEFAULT_MODEL_URI],
            "--deployctl-update-model-uri must differ from --deployctl-model-uri",
        ),
    ],
)
def test_unusable_options_are_usage_errors(
    run_kit: KitRunner, tmp_path: Path, args: list[str], problem: str
) -> None:
    result = run_kit("--deployctl-target", f"local:{tmp_path}", *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {problem}*"])
    assert not (tmp_path / "deployments").exists()


def test_collect_only_lists_the_checks_without_a_target(run_kit: KitRunner) -> None:
    result = run_kit("--collect-only", "-q")

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"*::{name}" for name in ALL_CHECKS])


def test_a_target_deployctl_cannot_load_fails_one_check_and_skips_the_rest(
    run_kit: KitRunner,
) -> None:
    checks = run_checks(run_kit, "--deployctl-target", "nosuch:/nowhere")

    assert outcomes(checks) == {
        name: "failed" if name == "test_the_target_loads" else "skipped" for name in ALL_CHECKS
    }
    assert checks["test_the_target_loads"].message.startswith(
        "deployctl cannot load the target 'nosuch:/nowhere': target 'conformance': no installed "
        "plugin handles 'nosuch' targets"
    )
    assert checks["test_delete_is_idempotent"].message.startswith(
        "cannot check: the target did not load"
    )


def test_other_pytest_runs_are_unaffected_by_the_kit_plugin(
    run_pytest: PytestRunner, tmp_path: Path
) -> None:
    (run_pytest.directory / "test_theirs.py").write_text("def test_theirs():\n    pass\n")

    plain = run_pytest("-p", "no:cacheprovider")
    stray = run_pytest("-p", "no:cacheprovider", "--deployctl-target", f"local:{tmp_path}")

    assert plain.ret == stray.ret == pytest.ExitCode.OK
    plain.stdout.fnmatch_lines(["*1 passed*"])
    plain.stdout.no_fnmatch_line("*conformance*")
    stray.stdout.fnmatch_lines(
        [
            "deployctl conformance kit: target local:* (local (built-in, deployctl *))",
            "deployctl: --deployctl-target was given but no conformance check was collected, so "
            "the target was not checked; run pytest --pyargs deployctl.testing "
            "--deployctl-target URI",
            "*1 passed*",
        ]
    )
    assert not (tmp_path / "deployments").exists()


def test_local_checks_leave_other_local_deployments_alone(
    run_kit: KitRunner, tmp_path: Path
) -> None:
    LocalDeploymentClient(f"local:{tmp_path}").create_deployment("keep-me", "models:/keep/1")
    before = (tmp_path / "deployments" / "keep-me.json").read_bytes()

    run_checks(run_kit, "--deployctl-target", f"local:{tmp_path}")

    assert [p.name for p in (tmp_path / "deployments").glob("*.json")] == ["keep-me.json"]
    assert (tmp_path / "deployments" / "keep-me.json").read_bytes() == before
