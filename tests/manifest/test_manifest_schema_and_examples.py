"""The shipped JSON Schema is well-formed and documented; the examples load as they are."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from deployctl.manifest import load_manifest, manifest_schema
from deployctl.model import NAME_PATTERN

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def test_packaged_schema_is_the_top_level_schema() -> None:
    on_disk = json.loads((REPO / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    assert manifest_schema() == on_disk


def test_schema_is_valid_draft_2020_12_with_an_id() -> None:
    schema = manifest_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, prop in value.items():
                    yield f"{where}.{name}", prop
            yield from _properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from _properties(item, where)


def test_every_property_and_definition_is_described() -> None:
    schema = manifest_schema()
    defs = schema["$defs"]
    for where, prop in _properties(schema):
        ref = prop.get("$ref", "")
        described = "description" in prop or "description" in defs.get(ref.split("/")[-1], {})
        assert described, f"{where} has no description"
    for name, definition in defs.items():
        assert "description" in definition, f"$defs.{name} has no description"


def test_schema_name_pattern_is_the_model_name_pattern() -> None:
    assert manifest_schema()["$defs"]["name"]["pattern"] == NAME_PATTERN


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_example_loads_without_any_environment(environment: str) -> None:
    path = EXAMPLES / f"{environment}.yaml"
    manifest = load_manifest(path, environ={})
    assert manifest.environment == environment
    names = {d.name for d in manifest.deployments()}
    assert {"churn", "fraud"} <= names
    for target in manifest.targets:
        assert target.scheme == "local"
        assert target.resolved_uri.startswith(f"local:{EXAMPLES}/.deployctl/{environment}")
    for deployment in manifest.deployments():
        assert deployment.spec.flavor == "python_function"
        assert deployment.spec.model_uri.startswith("models:/")
        assert "${" not in deployment.spec.model_uri
        assert set(deployment.spec.config) == {"workers", "memory_mb"}


def test_prod_example_has_a_primary_and_a_canary_target() -> None:
    manifest = load_manifest(EXAMPLES / "prod.yaml", environ={})
    assert [t.key for t in manifest.targets] == ["canary", "primary"]
