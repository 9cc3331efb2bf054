"""Record paths (the values of a manifest's ``fields:``): parsing, reading, one grammar."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from deployctl.manifest.validate import manifest_schema
from deployctl.model.field_paths import (
    CONFIG_FIELD_PATTERN,
    PATH_PATTERN,
    PATH_RULE,
    RECORD_FIELDS,
)
from deployctl.targets.record_paths import MISSING, RecordPath, Segment
from deployctl.targets.records import DEFAULT_RECORD_SHAPE

DESCRIBED: dict[str, Any] = {
    "EndpointName": "churn",
    "ProductionVariants": [
        {"VariantName": "a", "CurrentInstanceCount": 2},
        {"VariantName": "b", "CurrentInstanceCount": 0},
    ],
    "Tags": {"model_uri": "models:/churn/3"},
    "CreationTime": datetime(2026, 1, 2, tzinfo=UTC),
}
TORCHSERVE = {"deploy": json.dumps({"modelName": "churn", "modelUrl": "churn.mar", "w": [1, 2]})}


def find(path: str, record: dict[str, Any]) -> Any:
    return RecordPath.parse(path).find(record)


# -- parsing ---------------------------------------------------------------------------------


def test_a_path_is_split_into_segments_with_json_marks() -> None:
    path = RecordPath.parse("deploy|json.models.0.modelUrl")
    assert path.text == "deploy|json.models.0.modelUrl"
    assert path.segments == (
        Segment("deploy", json=True),
        Segment("models"),
        Segment("0"),
        Segment("modelUrl"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        ".a",
        "a.",
        "a..b",
        "a b",
        "a|json|json",
        "a|yaml",
        "|json",
        "a.|json",
        "a|",
        "a\n",
        "\ta",
    ],
)
def test_a_text_that_is_no_path_is_refused_saying_what_a_path_is(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        RecordPath.parse(text)
    assert str(caught.value) == f"{text!r} is not {PATH_RULE}"


def test_a_value_that_is_not_text_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a key of the target's records"):
        RecordPath.parse(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["EndpointName", "Tags.model_uri", "a-b_c/d:e", "spec.0", "x|json", "a.b|json.c"]
)
def test_keys_dotted_paths_indexes_and_json_marks_are_paths(text: str) -> None:
    assert RecordPath.parse(text).text == text


# -- reading ---------------------------------------------------------------------------------


def test_a_top_level_key_and_a_nested_key_are_read() -> None:
    assert find("EndpointName", DESCRIBED) == "churn"
    assert find("Tags.model_uri", DESCRIBED) == "models:/churn/3"


def test_a_number_indexes_a_list() -> None:
    assert find("ProductionVariants.0.CurrentInstanceCount", DESCRIBED) == 2
    assert find("ProductionVariants.1.CurrentInstanceCount", DESCRIBED) == 0
    assert find("ProductionVariants.1", DESCRIBED) == DESCRIBED["ProductionVariants"][1]


@pytest.mark.parametrize(
    "path",
    [
        "ProductionVariants.2.CurrentInstanceCount",  # past the end
        "ProductionVariants.first.CurrentInstanceCount",  # not a number
        "ProductionVariants.\u0660.CurrentInstanceCount",  # a digit (Arabic-Indic), not 0-9
        "EndpointName.0",  # text is not a list
        "Tags.model_uri.x",  # below a string
        "Missing",
    ],
)
def test_a_path_that_leads_nowhere_is_missing(path: str) -> None:
    assert find(path, DESCRIBED) is MISSING


def test_a_number_is_a_key_like_any_other_in_a_mapping() -> None:
    assert find("shards.0", {"shards": {"0": "primary"}}) == "primary"


def test_json_text_is_parsed_and_read_into() -> None:
    assert find("deploy|json.modelUrl", TORCHSERVE) == "churn.mar"
    assert find("deploy|json.w.1", TORCHSERVE) == 2
    assert find("deploy|json", TORCHSERVE) == json.loads(TORCHSERVE["deploy"])


def test_json_bytes_are_decoded_and_already_parsed_values_are_read_as_they_are() -> None:
    assert find("deploy|json.modelUrl", {"deploy": b'{"modelUrl": "m.mar"}'}) == "m.mar"
    assert find("deploy|json.modelUrl", {"deploy": {"modelUrl": "m.mar"}}) == "m.mar"


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2"])
def test_json_text_that_does_not_parse_is_missing(text: str) -> None:
    assert find("deploy|json.modelUrl", {"deploy": text}) is MISSING
    assert find("deploy|json", {"deploy": text}) is MISSING


def test_without_the_json_mark_json_text_stays_text() -> None:
    assert find("deploy.modelUrl", TORCHSERVE) is MISSING
    assert find("deploy", TORCHSERVE) == TORCHSERVE["deploy"]


def test_a_key_with_dots_is_found_at_the_top_and_below() -> None:
    record = {
        "app.version": "2",
        "metadata": {"labels": {"app.kubernetes.io/name": "churn", "app": "plain"}},
    }
    assert find("app.version", record) == "2"
    assert find("metadata.labels.app.kubernetes.io/name", record) == "churn"
    assert find("metadata.labels.app", record) == "plain"  # the plain split comes first


def test_a_dotted_key_is_tried_when_the_plain_split_leads_nowhere() -> None:
    record = {"a": {"b": {"x": 1}}, "a.b": {"c": 2}}
    assert find("a.b.x", record) == 1
    assert find("a.b.c", record) == 2


def test_segments_are_not_joined_across_a_json_mark() -> None:
    assert find("a|json.b.c", {"a": '{"b.c": 1}'}) == 1
    assert find("a|json.b", {"a|json.b": 1, "a": "{}"}) == 1  # the whole text as a key
    assert find("a.b|json.c", {"a": {"b": '{"c": 3}'}}) == 3


def test_the_default_shape_reads_its_default_keys_as_paths() -> None:
    record = DEFAULT_RECORD_SHAPE.record("churn", {"name": "churn", "mlflow_model_uri": "m:/1"})
    assert record.model_uri == "m:/1"


# -- one grammar: the schemas and the Python constants ---------------------------------------


def test_the_manifest_schema_uses_the_path_pattern_and_the_config_key_pattern() -> None:
    defs = manifest_schema()["$defs"]
    assert defs["fieldPath"]["pattern"] == PATH_PATTERN
    assert list(defs["fields"]["patternProperties"]) == [CONFIG_FIELD_PATTERN]
    assert sorted(defs["fields"]["properties"]) == sorted(RECORD_FIELDS)


def test_the_plan_schema_uses_the_same_patterns_for_target_fields() -> None:
    from importlib import resources

    text = (resources.files("deployctl") / "schemas" / "plan.schema.json").read_text("utf-8")
    target_fields = json.loads(text)["properties"]["target_fields"]["additionalProperties"]
    assert target_fields["additionalProperties"]["pattern"] == PATH_PATTERN
    fields, config_key = target_fields["propertyNames"]["anyOf"]
    assert sorted(fields["enum"]) == sorted(RECORD_FIELDS)
    assert config_key == {"pattern": CONFIG_FIELD_PATTERN}


@pytest.mark.parametrize(
    ("key", "accepted"),
    [
        ("config.temperature", True),
        ("config.max-tokens_2", True),
        ("config.", False),
        ("config.a.b", False),
        ("config.a b", False),
        ("config.a|json", False),
        ("config.a\n", False),
        ("configs.a", False),
    ],
)
def test_a_config_key_mapping_names_one_top_level_key(key: str, accepted: bool) -> None:
    assert bool(re.search(CONFIG_FIELD_PATTERN, key)) is accepted
