"""Per-key config mappings (``config.KEY: PATH``): which config a live record reports, and how.

Read through the fakes of real plugins (``crusoetest``: config keys flat at the top of the record;
``sagemakertest``: the instance count in ``ProductionVariants[0]``), loaded by real entry points.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deployctl.model import DeploymentSpec
from deployctl.model.field_paths import CONFIG_FIELD_RULE, PATH_RULE
from deployctl.model.live import LiveRecord, LiveStatus
from deployctl.planner.plan import live_fingerprint
from deployctl.targets.loading import load_target
from deployctl.targets.records import DEFAULT_RECORD_SHAPE

CRUSOE_FIELDS = {
    "model_uri": "model",
    "config.temperature": "temperature",
    "config.max_tokens": "max_tokens",
}
SAGEMAKER_FIELDS = {
    "model_uri": "Tags.model_uri",
    "config.instance_count": "ProductionVariants.0.CurrentInstanceCount",
}
LLAMA = "meta-llama/Llama-3.3-70B-Instruct"


@pytest.fixture
def crusoe_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUSOE_API_KEY", "test-key")


def test_crusoe_config_keys_kept_flat_are_reported_as_config(
    tmp_path: Path, test_plugins: ModuleType, crusoe_key: None
) -> None:
    adapter = load_target(f"crusoetest:{tmp_path}", key="cr", fields=CRUSOE_FIELDS)
    config = {"temperature": 0.7, "max_tokens": 2048, "top_p": 0.9}
    adapter.create("chat", DeploymentSpec(LLAMA, None, config))
    for record in (adapter.get("chat"), *adapter.list()):
        assert record.model_uri == LLAMA
        assert record.config == {"temperature": 0.7, "max_tokens": 2048}
        assert record.config_keys == ("max_tokens", "temperature")
        assert record.unreported_fields() == ("flavor",)
    # top_p is in the record too, but unmapped: not reported (compared with the last apply).
    assert adapter.get("chat").raw["top_p"] == 0.9


def test_without_per_key_mappings_crusoe_reports_no_config(
    tmp_path: Path, test_plugins: ModuleType, crusoe_key: None
) -> None:
    adapter = load_target(f"crusoetest:{tmp_path}", key="cr", fields={"model_uri": "model"})
    adapter.create("chat", DeploymentSpec(LLAMA, None, {"temperature": 0.7}))
    record = adapter.get("chat")
    assert (record.config, record.config_keys) == (None, None)
    assert record.unreported_fields() == ("flavor", "config")


def test_sagemaker_instance_count_is_read_from_the_first_production_variant(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    adapter = load_target(f"sagemakertest:{tmp_path}", key="sm", fields=SAGEMAKER_FIELDS)
    spec = DeploymentSpec("models:/churn/3", "python_function", {"instance_count": 2})
    adapter.create("churn", spec)
    (listed,) = adapter.list()  # raw AWS items: no name, no variants
    assert (listed.name, listed.status, listed.config) == ("churn", "InService", None)
    got = adapter.get("churn")
    assert (got.model_uri, got.config, got.config_keys) == (
        "models:/churn/3",
        {"instance_count": 2},
        ("instance_count",),
    )
    assert "ResponseMetadata" not in got.raw


def test_a_sagemaker_endpoint_read_twice_has_one_fingerprint_with_its_config_keys(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    adapter = load_target(f"sagemakertest:{tmp_path}", key="sm", fields=SAGEMAKER_FIELDS)
    adapter.create("churn", DeploymentSpec("models:/churn/3", None, {"instance_count": 2}))
    first, second = adapter.get("churn"), adapter.get("churn")
    assert live_fingerprint(LiveStatus("sm", "churn", True, first)) == live_fingerprint(
        LiveStatus("sm", "churn", True, second)
    )
    assert first.fingerprint_view()["config_keys"] == ["instance_count"]


def shape(fields: dict[str, str]) -> Any:
    return DEFAULT_RECORD_SHAPE.with_fields(fields)


def test_only_the_mapped_keys_the_record_holds_are_reported() -> None:
    mapped = shape({"config.a": "a", "config.b": "spec.b", "config.c": "c"})
    record = mapped.record("x", {"a": 1, "spec": {}, "c": None})
    assert record.config == {"a": 1, "c": None}  # null is a value; a missing path is not
    assert record.config_keys == ("a", "c")


def test_no_mapped_key_found_means_config_is_not_reported() -> None:
    record = shape({"config.a": "a"}).record("x", {"name": "x"})
    assert (record.config, record.config_keys) == (None, None)
    assert "config" in record.unreported_fields()


def test_per_key_mappings_are_laid_over_the_whole_config_found() -> None:
    mapped = shape({"config": "spec.config", "config.replicas": "status.replicas"})
    body = {"spec": {"config": {"replicas": 2, "image": "a"}}, "status": {"replicas": 1}}
    record = mapped.record("x", body)
    assert record.config == {"replicas": 1, "image": "a"}
    assert record.config_keys is None  # the whole config is reported


def test_a_config_key_can_be_read_from_json_text() -> None:
    mapped = shape({"config.batch_size": "deploy|json.batchSize"})
    record = mapped.record("x", {"deploy": '{"batchSize": 4, "modelUrl": "x.mar"}'})
    assert (record.config, record.config_keys) == ({"batch_size": 4}, ("batch_size",))


def test_a_partial_config_is_completed_from_a_base_only_where_it_reports_nothing() -> None:
    record = shape({"config.a": "a"}).record("x", {"a": 5})
    assert record.merged_config({"a": 1, "b": 2}) == {"a": 5, "b": 2}
    whole = DEFAULT_RECORD_SHAPE.record("x", {"config": {"a": 5}})
    assert whole.merged_config({"a": 1, "b": 2}) == {"a": 5}


def test_config_keys_survive_a_round_trip_through_json() -> None:
    record = shape({"config.a": "a"}).record("x", {"name": "x", "a": 5})
    again = LiveRecord.from_json(record.to_json())
    assert (again.config, again.config_keys) == ({"a": 5}, ("a",))
    assert LiveRecord.from_json(DEFAULT_RECORD_SHAPE.record("x", {}).to_json()).config_keys is None


def test_a_shape_lists_its_config_keys_sorted_and_a_later_mapping_of_one_key_wins() -> None:
    twice = shape({"config.b": "b", "config.a": "a"}).with_fields({"config.b": "other.b"})
    assert twice.config_keys == (("a", "a"), ("b", "other.b"))


@pytest.mark.parametrize("field", ["config.", "config.a.b", "config.a b", "config.a|json"])
def test_a_mapping_of_no_single_config_key_is_refused_with_the_rule(field: str) -> None:
    with pytest.raises(ValueError) as caught:
        shape({field: "x"})
    assert str(caught.value) == f"'{field}' names no config key: {CONFIG_FIELD_RULE}"


def test_a_mapping_to_no_path_is_refused_with_the_rule() -> None:
    with pytest.raises(ValueError) as caught:
        shape({"config.a": "spec..a"})
    assert str(caught.value) == f"'spec..a' is not {PATH_RULE}"
