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
        f"ValueError (no error_code): deployment dctl-conf-{run}-missing not found; deployctl "
        "needs MlflowException(..., error_code=RESOURCE_DOES_NOT_EXIST) to tell 'absent' from "
        "'broken': raise it when the name does not exist, and other errors only for real failures"
    )
    assert checks["test_delete_is_idempotent"].message == (
        f"delete_deployment('dctl-conf-{run}-delete') of a deployment that was already deleted "
        f"raised ValueError (no error_code): deployment dctl-conf-{run}-delete not found; "
        "deployctl needs delete to be idempotent, as MLflow documents: return normally when the "
        "deployment does not exist, so that a destroy that is retried, or that races with "
        "another delete, can finish"
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
        f"); deployctl needs a dict with at least 'name' ({CREATE_CONTRACT})"
        f": add 'name': 'dctl-conf-{run}-create'"
    )
    assert (
        "raised ClientError (no error_code): An error occurred (ValidationException) when calling "
        "the DescribeEndpoint operation"
    ) in checks["test_get_of_a_missing_name_raises_resource_does_not_exist"].message
    assert "deployctl needs delete to be idempotent" in checks["test_delete_is_idempotent"].message
    assert checks["test_update_changes_what_get_reports"].message.startswith(
        "update_deployment succeeded, but get_deployment reports no model_uri"
    )
    # Its records are named under EndpointName: the list check reads them as deployctl does.
    assert checks["test_list_includes_what_was_created"].outcome == "passed"
    assert records_left(tmp_path) == []


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
            "dctl-conf-*-delete; deployctl needs delete to remove the deployment*",
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
        (["--deployctl-config", "[1]"], "--deployctl-config is a JSON list, not an object"),
        (["--deployctl-config", "{"], "--deployctl-config is not JSON"),
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
