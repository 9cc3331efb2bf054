"""Records: every shape of ``list_deployments`` and ``get_deployment`` read into LiveRecords."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest
from fake_clients import SPEC, Lister, adapter_for, names

from deployctl.errors import TargetError
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.records import DEFAULT_RECORD_SHAPE, RecordShape

Load = Callable[..., TargetAdapter]


# -- list shapes --


def test_a_list_of_dicts_with_name_is_read_as_is() -> None:
    listing = [
        {
            "name": "a",
            "model_uri": "models:/a/1",
            "flavor": "pyfunc",
            "config": {"k": 1},
            "status": "ok",
        },
        {"name": "b", "mlflow_model_uri": "models:/b/2", "state": "READY", "config": "not-a-dict"},
    ]
    a, b = adapter_for(Lister(listing)).list()
    assert (a.name, a.model_uri, a.flavor, a.config, a.status) == (
        "a",
        "models:/a/1",
        "pyfunc",
        {"k": 1},
        "ok",
    )
    assert (b.name, b.model_uri, b.flavor, b.config, b.status) == (
        "b",
        "models:/b/2",
        None,
        None,
        "READY",
    )
    assert b.raw == listing[1]


def test_a_dict_keyed_by_deployment_name_is_read() -> None:
    listing = {"a": {"model_uri": "models:/a/1"}, "b": "running"}
    a, b = adapter_for(Lister(listing)).list()
    assert (a.name, a.model_uri, a.raw) == ("a", "models:/a/1", {"a": {"model_uri": "models:/a/1"}})
    assert (b.name, b.model_uri, b.raw) == ("b", None, {"b": "running"})


def test_torchserve_single_key_dicts_are_named_by_their_key() -> None:
    listing = [{"iris": [{"modelVersion": "1.0"}]}, {"mnist": {"status": "Healthy"}}]
    iris, mnist = adapter_for(Lister(listing)).list()
    assert (iris.name, iris.raw) == ("iris", {"iris": [{"modelVersion": "1.0"}]})
    assert (mnist.name, mnist.status) == ("mnist", "Healthy")


def test_bare_name_strings_are_records_with_only_a_name() -> None:
    a, b = adapter_for(Lister(["a", "b"])).list()
    assert (a.name, a.raw, a.model_uri) == ("a", {"name": "a"}, None)
    assert b.name == "b"


@pytest.mark.parametrize(
    "key", ["EndpointName", "endpoint_name", "deployment_name", "modelName", "model_name"]
)
def test_names_under_other_keys_are_found(key: str) -> None:
    (record,) = adapter_for(Lister([{key: "ep-1", "EndpointStatus": "InService"}])).list()
    assert (record.name, record.status) == ("ep-1", "InService")


def test_a_page_without_a_pagination_parameter_gives_its_first_page() -> None:
    listing = {"deployments": [{"name": "a"}, {"name": "b"}], "next_page_token": "2"}
    assert names(adapter_for(Lister(listing)).list()) == ["a", "b"]


def test_an_empty_listing_is_empty() -> None:
    assert adapter_for(Lister(None)).list() == []
    assert adapter_for(Lister([])).list() == []
    assert adapter_for(Lister({"deployments": []})).list() == []


def test_an_item_without_a_name_says_the_records_need_one() -> None:
    with pytest.raises(TargetError) as info:
        adapter_for(Lister([{"id": 7, "url": "http://x"}]), key="prod").list()
    assert info.value.call == "list_deployments"
    assert info.value.target == "prod"
    assert "records need a `name`" in str(info.value)


def test_a_listing_that_is_not_a_collection_is_refused() -> None:
    with pytest.raises(TargetError, match="instead of a list of deployments"):
        adapter_for(Lister("a,b")).list()


def test_duplicate_names_in_a_listing_keep_the_first_record() -> None:
    records = adapter_for(
        Lister([{"name": "a", "status": "1"}, {"name": "a", "status": "2"}])
    ).list()
    assert [(r.name, r.status) for r in records] == [("a", "1")]


def test_sagemaker_like_records_are_named_and_made_json_safe(load: Load) -> None:
    adapter = load("pagedtest")
    adapter.create("ep", SPEC)
    (record,) = adapter.list()
    assert record.name == "ep"
    assert (record.model_uri, record.flavor, record.config) == (None, None, None)
    assert record.status == "InService"
    assert (
        record.raw["CreationTime"]
        == datetime.fromisoformat("2026-01-02T03:04:05+00:00").isoformat()
    )
    assert record.raw["Handle"] == "<Handle ep>"
    json.dumps(record.to_json())
    assert adapter.get("ep").raw == record.raw


def test_per_request_metadata_is_not_kept_in_live_records(load: Load) -> None:
    adapter = load("pagedtest")
    adapter.create("ep", SPEC)
    first, second = adapter.get("ep"), adapter.get("ep")
    assert "ResponseMetadata" not in first.raw and "EndpointArn" in first.raw
    assert first == second
    listed = adapter_for(Lister([{"name": "a", "ResponseMetadata": {"RequestId": "1"}}])).list()
    assert listed[0].raw == {"name": "a"}


def test_a_field_mapping_reads_dotted_paths_before_the_defaults() -> None:
    listing = [{"EndpointName": "ep", "Tags": {"model_uri": "models:/m/4"}, "name": "arn:ep"}]
    shape = DEFAULT_RECORD_SHAPE.with_fields(
        {"name": "EndpointName", "model_uri": "Tags.model_uri"}
    )
    (record,) = TargetAdapter("t", "fake:/x", Lister(listing), record_shape=shape).list()
    assert (record.name, record.model_uri) == ("ep", "models:/m/4")
    with pytest.raises(ValueError, match="not a record field"):
        RecordShape().with_fields({"colour": "x"})


# -- get and create results --


def test_get_of_a_dict_without_a_name_uses_the_requested_name() -> None:
    record = adapter_for(Lister(got={"state": "READY", "mlflow_model_uri": "models:/m/1"})).get("m")
    assert (record.name, record.status, record.model_uri) == ("m", "READY", "models:/m/1")


def test_get_of_something_that_is_not_a_dict_is_wrapped() -> None:
    record = adapter_for(Lister(got="raw text from the server")).get("m")
    assert record.raw == {"name": "m", "value": "raw text from the server"}


def test_create_results_are_json_safe_and_empty_for_none() -> None:
    assert adapter_for(Lister(got=None)).create("m", SPEC) == {}
    assert adapter_for(Lister(got={"name": "m", "at": datetime(2026, 1, 1)})).create("m", SPEC) == {
        "name": "m",
        "at": "2026-01-01T00:00:00",
    }
    assert adapter_for(Lister(got="ok")).create("m", SPEC) == {"name": "m", "value": "ok"}
