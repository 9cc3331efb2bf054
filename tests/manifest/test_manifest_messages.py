"""Schema problems are reported in plain words, at the YAML node a person would edit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deployctl.errors import ManifestError
from deployctl.manifest import load_manifest

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

NAME_RULE = (
    "names start with a letter or digit and contain only letters, digits, '.', '_' and '-' "
    "(at most 128 characters)"
)


def test_misspelled_field_is_reported_at_the_key_with_a_suggestion(
    write_manifest: WriteManifest,
) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        variables:
          churn_version: "3"
        targets:
          local:
            uri: local:.deployctl/dev
            deployments:
              fraud:
                model_uri: models:/fraud/1
              churn:
                modle_uri: models:/churn/${var.churn_version}
        """
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ={})
    expected = "unknown field 'modle_uri' in deployment 'churn' (did you mean 'model_uri'?)"
    assert str(caught.value).splitlines() == [
        f"{path}:11:7: deployment 'churn' is missing required field 'model_uri'",
        f"{path}:12:9: {expected}",
    ]


def test_unknown_field_without_a_close_match_has_no_suggestion(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            replicas: 3
        """
    )
    assert issues == [(6, 5, "unknown field 'replicas' in target 'local'")]


def test_unknown_top_level_field_names_the_manifest(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        target:
          local: {uri: local:x}
        """
    )
    assert (3, 1, "unknown field 'target' in the manifest (did you mean 'targets'?)") in issues


def test_unknown_field_in_defaults_names_the_defaults(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              flavour: python_function
        """
    )
    assert issues == [
        (7, 7, "unknown field 'flavour' in defaults of target 'local' (did you mean 'flavor'?)")
    ]


def test_missing_field_is_reported_at_the_key_naming_the_mapping(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            deployments:
              churn:
                flavor: python_function
        """
    )
    assert issues == [
        (4, 3, "target 'local' is missing required field 'uri'"),
        (6, 7, "deployment 'churn' is missing required field 'model_uri'"),
    ]


def test_missing_top_level_fields_are_each_reported(issues_of: Issues) -> None:
    issues = issues_of("version: 1\n")
    assert issues == [
        (1, 1, "the manifest is missing required field 'environment'"),
        (1, 1, "the manifest is missing required field 'targets'"),
    ]


def test_wrong_type_is_reported_at_the_value_in_yaml_words(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: models:/churn/1
                config: [workers, 2]
        """
    )
    assert issues == [(9, 17, "field 'config' of deployment 'churn' must be a mapping, not a list")]


def test_deployment_that_is_not_a_mapping_is_named(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn: models:/churn/1
        """
    )
    assert issues == [(7, 14, "deployment 'churn' must be a mapping, not a string")]


def test_number_where_a_string_is_wanted_suggests_quoting(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: 2024
        targets: {}
        """
    )
    assert issues == [
        (
            2,
            14,
            "field 'environment' of the manifest must be a string, not a number "
            "(quote it to make it a string)",
        )
    ]


def test_empty_mapping_written_as_nothing_suggests_braces(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
        """
    )
    assert issues == [
        (
            3,
            9,
            "field 'targets' of the manifest must be a mapping, not null "
            "(write {} for an empty mapping)",
        )
    ]


def test_variable_of_unsupported_type_is_named(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        variables:
          sizes: [1, 2]
        targets: {}
        """
    )
    assert issues == [
        (4, 10, "variable 'sizes' must be a string, a number or a boolean, not a list")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 2\n", "unsupported manifest version 2 (this deployctl reads version 1)"),
        ('version: "1"\n', "unsupported manifest version '1' (this deployctl reads version 1)"),
        ("version: true\n", "unsupported manifest version true (this deployctl reads version 1)"),
    ],
)
def test_unsupported_version_is_reported(issues_of: Issues, text: str, expected: str) -> None:
    issues = issues_of(text + "environment: dev\ntargets: {}\n")
    assert issues == [(1, 10, expected)]


def test_empty_model_uri_is_reported(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: ""
        """
    )
    assert issues == [(8, 20, "field 'model_uri' of deployment 'churn' must not be empty")]


def test_empty_target_uri_is_reported(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: ''
        """
    )
    assert issues == [(5, 10, "field 'uri' of target 'local' must not be empty")]


def test_invalid_names_are_reported_at_the_key(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        variables:
          churn-version: "3"
        targets:
          _local:
            uri: local:x
            deployments:
              my model:
                model_uri: models:/m/1
        """
    )
    assert issues == [
        (
            4,
            3,
            "invalid variable name 'churn-version': variable names start with a letter or '_' "
            "and contain only letters, digits and '_'",
        ),
        (6, 3, f"invalid target name '_local': {NAME_RULE}"),
        (9, 7, f"invalid deployment name 'my model': {NAME_RULE}"),
    ]


def test_invalid_environment_name_is_reported_at_the_value(issues_of: Issues) -> None:
    issues = issues_of("version: 1\nenvironment: my env\ntargets: {}\n")
    assert issues == [(2, 14, f"invalid environment name 'my env': {NAME_RULE}")]


@pytest.mark.parametrize("name", ["churn", "churn-v2", "a.b_c-d", "0", "x" * 128])
def test_names_of_the_pattern_are_accepted(write_manifest: WriteManifest, name: str) -> None:
    path = write_manifest(
        f"""
        version: 1
        environment: "{name}"
        targets:
          "{name}":
            uri: local:x
            deployments:
              "{name}": {{model_uri: models:/m/1}}
        """
    )
    manifest = load_manifest(path, environ={})
    assert [d.address for d in manifest.deployments()] == [f"{name}/{name}"]


@pytest.mark.parametrize("name", ["-churn", ".hidden", "a/b", "x" * 129, "churn!"])
def test_names_outside_the_pattern_are_rejected(issues_of: Issues, name: str) -> None:
    issues = issues_of(
        f"""
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              "{name}": {{model_uri: models:/m/1}}
        """
    )
    assert issues == [(7, 7, f"invalid deployment name '{name}': {NAME_RULE}")]


def test_anything_is_allowed_inside_config(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              config: {anything: [1, {deep: null}]}
            deployments:
              churn:
                model_uri: models:/churn/1
                config:
                  not a name!: true
                  resources: {gpu: 0.5, labels: [a, b]}
        """
    )
    manifest = load_manifest(path, environ={})
    (churn,) = manifest.deployments()
    assert churn.spec.config == {
        "anything": [1, {"deep": None}],
        "not a name!": True,
        "resources": {"gpu": 0.5, "labels": ["a", "b"]},
    }


def test_every_problem_is_reported_at_once_in_line_order(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: models:/churn/1
                config: []
              fraud:
                flavor: 3
              recommender:
                model_uri: models:/rec/1
                modle: x
        """
    )
    assert issues == [
        (9, 17, "field 'config' of deployment 'churn' must be a mapping, not a list"),
        (10, 7, "deployment 'fraud' is missing required field 'model_uri'"),
        (
            11,
            17,
            "field 'flavor' of deployment 'fraud' must be a string, not a number "
            "(quote it to make it a string)",
        ),
        (14, 9, "unknown field 'modle' in deployment 'recommender' (did you mean 'model_uri'?)"),
    ]


def test_issue_paths_are_the_path_as_given(
    write_manifest: WriteManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_manifest("version: 3\nenvironment: dev\ntargets: {}\n")
    relative = Path(tmp_path.name) / "dev.yaml"
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(ManifestError) as caught:
        load_manifest(relative, environ={})
    assert str(caught.value) == (
        f"{relative}:1:10: unsupported manifest version 3 (this deployctl reads version 1)"
    )
