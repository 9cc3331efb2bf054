"""${var.NAME} and ${env.NAME} references, --var overrides, and where references apply."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deployctl.manifest import load_manifest
from deployctl.model import DeploymentSpec

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

FORMS = "references are ${var.NAME} or ${env.NAME} (write $${ for a literal ${)"


def manifest_with(deployment: str, variables: str = 'churn_version: "3"') -> str:
    """A manifest whose single deployment 'churn' (line 8) has the given YAML fields."""
    return (
        "version: 1\n"
        "environment: dev\n"
        f"variables: {{{variables}}}\n"
        "targets:\n"
        "  local:\n"
        "    uri: local:x\n"
        "    deployments:\n"
        f"      churn: {{{deployment}}}\n"
    )


def churn_spec(path: Path, **kwargs: object) -> DeploymentSpec:
    manifest = load_manifest(path, **kwargs)  # type: ignore[arg-type]
    (churn,) = manifest.deployments()
    return churn.spec


def test_variable_is_expanded_inside_a_string(write_manifest: WriteManifest) -> None:
    path = write_manifest(manifest_with("model_uri: 'models:/churn/${var.churn_version}'"))
    assert churn_spec(path, environ={}).model_uri == "models:/churn/3"


def test_environment_variable_is_expanded(write_manifest: WriteManifest) -> None:
    path = write_manifest(manifest_with("model_uri: '${env.CHURN_URI}'"))
    spec = churn_spec(path, environ={"CHURN_URI": "runs:/abc/model"})
    assert spec.model_uri == "runs:/abc/model"


def test_environment_defaults_to_the_process_environment(
    write_manifest: WriteManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYCTL_TEST_URI", "models:/from-env/1")
    path = write_manifest(manifest_with("model_uri: '${env.DEPLOYCTL_TEST_URI}'"))
    assert churn_spec(path).model_uri == "models:/from-env/1"


def test_double_dollar_escapes_a_reference(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        manifest_with("model_uri: m, config: {cmd: 'echo $${HOME} ${var.churn_version} $$x'}")
    )
    assert churn_spec(path, environ={}).config == {"cmd": "echo ${HOME} 3 $$x"}


def test_whole_string_reference_keeps_the_variable_type(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        manifest_with(
            "model_uri: m, config: {workers: '${var.workers}', gpu: '${var.gpu}', "
            "ratio: '${var.ratio}', label: 'n=${var.workers} gpu=${var.gpu}'}",
            variables="workers: 2, gpu: false, ratio: 0.5",
        )
    )
    assert churn_spec(path, environ={}).config == {
        "workers": 2,
        "gpu": False,
        "ratio": 0.5,
        "label": "n=2 gpu=false",
    }


def test_whole_string_env_reference_is_a_string(write_manifest: WriteManifest) -> None:
    path = write_manifest(manifest_with("model_uri: m, config: {workers: '${env.WORKERS}'}"))
    assert churn_spec(path, environ={"WORKERS": "4"}).config == {"workers": "4"}


def test_var_overrides_are_converted_to_the_declared_type(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        manifest_with(
            "model_uri: 'models:/churn/${var.version}', "
            "config: {workers: '${var.workers}', gpu: '${var.gpu}', ratio: '${var.ratio}'}",
            variables="version: '1', workers: 1, gpu: false, ratio: 0.5",
        )
    )
    overrides = {"version": "7", "workers": "3", "gpu": "True", "ratio": "2"}
    manifest = load_manifest(path, variables=overrides, environ={})
    (churn,) = manifest.deployments()
    assert churn.spec.model_uri == "models:/churn/7"
    assert churn.spec.config == {"workers": 3, "gpu": True, "ratio": 2.0}
    assert manifest.variables == (("gpu", True), ("ratio", 2.0), ("version", "7"), ("workers", 3))


@pytest.mark.parametrize(
    ("declared", "given", "expected"),
    [
        ("1", "many", "expected a whole number, like its declared value 1"),
        ("1", "1.5", "expected a whole number, like its declared value 1"),
        ("0.5", "half", "expected a number, like its declared value 0.5"),
        ("false", "yes", "expected true or false, like its declared value false"),
    ],
)
def test_var_override_of_the_wrong_type_is_an_issue(
    issues_of: Issues, declared: str, given: str, expected: str
) -> None:
    issues = issues_of(
        manifest_with("model_uri: m", variables=f"size: {declared}"), variables={"size": given}
    )
    assert issues == [
        (3, 13, f"invalid value '{given}' for variable 'size' given with --var: {expected}")
    ]


def test_undeclared_var_override_is_an_issue_at_the_variables_key(issues_of: Issues) -> None:
    issues = issues_of(manifest_with("model_uri: m"), variables={"x": "1"})
    assert issues == [
        (3, 1, "unknown variable 'x' given with --var (declare it under variables: in dev.yaml)")
    ]


def test_undeclared_var_override_without_variables_is_an_issue_at_the_start(
    issues_of: Issues,
) -> None:
    issues = issues_of(
        "version: 1\nenvironment: dev\ntargets: {}\n", variables={"churn_version": "3"}
    )
    assert issues == [
        (
            1,
            1,
            "unknown variable 'churn_version' given with --var "
            "(declare it under variables: in dev.yaml)",
        )
    ]


def test_undefined_variable_is_reported_at_the_string(issues_of: Issues) -> None:
    issues = issues_of(manifest_with("model_uri: 'models:/churn/${var.churn_verison}'"))
    assert issues == [
        (
            8,
            26,
            "undefined variable 'churn_verison' in field 'model_uri' of deployment 'churn' "
            "(declare it under variables: or pass --var churn_verison=VALUE)",
        )
    ]


def test_unset_environment_variable_is_reported(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              fraud:
                model_uri: ${env.FRAUD_MODEL_URI}
        """,
        environ={"OTHER": "1"},
    )
    assert issues == [
        (
            8,
            20,
            "environment variable 'FRAUD_MODEL_URI' is not set "
            "(used in field 'model_uri' of deployment 'fraud')",
        )
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("${foo.x}", "invalid reference '${foo.x}'"),
        ("${var.}", "invalid reference '${var.}'"),
        ("${var.a-b}", "invalid reference '${var.a-b}'"),
        ("${churn_version}", "invalid reference '${churn_version}'"),
        ("${}", "invalid reference '${}'"),
        ("models:/churn/${var.churn_version", "unterminated reference '${var.churn_version'"),
    ],
)
def test_malformed_references_name_the_reference_and_the_forms(
    issues_of: Issues, value: str, problem: str
) -> None:
    issues = issues_of(manifest_with(f"model_uri: '{value}'"))
    assert issues == [(8, 26, f"{problem} in field 'model_uri' of deployment 'churn': {FORMS}")]


def test_references_are_expanded_in_target_uris_defaults_and_nested_config(
    write_manifest: WriteManifest, tmp_path: Path
) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        variables: {env_name: dev, tag: v1, flavor: python_function}
        targets:
          local:
            uri: local:.deployctl/${var.env_name}
            defaults:
              flavor: ${var.flavor}
              config: {image: {tag: "${var.tag}"}, args: ["--tag=${var.tag}"]}
            deployments:
              churn: {model_uri: m}
        """,
    )
    manifest = load_manifest(path, environ={}, variables={"tag": "v2"})
    (target,) = manifest.targets
    assert target.uri == "local:.deployctl/dev"
    assert target.resolved_uri == f"local:{tmp_path}/.deployctl/dev"
    (churn,) = target.deployments
    assert churn.spec.flavor == "python_function"
    assert churn.spec.config == {"image": {"tag": "v2"}, "args": ["--tag=v2"]}


def test_references_above_targets_and_in_keys_are_left_alone(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: ${var.env}
        variables:
          env: dev
          copy: ${var.env}
        targets:
          local:
            uri: local:x
            deployments:
              ${var.env}: {model_uri: m}
        """
    )
    name_rule = (
        "names start with a letter or digit and contain only letters, digits, '.', '_' and '-' "
        "(at most 128 characters)"
    )
    assert issues == [
        (2, 14, f"invalid environment name '${{var.env}}': {name_rule}"),
        (10, 7, f"invalid deployment name '${{var.env}}': {name_rule}"),
    ]


def test_variables_keep_references_literally(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        manifest_with("model_uri: '${var.copy}'", variables="copy: '${var.other}', other: x")
    )
    manifest = load_manifest(path, environ={})
    (churn,) = manifest.deployments()
    assert churn.spec.model_uri == "${var.other}"


def test_interpolation_and_schema_issues_are_reported_together(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: ${var.missing}
                config: 3
              fraud:
                model_uri: ${env.FRAUD}
        """
    )
    assert [(line, col) for line, col, _ in issues] == [(8, 20), (9, 17), (11, 20)]
    assert issues[0][2].startswith("undefined variable 'missing'")
    assert issues[1][2].startswith("field 'config' of deployment 'churn' must be a mapping")
    assert issues[2][2].startswith("environment variable 'FRAUD' is not set")


def test_invalid_variable_does_not_also_report_its_uses(issues_of: Issues) -> None:
    issues = issues_of(manifest_with("model_uri: '${var.v}'", variables="v: [1]"))
    assert issues == [(3, 16, "variable 'v' must be a string, a number or a boolean, not a list")]


def test_whole_string_reference_can_produce_a_schema_error(issues_of: Issues) -> None:
    issues = issues_of(manifest_with("model_uri: '${var.v}'", variables="v: 3"))
    assert issues == [
        (
            8,
            26,
            "field 'model_uri' of deployment 'churn' must be a string, not a number "
            "(quote it to make it a string)",
        )
    ]


@pytest.mark.parametrize(
    "model_uri",
    [
        '"models:/churn/\\x24{var.churn_version}"',  # the "$" written as an escape
        '"models:/churn/$\\x7bvar.churn_version}"',  # the "{" written as an escape
        '"models:/churn/\\u0024{var.churn_version}"',
    ],
)
def test_a_reference_written_with_escapes_is_expanded(
    write_manifest: WriteManifest, model_uri: str
) -> None:
    path = write_manifest(manifest_with(f"model_uri: {model_uri}"))
    assert churn_spec(path, environ={}).model_uri == "models:/churn/3"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_reference_in_a_utf16_manifest_is_expanded(tmp_path: Path, encoding: str) -> None:
    text = manifest_with("model_uri: 'models:/churn/${var.churn_version}'")
    path = tmp_path / "dev.yaml"
    path.write_bytes(("\ufeff" + text).encode(encoding))  # with its byte order mark
    assert churn_spec(path, environ={}).model_uri == "models:/churn/3"
