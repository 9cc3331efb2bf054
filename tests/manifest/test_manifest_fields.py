"""A target's ``fields:`` mapping: where the plugin's records keep what deployctl reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deployctl.manifest import load_manifest
from deployctl.model.field_paths import PATH_RULE

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

SAGEMAKER = """
version: 1
environment: prod
variables:
  tag: model_uri
targets:
  sm:
    uri: sagemaker:/us-east-1
    fields: {status: EndpointStatus, name: EndpointName, model_uri: "Tags.${var.tag}"}
    deployments:
      churn:
        model_uri: models:/churn/3
  local:
    uri: local:.deployctl/prod
"""


def test_fields_are_read_sorted_and_interpolated(write_manifest: WriteManifest) -> None:
    manifest = load_manifest(write_manifest(SAGEMAKER), environ={})
    sm = manifest.target("sm")
    assert sm is not None
    assert sm.fields == (
        ("model_uri", "Tags.model_uri"),
        ("name", "EndpointName"),
        ("status", "EndpointStatus"),
    )
    assert sm.field_mapping() == {
        "model_uri": "Tags.model_uri",
        "name": "EndpointName",
        "status": "EndpointStatus",
    }


def test_a_target_without_fields_has_none(write_manifest: WriteManifest) -> None:
    local = load_manifest(write_manifest(SAGEMAKER), environ={}).target("local")
    assert local is not None
    assert local.fields == ()
    assert local.field_mapping() == {}


def test_every_record_field_can_be_mapped(write_manifest: WriteManifest) -> None:
    text = SAGEMAKER.replace(
        'fields: {status: EndpointStatus, name: EndpointName, model_uri: "Tags.${var.tag}"}',
        "fields: {name: n, status: s, model_uri: m, flavor: f, config: spec.config}",
    )
    sm = load_manifest(write_manifest(text), environ={}).target("sm")
    assert sm is not None
    assert dict(sm.fields) == {
        "config": "spec.config",
        "flavor": "f",
        "model_uri": "m",
        "name": "n",
        "status": "s",
    }


def test_an_unknown_field_is_reported_at_its_key_with_a_suggestion(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        targets:
          sm:
            uri: sagemaker:/us-east-1
            fields:
              name: EndpointName
              stauts: EndpointStatus
              region: us-east-1
        """
    )
    assert issues == [
        (8, 7, "unknown field 'stauts' in fields of target 'sm' (did you mean 'status'?)"),
        (
            9,
            7,
            "unknown field 'region' in fields of target 'sm' (map one of name, model_uri, "
            "flavor, config, status, or config.KEY for one config key)",
        ),
    ]


def test_a_misspelled_fields_key_suggests_fields(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        targets:
          sm:
            uri: sagemaker:/us-east-1
            feilds: {name: EndpointName}
        """
    )
    assert issues == [(6, 5, "unknown field 'feilds' in target 'sm' (did you mean 'fields'?)")]


def test_paths_must_be_non_empty_dotted_strings(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        targets:
          sm:
            uri: sagemaker:/us-east-1
            fields:
              name: ""
              status: 3
              model_uri: Tags..model_uri
              flavor: .flavor
              config: "spec config"
        """
    )
    rule = f"a path is {PATH_RULE}"
    assert issues == [
        (7, 13, f"fields of target 'sm': name: an empty path; {rule}"),
        (
            8,
            15,
            "fields of target 'sm': status: a number is not a path (quote it to make it a "
            f"string); {rule}",
        ),
        (9, 18, f"fields of target 'sm': model_uri: 'Tags..model_uri' is not a path; {rule}"),
        (10, 15, f"fields of target 'sm': flavor: '.flavor' is not a path; {rule}"),
        (11, 15, f"fields of target 'sm': config: 'spec config' is not a path; {rule}"),
    ]


def test_fields_must_be_a_mapping_and_keys_unique(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        targets:
          a:
            uri: sagemaker:/us-east-1
            fields: EndpointName
          b:
            uri: sagemaker:/us-east-1
            fields:
              name: EndpointName
              name: Name
        """
    )
    assert issues == [
        (6, 13, "fields of target 'a' must be a mapping, not a string"),
        (11, 7, "duplicate key 'name' in fields of target 'b' (first at line 10)"),
    ]
