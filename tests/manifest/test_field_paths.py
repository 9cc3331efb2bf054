"""Paths and per-key config mappings in a target's ``fields:``: accepted, loaded, and worded.

Every bad key or path is one issue at its YAML node, naming the target and the field, and saying
what is allowed (``model.field_paths``' rules, which the schema's patterns implement).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from deployctl.manifest import load_manifest
from deployctl.manifest.validate import manifest_schema
from deployctl.model.field_paths import CONFIG_FIELD_RULE, PATH_RULE

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

MANIFEST = """
version: 1
environment: dev
variables:
  variant: "0"
targets:
  sm:
    uri: sagemaker:/us-east-1
    fields:
      name: EndpointName
      model_uri: Tags.model_uri
      config.instance_count: ProductionVariants.${var.variant}.CurrentInstanceCount
  cr:
    uri: crusoe:/store
    fields: {model_uri: model, config.temperature: temperature, config.max_tokens: max_tokens}
  ts:
    uri: torchserve:/localhost
    fields:
      model_uri: "deploy|json.modelUrl"
      config: "deploy|json.config"
      config.batch_size: "deploy|json.batchSize"
"""


def test_per_key_config_mappings_and_every_path_form_are_loaded(
    write_manifest: WriteManifest,
) -> None:
    manifest = load_manifest(write_manifest(MANIFEST), environ={})
    mappings = {t.key: t.field_mapping() for t in manifest.targets}
    assert mappings == {
        "sm": {
            "config.instance_count": "ProductionVariants.0.CurrentInstanceCount",
            "model_uri": "Tags.model_uri",
            "name": "EndpointName",
        },
        "cr": {
            "config.max_tokens": "max_tokens",
            "config.temperature": "temperature",
            "model_uri": "model",
        },
        "ts": {
            "config": "deploy|json.config",
            "config.batch_size": "deploy|json.batchSize",
            "model_uri": "deploy|json.modelUrl",
        },
    }
    sm = manifest.target("sm")
    assert sm is not None
    assert [key for key, _ in sm.fields] == ["config.instance_count", "model_uri", "name"]


TARGET = """
version: 1
environment: dev
targets:
  sm:
    uri: sagemaker:/us-east-1
    fields:
{fields}
"""


def fields_issues(issues_of: Issues, *lines: str) -> list[tuple[int, int, str]]:
    return issues_of(TARGET.format(fields="\n".join(f"      {line}" for line in lines)))


@pytest.mark.parametrize("key", ["config.a.b", "config.", "config.a|json", '"config.a b"'])
def test_a_config_mapping_of_no_single_key_is_reported_at_the_key_with_the_rule(
    issues_of: Issues, key: str
) -> None:
    written = key.strip('"')
    assert fields_issues(issues_of, "name: EndpointName", f"{key}: x") == [
        (8, 7, f"fields of target 'sm': '{written}' names no config key: {CONFIG_FIELD_RULE}")
    ]


@pytest.mark.parametrize(
    "path",
    ["Tags..model_uri", ".x", "x.", "a b", "deploy|yaml", "deploy|json|json", "|json", "x.|json"],
)
def test_a_path_that_is_not_one_is_reported_at_the_value_with_the_rule(
    issues_of: Issues, path: str
) -> None:
    assert fields_issues(issues_of, f'config.instance_count: "{path}"') == [
        (
            7,
            30,
            f"fields of target 'sm': config.instance_count: '{path}' is not a path; "
            f"a path is {PATH_RULE}",
        )
    ]


def test_an_empty_path_is_one_issue(issues_of: Issues) -> None:
    assert fields_issues(issues_of, 'model_uri: ""') == [
        (7, 18, f"fields of target 'sm': model_uri: an empty path; a path is {PATH_RULE}")
    ]


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("3", "a number is not a path (quote it to make it a string)"),
        ("true", "a boolean is not a path (quote it to make it a string)"),
        ("[a, b]", "a list is not a path"),
        ("{a: b}", "a mapping is not a path"),
        ("null", "null is not a path"),
    ],
)
def test_a_path_that_is_not_text_is_reported_with_the_rule(
    issues_of: Issues, value: str, what: str
) -> None:
    assert fields_issues(issues_of, f"config.replicas: {value}") == [
        (7, 24, f"fields of target 'sm': config.replicas: {what}; a path is {PATH_RULE}")
    ]


def test_an_unknown_field_says_what_may_be_mapped(issues_of: Issues) -> None:
    assert fields_issues(issues_of, "region: Region", "Config.replicas: x") == [
        (
            7,
            7,
            "unknown field 'region' in fields of target 'sm' (map one of name, model_uri, "
            "flavor, config, status, or config.KEY for one config key)",
        ),
        (
            8,
            7,
            "unknown field 'Config.replicas' in fields of target 'sm' "
            "(did you mean 'config.replicas'?)",
        ),
    ]


def test_every_bad_entry_is_reported_at_once_in_file_order(issues_of: Issues) -> None:
    issues = fields_issues(issues_of, "config.a.b: x", "model_uri: a..b", "config.ok: ok")
    assert [(line, col) for line, col, _ in issues] == [(7, 7), (8, 18)]


def test_a_path_with_an_undefined_variable_is_reported_once_for_the_variable(
    issues_of: Issues,
) -> None:
    issues = fields_issues(issues_of, "config.replicas: ProductionVariants.${var.nope}.Count")
    assert len(issues) == 1
    assert "undefined variable 'nope'" in issues[0][2]


def test_a_variable_that_makes_a_bad_path_is_reported_as_a_bad_path(issues_of: Issues) -> None:
    text = TARGET.format(fields="      model_uri: Tags.${var.key}").replace(
        "targets:", "variables:\n  key: a b\ntargets:"
    )
    ((_, _, message),) = issues_of(text)
    assert (
        message
        == f"fields of target 'sm': model_uri: 'Tags.a b' is not a path; a path is {PATH_RULE}"
    )


def test_the_schema_explains_paths_with_examples_that_it_accepts() -> None:
    defs = manifest_schema()["$defs"]
    for name in ("fields", "fieldPath"):
        assert "|json" in defs[name]["description"]
        assert "ProductionVariants.0.CurrentInstanceCount" in defs[name]["description"]
    (config_key,) = defs["fields"]["patternProperties"].values()
    assert "config.instance_count" in config_key["description"]
    schema = {**defs["fields"], "$defs": defs}
    validator = Draft202012Validator(schema)
    for example in defs["fields"]["examples"]:
        assert list(validator.iter_errors(example)) == [], example
    path_validator = Draft202012Validator({**defs["fieldPath"], "$defs": defs})
    for example in defs["fieldPath"]["examples"]:
        assert list(path_validator.iter_errors(example)) == [], example
    assert not validator.is_valid({"config.a.b": "x"})
