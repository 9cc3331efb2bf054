"""YAML-level problems: syntax, repeated and non-string keys, tags, aliases and merge keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from deployctl.errors import DeployctlError, ManifestError
from deployctl.manifest import load_manifest

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]


def test_duplicate_deployment_is_reported_at_the_second_occurrence(issues_of: Issues) -> None:
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
              fraud:
                model_uri: models:/fraud/1
              churn:
                model_uri: models:/churn/2
        """
    )
    assert issues == [
        (11, 7, "duplicate key 'churn' in deployments of target 'local' (first at line 7)")
    ]


def test_duplicate_keys_are_reported_at_every_level(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        environment: prod
        variables:
          v: "1"
          v: "2"
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: models:/churn/1
                config: {workers: 1, workers: 2}
        """
    )
    assert issues == [
        (3, 1, "duplicate key 'environment' in the manifest (first at line 2)"),
        (6, 3, "duplicate key 'v' in variables (first at line 5)"),
        (
            13,
            30,
            "duplicate key 'workers' in field 'config' of deployment 'churn' (first at line 13)",
        ),
    ]


@pytest.mark.parametrize(
    ("key", "word"),
    [("on", "a boolean"), ("yes", "a boolean"), ("1", "a number"), ("2.5", "a number")],
)
def test_keys_that_yaml_reads_as_non_strings_must_be_quoted(
    issues_of: Issues, key: str, word: str
) -> None:
    issues = issues_of(
        f"""
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              {key}:
                model_uri: models:/m/1
        """
    )
    assert issues == [
        (
            7,
            7,
            f"key '{key}' in deployments of target 'local' is read by YAML as {word}, "
            f'not a string; quote it ("{key}") to use it as a name',
        )
    ]


def test_quoted_keys_are_names(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          "on":
            uri: local:x
            deployments:
              "1": {model_uri: models:/m/1}
        """
    )
    manifest = load_manifest(path, environ={})
    assert [d.address for d in manifest.deployments()] == ["on/1"]


def test_collection_as_key_is_reported(issues_of: Issues) -> None:
    issues = issues_of("version: 1\nenvironment: dev\ntargets: {}\n? [a, b]\n: 1\n")
    assert issues == [(4, 3, "a list cannot be a key in the manifest; keys must be strings")]


def test_syntax_error_is_reported_at_the_problem(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments: [churn
          other: {}
        """
    )
    assert issues == [(7, 8, "invalid YAML: did not find expected ',' or ']'")]


def test_tab_indentation_gets_a_hint(issues_of: Issues) -> None:
    issues = issues_of("version: 1\ntargets:\n\tlocal: {}\n")
    assert issues == [
        (
            3,
            1,
            "invalid YAML: found character that cannot start any token "
            "(YAML does not allow tabs for indentation; use spaces)",
        )
    ]


def test_several_documents_are_rejected(issues_of: Issues) -> None:
    issues = issues_of("version: 1\n---\nversion: 1\n")
    assert issues == [
        (2, 1, "invalid YAML: expected a single document in the stream, but found another document")
    ]


def test_undefined_alias_is_a_syntax_error(issues_of: Issues) -> None:
    issues = issues_of("version: 1\nenvironment: *name\n")
    assert issues == [(2, 14, "invalid YAML: found undefined alias")]


def test_invalid_utf8_is_reported(issues_of: Issues, write_manifest: WriteManifest) -> None:
    path = write_manifest("")
    path.write_bytes(b"version: 1\nenvironment: \xff\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ={})
    (issue,) = caught.value.issues
    assert (issue.line, issue.col) == (2, 14)
    assert issue.message.startswith("invalid YAML: ")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here\n"])
def test_empty_file_is_an_issue_at_the_start(issues_of: Issues, text: str) -> None:
    assert issues_of(text) == [
        (1, 1, "the manifest is empty: it needs version, environment and targets")
    ]


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "a string"), ("null\n", "null")]
)
def test_root_that_is_not_a_mapping_is_an_issue_at_the_start(
    issues_of: Issues, text: str, kind: str
) -> None:
    assert issues_of(text) == [
        (1, 1, f"the manifest must be a mapping with version, environment and targets, not {kind}")
    ]


def test_missing_file_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(DeployctlError) as caught:
        load_manifest(path)
    assert not isinstance(caught.value, ManifestError)
    assert str(caught.value) == f"{path}: cannot read manifest: No such file or directory"


def test_folder_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(DeployctlError, match=r": cannot read manifest: Is a directory$"):
        load_manifest(tmp_path)


def test_anchors_aliases_and_merge_keys_are_followed(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn: &base
                model_uri: models:/churn/1
                config: {workers: 2, memory_mb: 512}
              fraud:
                <<: *base
                model_uri: models:/fraud/1
              recommender: *base
        """
    )
    manifest = load_manifest(path, environ={})
    specs = {d.name: d.spec for d in manifest.deployments()}
    assert specs["fraud"].model_uri == "models:/fraud/1"
    assert specs["fraud"].config == {"workers": 2, "memory_mb": 512}
    assert specs["recommender"].model_uri == "models:/churn/1"
    # Aliased values are copies: no two deployments share a mutable config.
    assert specs["recommender"].config is not specs["churn"].config


def test_merge_keys_mean_what_pyyaml_reads(write_manifest: WriteManifest) -> None:
    text = """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: models:/churn/1
                config:
                  <<: [{workers: 1, memory_mb: 1}, {workers: 9, gpus: 0}]
                  memory_mb: 256
        """
    path = write_manifest(text)
    (churn,) = load_manifest(path, environ={}).deployments()
    expected = yaml.safe_load(path.read_text())["targets"]["local"]["deployments"]["churn"]
    assert churn.spec.config == expected["config"]
    assert churn.spec.config["memory_mb"] == 256


def test_problems_inside_an_aliased_mapping_are_reported_once(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn: &base
                model_uri: models:/churn/1
                model_uri: models:/churn/2
              fraud: *base
        """
    )
    assert issues == [
        (9, 9, "duplicate key 'model_uri' in deployment 'churn' (first at line 8)"),
    ]


def test_invalid_merge_value_is_reported(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                <<: not-a-mapping
                model_uri: models:/churn/1
        """
    )
    assert len(issues) == 1
    line, _, message = issues[0]
    assert line == 8
    assert message.startswith("invalid YAML merge key (<<): expected a mapping")


def test_alias_that_contains_itself_is_reported(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets: {}
        extra: &loop [1, *loop]
        """
    )
    assert (4, 8, "field 'extra[1]' of the manifest contains itself through an alias") in issues


def test_unsupported_tags_are_reported(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: !secret local:x
            deployments:
              churn: {model_uri: !!binary aGVsbG8=}
        """
    )
    assert issues == [
        (5, 10, "unsupported YAML tag '!secret'"),
        (
            7,
            26,
            "unsupported YAML value of tag 'tag:yaml.org,2002:binary'; "
            "use a string, number, boolean, mapping or list",
        ),
    ]


def test_dates_are_kept_as_written(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: models:/churn/1
                config: {released: 2024-05-01, at: 2024-05-01 10:00:00}
        """
    )
    (churn,) = load_manifest(path, environ={}).deployments()
    assert churn.spec.config == {"released": "2024-05-01", "at": "2024-05-01 10:00:00"}


def test_alias_expansion_is_bounded(issues_of: Issues, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deployctl.manifest.yaml_nodes.MAX_VALUES", 1000)
    lines = ["version: 1", "environment: dev", "targets: {}", "a0: &a0 [x, x, x, x, x, x]"]
    for i in range(1, 6):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 6) + "]")
    issues = issues_of("\n".join(lines) + "\n")
    assert issues == [
        (
            1,
            1,
            "the manifest expands to 67,195 values through aliases, from 25 written: "
            "refusing an alias bomb",
        )
    ]
