"""``deployctl targets``, ``target-help``, ``run-local`` and field mappings, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import (
    manifest,
    require_mlflow,
    run_cli,
    run_process,
    without_mlflow,
    write_manifest,
)

# -- targets --


def test_targets_lists_source_package_version_module_and_interface(
    tmp_path: Path, test_plugins: object
) -> None:
    result = run_cli("targets", cwd=tmp_path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    header = lines[0].split()
    assert header == ["SCHEME", "SOURCE", "PACKAGE", "VERSION", "MODULE", "INTERFACE"]
    starts = [lines[0].index(column) for column in header]
    rows = {line.split()[0]: line for line in lines[1:]}
    for line in lines[1:]:
        # Aligned: every cell starts where its column's header starts.
        for start in starts[1:]:
            assert line[start - 2 : start] == "  " and line[start] != " ", line
    assert rows["seedtest"].split("  ")[0] == "seedtest"
    assert rows["seedtest"][starts[1] :].split() == [
        "deployctl",
        "plugin",
        "deployctl-test-plugins",
        "0.1.0",
        "dtp_seed",
        "seed",
    ]
    assert rows["mlflow2test"][starts[5] :] == "mlflow 2"
    assert rows["pagedtest"][starts[5] :] == "mlflow 3"
    assert rows["local"][starts[1] :].split()[:4] == [
        "built-in",
        "deployctl",
        "0.1.0",
        "deployctl.targets.local",
    ]
    # Never truncated: the whole reason of a plugin that cannot be imported.
    assert rows["importfail"][starts[5] :] == (
        "unavailable: cannot import dtp_broken.import_error: ModuleNotFoundError: "
        "No module named 'dtp_dependency_that_is_not_installed' (the plugin needs the Python "
        "package 'dtp_dependency_that_is_not_installed': pip install "
        "dtp_dependency_that_is_not_installed)"
    )
    assert rows["noclass"][starts[5] :] == "unavailable: dtp_broken.no_class has no client class"


def test_targets_json_is_a_list_of_objects_sorted_by_scheme(
    tmp_path: Path, test_plugins: object
) -> None:
    result = run_cli("targets", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    entries = json.loads(result.out)
    assert [e["scheme"] for e in entries] == sorted(e["scheme"] for e in entries)
    by_scheme = {e["scheme"]: e for e in entries}
    assert by_scheme["seedtest"] == {
        "scheme": "seedtest",
        "source": "deployctl plugin",
        "package": "deployctl-test-plugins",
        "version": "0.1.0",
        "module": "dtp_seed",
        "interface": "seed",
    }
    assert by_scheme["local"]["source"] == "built-in"
    assert by_scheme["local"]["interface"] == "mlflow 3"
    assert by_scheme["mlflow2test"]["interface"] == "mlflow 2"
    assert by_scheme["pagedtest"]["source"] == "MLflow plugin"
    assert by_scheme["ctorfail"]["interface"] == "mlflow 2"  # its constructor never ran
    assert by_scheme["twoclasses"]["interface"].startswith(
        "unavailable: dtp_broken.two_classes has several client classes"
    )
    for entry in entries:
        assert set(entry) == {"scheme", "source", "package", "version", "module", "interface"}


CLASS_ENTRY_POINT = (
    "entry point 'classtest = dtp_mlflow:MlflowTestDeploymentClient' (group mlflow.deployments) "
    "names the class MlflowTestDeploymentClient, not a module, and MLflow's own loader refuses "
    "it too (it looks for run_local, target_help and the client class in what the entry point "
    "names): the entry point must name the module, 'classtest = dtp_mlflow'"
)


def test_targets_explains_an_entry_point_that_names_a_class(
    tmp_path: Path, test_plugins: object
) -> None:
    require_mlflow()
    listed = run_cli("targets", cwd=tmp_path)
    as_json = run_cli("targets", "--json", cwd=tmp_path)

    assert listed.code == as_json.code == 0, listed.err + as_json.err
    (row,) = [line for line in listed.out.splitlines() if line.startswith("classtest ")]
    assert row.endswith(
        f"  dtp_mlflow:MlflowTestDeploymentClient  unavailable: {CLASS_ENTRY_POINT}"
    )
    (entry,) = [e for e in json.loads(as_json.out) if e["scheme"] == "classtest"]
    assert entry["interface"] == f"unavailable: {CLASS_ENTRY_POINT}"


def test_a_plan_against_a_plugin_whose_entry_point_names_a_class_is_one_line_with_the_fix(
    tmp_path: Path, test_plugins: object
) -> None:
    require_mlflow()
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"tc": {"uri": "classtest:/x", "deployments": {"churn": "models:/c/1"}}}),
    )

    result = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)

    assert result.code == 1
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: target 'tc', load: {CLASS_ENTRY_POINT} (report this to the plugin's authors)"
    ]
    assert "Traceback" not in result.err


# -- target-help --


@pytest.mark.parametrize(
    ("scheme", "text"),
    [
        ("seedtest", "seedtest:/abs/dir - a test target written to the seed plugin API."),
        ("shadowtest", "seedtest:/abs/dir - a test target written to the seed plugin API."),
        ("mlflow2test", "mlflow2test:/abs/dir - a test target written to MLflow 2's plugin"),
        ("pagedtest", "pagedtest:/abs/dir - a SageMaker-like test target"),
        ("PagedTest", "pagedtest:/abs/dir - a SageMaker-like test target"),
        ("noclass", "no client here"),
        ("local", "The local target keeps deployments as JSON files"),
    ],
)
def test_target_help_prints_each_plugins_own_help(
    tmp_path: Path, test_plugins: object, scheme: str, text: str
) -> None:
    result = run_cli("target-help", scheme, cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out.startswith(text)


def test_target_help_of_an_mlflow_3_plugin(tmp_path: Path, test_plugins: object) -> None:
    require_mlflow()
    result = run_cli("target-help", "mlflowtest", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out == "mlflowtest:/abs/dir - a test target written for MLflow 3.\n"


@pytest.mark.parametrize(
    ("scheme", "text"),
    [
        ("nosuchplugin", "no installed plugin handles 'nosuchplugin' targets"),
        ("importfail", "cannot import plugin module 'dtp_broken.import_error'"),
        ("twoclasses", "the plugin has no target_help() function"),
        ("classtest", "names the class MlflowTestDeploymentClient, not a module"),
    ],
)
def test_target_help_errors_are_one_line(
    tmp_path: Path, test_plugins: object, scheme: str, text: str
) -> None:
    result = run_cli("target-help", scheme, cwd=tmp_path)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1
    assert text in result.err
    assert "Traceback" not in result.err


# -- run-local --


def seed_manifest(target: Path) -> str:
    seed = {
        "uri": f"seedtest:{target}",
        "defaults": {"flavor": "python_function", "config": {"replicas": 1, "port": 5001}},
        "deployments": {
            "churn": {"model_uri": "models:/churn/${var.version}", "config": {"replicas": 2}}
        },
    }
    return manifest(targets={"seed": seed}, variables={"version": "3"})


def _run_local(tmp_path: Path, *args: str) -> tuple[int, str, list[dict[str, object]]]:
    from dtp_common import RUN_LOCAL_LOG, read_run_local

    log = tmp_path / "run_local.jsonl"
    result = run_cli("run-local", *args, cwd=tmp_path, env={RUN_LOCAL_LOG: str(log)})
    return result.code, result.err, read_run_local(log)


def test_run_local_serves_a_manifest_deployment_with_its_model_flavor_and_config(
    tmp_path: Path, test_plugins: object
) -> None:
    write_manifest(tmp_path / "dev.yaml", seed_manifest(tmp_path / "seed"))
    code, err, received = _run_local(tmp_path, "-f", "dev.yaml", "seed/churn", "--var", "version=4")
    assert code == 0, err
    assert received == [
        {
            "form": "seed",
            "model_uri": "models:/churn/4",
            "flavor": "python_function",
            "config": {"replicas": 2, "port": 5001},
        }
    ]
    assert err == ""


def test_run_local_with_options_passes_config_values_as_strings(
    tmp_path: Path, test_plugins: object
) -> None:
    code, err, received = _run_local(
        tmp_path,
        "--target-uri",
        f"pagedtest:{tmp_path / 'paged'}",
        "--name",
        "churn",
        "--model-uri",
        "models:/churn/3",
        "--flavor",
        "python_function",
        "-C",
        "replicas=2",
        "--config",
        "debug=True",
    )
    assert code == 0, err
    assert received == [
        {
            "form": "mlflow-cli",
            "name": "churn",
            "model_uri": "models:/churn/3",
            "flavor": "python_function",
            "config": {"replicas": "2", "debug": "True"},
        }
    ]


def test_run_local_of_an_mlflow_2_plugin_leaves_optional_values_out(
    tmp_path: Path, test_plugins: object
) -> None:
    uri = f"mlflow2test:{tmp_path / 'm2'}"
    code, err, received = _run_local(
        tmp_path, "--target-uri", uri, "--name", "n", "--model-uri", "runs:/abc/model"
    )
    assert code == 0, err
    assert received == [
        {
            "form": "mlflow-cli",
            "name": "n",
            "model_uri": "runs:/abc/model",
            "flavor": None,
            "config": {},
        }
    ]


def test_run_local_gives_the_documentation_stub_form_the_target_uri(
    tmp_path: Path, test_plugins: object
) -> None:
    require_mlflow()
    uri = f"mlflowtest:{tmp_path / 'ml'}"
    code, err, received = _run_local(
        tmp_path, "--target-uri", uri, "--name", "n", "--model-uri", "models:/m/1"
    )
    assert code == 0, err
    assert [(r["form"], r["target"], r["name"]) for r in received] == [("mlflow-stub", uri, "n")]


def test_run_local_never_constructs_a_client(tmp_path: Path, test_plugins: object) -> None:
    # ctorfail's constructor raises; the only problem reported is its missing run_local.
    code, err, _ = _run_local(
        tmp_path, "--target-uri", f"ctorfail:{tmp_path}", "--name", "n", "--model-uri", "m:/1"
    )
    assert code == 1
    assert err.strip().splitlines() == [
        "Error: target 'ctorfail', run_local for ctorfail/n: ctorfail (deployctl plugin, "
        "deployctl-test-plugins 0.1.0) has no run_local function"
    ]


def test_run_local_on_the_local_target_without_mlflow_says_how_to_install_it(
    tmp_path: Path,
) -> None:
    result = run_process(
        *("run-local", "--target-uri", f"local:{tmp_path / 'local'}", "--name", "churn"),
        *("--model-uri", "models:/churn/3"),
        cwd=tmp_path,
        env=without_mlflow(tmp_path / "hide"),
    )
    assert result.code == 1, result.err
    assert result.err.splitlines() == [
        "Error: target 'local', run_local for local/churn: LocalTargetError: run_local on the "
        "local target needs MLflow: pip install 'deployctl[mlflow]'"
    ]
    assert "Traceback" not in result.err


def test_run_local_of_a_flavor_the_local_target_cannot_serve_is_rejected(tmp_path: Path) -> None:
    write_manifest(
        tmp_path / "dev.yaml",
        manifest({"churn": {"model_uri": "models:/churn/3", "flavor": "sklearn"}}),
    )
    result = run_cli("run-local", "-f", "dev.yaml", "local/churn", cwd=tmp_path)
    assert result.code == 1
    assert (
        result.err.strip()
        .splitlines()[-1]
        .startswith("Error: target 'local', run_local for local/churn: ")
    )
    assert "serves pyfunc models only, not flavor 'sklearn'" in result.err


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("-f", "dev.yaml"), "needs the ADDRESS (TARGET/NAME) of a deployment"),
        (("-f", "dev.yaml", "seed/nope"), "has no deployment 'nope' in target 'seed'"),
        (("-f", "dev.yaml", "other/churn"), "has no target 'other' (targets: seed)"),
        (("-f", "dev.yaml", "churn"), "is not an address of the form TARGET/NAME"),
        (
            ("-f", "dev.yaml", "seed/churn", "--model-uri", "m:/1"),
            "--model-uri cannot be combined with -f MANIFEST",
        ),
        (("seed/churn",), "ADDRESS 'seed/churn' needs -f MANIFEST"),
        (("--name", "n"), "run-local needs -f MANIFEST ADDRESS, or --target-uri, --model-uri"),
        (
            ("--target-uri", "seedtest:/x", "--name", "n", "--model-uri", "m:/1", "-C", "port"),
            "--config 'port' must have the form KEY=VALUE",
        ),
        (
            (
                "--target-uri",
                "seedtest:/x",
                "--name",
                "n",
                "--model-uri",
                "m:/1",
                "-C",
                "a=1",
                "-C",
                "a=2",
            ),
            "--config a is given twice",
        ),
        (
            ("--target-uri", "nosuch:/x", "--name", "n", "--model-uri", "m:/1"),
            "no installed plugin handles 'nosuch' targets",
        ),
    ],
)
def test_run_local_usage_errors_are_one_line(
    tmp_path: Path, test_plugins: object, args: tuple[str, ...], text: str
) -> None:
    write_manifest(tmp_path / "dev.yaml", seed_manifest(tmp_path / "seed"))
    result = run_cli("run-local", *args, cwd=tmp_path)
    assert result.code == 1
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert text in result.err


# -- a field mapping, end to end --


def paged_manifest(target: Path, version: int) -> str:
    churn = {
        "model_uri": f"models:/churn/{version}",
        "flavor": "python_function",
        "config": {"instance_type": "ml.m5.large"},
    }
    sm = {
        "uri": f"pagedtest:{target}",
        "fields": {
            "name": "EndpointName",
            "status": "EndpointStatus",
            "model_uri": "Tags.model_uri",
        },
        "deployments": {"churn": churn},
    }
    return manifest(targets={"sm": sm}, environment="prod")


def _plan_json(tmp_path: Path) -> dict[str, Any]:
    result = run_cli("plan", "-f", "prod.yaml", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    (change,) = json.loads(result.out)["resource_changes"]
    assert isinstance(change, dict)
    return change


def test_a_paged_target_with_a_field_mapping_plans_applies_and_settles(
    tmp_path: Path, test_plugins: object
) -> None:
    target = tmp_path / "sm"
    write_manifest(tmp_path / "prod.yaml", paged_manifest(target, 3))
    assert run_cli("validate", "-f", "prod.yaml", cwd=tmp_path).code == 0
    first = run_cli("plan", "-f", "prod.yaml", cwd=tmp_path)
    assert first.code == 0, first.err
    assert "+ create sm/churn" in first.out
    applied = run_cli("apply", "-f", "prod.yaml", "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err

    settled = run_cli("plan", "-f", "prod.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert settled.code == 0, settled.out + settled.err
    assert "No changes." in settled.out
    change = _plan_json(tmp_path)
    assert change["change"]["actions"] == ["no-op"]
    assert change["action_reason"] == "no_op_because_up_to_date"
    assert change["action_reason_text"] == (
        "up to date (live value not reported by target: config, flavor)"
    )

    write_manifest(tmp_path / "prod.yaml", paged_manifest(target, 4))
    updated = run_cli("plan", "-f", "prod.yaml", cwd=tmp_path)
    assert updated.code == 0, updated.err
    assert "~ update sm/churn  (the manifest differs from the last applied version; " in updated.out
    assert "live value not reported by target: config, flavor" in updated.out


def test_the_cli_reads_a_mapped_field_from_the_live_record(
    tmp_path: Path, test_plugins: object
) -> None:
    write_manifest(tmp_path / "prod.yaml", paged_manifest(tmp_path / "sm", 3))
    assert run_cli("apply", "-f", "prod.yaml", "--auto-approve", cwd=tmp_path).code == 0
    change = _plan_json(tmp_path)
    assert change["action_reason_text"] == (
        "up to date (live value not reported by target: config, flavor)"
    )


def test_a_saved_plan_reads_back_with_the_target_field_mapping(
    tmp_path: Path, test_plugins: object
) -> None:
    write_manifest(tmp_path / "prod.yaml", paged_manifest(tmp_path / "sm", 3))
    assert run_cli("plan", "-f", "prod.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["target_fields"]["sm"]["model_uri"] == "Tags.model_uri"
    assert run_cli("apply", "plan.json", cwd=tmp_path).code == 0
    state = json.loads(run_cli("state", "pull", "-f", "prod.yaml", cwd=tmp_path).out)
    assert state["deployments"][0]["live"]["model_uri"] == "models:/churn/3"


def test_target_help_fields_explains_the_paths_and_every_example_is_a_valid_mapping(
    tmp_path: Path, test_plugins: object
) -> None:
    from deployctl.targets.records import DEFAULT_RECORD_SHAPE

    alone = run_cli("target-help", "--fields", cwd=tmp_path)
    assert alone.code == 0, alone.err
    assert alone.out.startswith("Field mappings (a target's `fields:` in the manifest)")
    examples = {}
    for line in alone.out.splitlines():
        key, sep, rest = line.strip().partition(": ")
        if sep and line.startswith("    ") and "#" in rest:
            examples[key] = rest.split("#")[0].strip().strip('"')
    assert set(examples) >= {"name", "model_uri", "config.instance_count", "config.temperature"}
    DEFAULT_RECORD_SHAPE.with_fields(examples)  # raises for a key or path deployctl refuses
    both = run_cli("target-help", "pagedtest", "--fields", cwd=tmp_path)
    assert both.out.startswith("pagedtest:/abs/dir - a SageMaker-like test target")
    assert "\nField mappings" in both.out
    neither = run_cli("target-help", cwd=tmp_path)
    assert neither.code != 0 and "needs a SCHEME" in neither.err
