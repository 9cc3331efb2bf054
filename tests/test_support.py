"""The manifest builder the tests share writes YAML that reads back as what it was given."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support import ONE_DEPLOYMENT, deployments, manifest

from deployctl.manifest import load_manifest

AWKWARD = [
    "models:/churn/3",
    "${var.version}",
    'a|b`c"d',
    "3",
    "1.5",
    "2024-05-01",
    "true",
    "No",
    "null",
    ".inf",
    "ends with:",
    "has: colon",
    "-dash",
    "",
    "ünïcode",
]


def test_the_default_is_one_deployment_on_a_local_target_next_to_the_manifest() -> None:
    assert yaml.safe_load(ONE_DEPLOYMENT) == {
        "version": 1,
        "environment": "dev",
        "targets": {
            "local": {
                "uri": "local:.deployctl/dev",
                "deployments": {"churn": {"model_uri": "models:/churn/3"}},
            }
        },
    }


@pytest.mark.parametrize("value", AWKWARD)
def test_strings_read_back_as_written_in_block_and_flow_style(value: str) -> None:
    text = manifest({"churn": {"model_uri": value, "config": {"key": value, "list": [value]}}})
    churn = yaml.safe_load(text)["targets"]["local"]["deployments"]["churn"]
    assert churn == {"model_uri": value, "config": {"key": value, "list": [value]}}


def test_targets_defaults_fields_and_variables_load_as_a_manifest(tmp_path: Path) -> None:
    text = manifest(
        targets={
            "a": {
                "uri": "local:a",
                "fields": {"name": "EndpointName"},
                "defaults": {"flavor": "python_function", "config": {"workers": 1}},
                "deployments": deployments(2, "models:/m/${var.version}"),
            },
            "b": "local:b",
        },
        environment="prod",
        variables={"version": "7"},
    )
    path = tmp_path / "prod.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_manifest(path, environ={})
    assert loaded.environment == "prod"
    assert [(d.address, d.spec.model_uri, d.spec.flavor) for d in loaded.deployments()] == [
        ("a/d0", "models:/m/7", "python_function"),
        ("a/d1", "models:/m/7", "python_function"),
    ]
    assert [t.key for t in loaded.targets] == ["a", "b"]
