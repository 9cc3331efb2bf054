"""The adapter: list shapes, call shapes decided from signatures, error wrapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support import require_mlflow

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import (
    DEFAULT_RECORD_SHAPE,
    RecordShape,
    TargetAdapter,
    client_shape,
    describe_exception,
    error_says_not_found,
)

Load = Callable[..., TargetAdapter]
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"replicas": 2})


def calls_of(adapter: TargetAdapter, method: str | None = None) -> list[dict[str, Any]]:
    from dtp_common import read_calls

    calls = read_calls(Path(adapter.uri.partition(":")[2]))
    return [c for c in calls if method is None or c["method"] == method]


def faults(adapter: TargetAdapter, **kinds: Any) -> None:
    from dtp_common import write_faults

    write_faults(Path(adapter.uri.partition(":")[2]), kinds)


class Lister:
    """A client whose list_deployments returns whatever the test gives it."""

    def __init__(self, listing: Any = None, got: Any = None) -> None:
        self.target_uri = "fake:/x"
        self.listing = listing
        self.got = got

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any = None, config: Any = None
    ) -> Any:
        return self.got

    def get_deployment(self, name: str) -> Any:
        return self.got

    def list_deployments(self) -> Any:
        return self.listing

    def delete_deployment(self, name: str) -> None:
        return None


def adapter_for(client: Any, key: str = "t", uri: str = "fake:/x") -> TargetAdapter:
    return TargetAdapter(key, uri, client)


def names(records: list[Any]) -> list[str]:
    return [r.name for r in records]


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


def test_paged_listings_are_followed_when_the_plugin_takes_pagination_args(load: Load) -> None:
    adapter = load("pagedtest")
    for i in range(5):
        adapter.create(f"ep-{i}", SPEC)
    assert names(adapter.list()) == [f"ep-{i}" for i in range(5)]
    pages = [c["kwargs"]["pagination_args"] for c in calls_of(adapter, "list_deployments")]
    assert pages == [None, {"page_token": "2"}, {"page_token": "4"}]


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


# -- call shapes --


def test_seed_update_gets_the_target_uri_first(load: Load) -> None:
    adapter = load("seedtest")
    adapter.create("churn", DeploymentSpec("models:/churn/1"))
    assert adapter.update("churn", SPEC) is None
    (call,) = calls_of(adapter, "update_deployment")
    assert call["args"] == [adapter.uri, "churn"]
    assert call["kwargs"] == {
        "model_uri": "models:/churn/3",
        "flavor": "python_function",
        "config": {"replicas": 2},
    }
    assert adapter.get("churn").model_uri == "models:/churn/3"


def test_mlflow_update_gets_the_name_first_and_no_endpoint(load: Load) -> None:
    require_mlflow()
    adapter = load("mlflowtest")
    adapter.create("churn", DeploymentSpec("models:/churn/1"))
    updated = adapter.update("churn", SPEC)
    assert updated is not None and updated["model_uri"] == "models:/churn/3"
    (call,) = calls_of(adapter, "update_deployment")
    assert call["args"] == ["churn"]
    assert call["kwargs"]["config"] == {"replicas": 2}
    assert call["kwargs"]["endpoint"] is None
    assert adapter.get("churn").status == "READY"


class Recorder:
    """Records the arguments each method receives; ``endpoint`` defaults to a sentinel."""

    def __init__(self) -> None:
        self.target_uri = "fake:/x"
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def create_deployment(
        self,
        name: str,
        model_uri: str,
        flavor: Any = None,
        config: Any = None,
        endpoint: Any = "unset",
    ) -> Any:
        self.calls.append(("create", (name, model_uri, flavor, config), {"endpoint": endpoint}))
        return {"name": name}

    def update_deployment(
        self,
        name: str,
        model_uri: Any = None,
        flavor: Any = None,
        config: Any = None,
        endpoint: Any = "unset",
    ) -> None:
        self.calls.append(("update", (name, model_uri, flavor, config), {"endpoint": endpoint}))

    def delete_deployment(self, name: str, config: Any = "unset", endpoint: Any = "unset") -> None:
        self.calls.append(("delete", (name,), {"config": config, "endpoint": endpoint}))

    def get_deployment(self, name: str, endpoint: Any = "unset") -> Any:
        self.calls.append(("get", (name,), {"endpoint": endpoint}))
        return {"name": name}

    def list_deployments(self, endpoint: Any = "unset") -> Any:
        self.calls.append(("list", (), {"endpoint": endpoint}))
        return []


def test_optional_endpoint_and_config_keywords_are_left_to_their_defaults() -> None:
    client = Recorder()
    adapter = adapter_for(client)
    adapter.create("m", DeploymentSpec("models:/m/1"))
    adapter.update("m", SPEC)
    adapter.get("m")
    adapter.list()
    adapter.delete("m")
    assert client.calls == [
        ("create", ("m", "models:/m/1", None, {}), {"endpoint": "unset"}),
        (
            "update",
            ("m", "models:/churn/3", "python_function", {"replicas": 2}),
            {"endpoint": "unset"},
        ),
        ("get", ("m",), {"endpoint": "unset"}),
        ("list", (), {"endpoint": "unset"}),
        ("delete", ("m",), {"config": "unset", "endpoint": "unset"}),
    ]


class WatsonStyle:
    """``endpoint`` is a required positional parameter (as in mlflow-watsonml)."""

    def __init__(self) -> None:
        self.target_uri = "wml:/x"
        self.seen: list[tuple[str, Any]] = []

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any, config: Any, endpoint: Any
    ) -> Any:
        self.seen.append(("create", (name, model_uri, flavor, config, endpoint)))
        return {"name": name}

    def get_deployment(self, name: str, endpoint: Any) -> Any:
        self.seen.append(("get", (name, endpoint)))
        return {"name": name}

    def list_deployments(self, endpoint: Any) -> Any:
        self.seen.append(("list", endpoint))
        return [{"name": "m"}]

    def delete_deployment(self, name: str, config: Any, endpoint: Any) -> None:
        self.seen.append(("delete", (name, config, endpoint)))

    def predict(self, deployment_name: str, df: Any, endpoint: Any) -> Any:
        self.seen.append(("predict", (deployment_name, df, endpoint)))
        return "scored"


def test_a_required_endpoint_parameter_gets_none() -> None:
    client = WatsonStyle()
    adapter = adapter_for(client)
    adapter.create("m", DeploymentSpec("models:/m/1"))
    assert names(adapter.list()) == ["m"]
    adapter.get("m")
    adapter.delete("m")
    assert adapter.predict("m", "df") == "scored"
    assert client.seen == [
        ("create", ("m", "models:/m/1", None, {}, None)),
        ("list", None),
        ("get", ("m", None)),
        ("delete", ("m", None, None)),
        ("predict", ("m", "df", None)),
    ]


class OddNames:
    """Parameters named differently, and a client without update_deployment or predict."""

    def __init__(self) -> None:
        self.target_uri = "odd:/x"
        self.created: list[tuple[Any, ...]] = []

    def create_deployment(self, model_name: str, uri: str) -> None:
        self.created.append((model_name, uri))

    def get_deployment(self, deployment_id: str) -> Any:
        return {"id": deployment_id}

    def list_deployments(self, *args: Any, **kwargs: Any) -> Any:
        return []

    def delete_deployment(self, *args: Any, **kwargs: Any) -> None:
        self.deleted = (args, kwargs)


def test_unrecognised_required_parameters_are_passed_by_position() -> None:
    client = OddNames()
    adapter = adapter_for(client)
    adapter.create("m", DeploymentSpec("models:/m/1"))
    assert client.created == [("m", "models:/m/1")]
    assert adapter.get("m").raw == {"id": "m"}
    adapter.delete("m")
    assert client.deleted == (("m",), {})


def test_a_flavor_the_plugin_cannot_take_is_an_error_naming_the_fix() -> None:
    with pytest.raises(TargetError) as info:
        adapter_for(OddNames(), key="odd").create("m", SPEC)
    assert info.value.call == "create_deployment"
    assert info.value.address == "odd/m"
    assert "takes no flavor and config" in str(info.value)
    assert "remove flavor and config" in str(info.value)


def test_update_and_predict_of_a_plugin_without_them_are_target_errors() -> None:
    adapter = adapter_for(OddNames())
    with pytest.raises(TargetError, match="has no update_deployment method") as info:
        adapter.update("m", SPEC)
    assert info.value.call == "update_deployment"
    with pytest.raises(TargetError, match="has no predict method"):
        adapter.predict("m", None)


def test_varargs_methods_are_called_as_mlflows_cli_calls_them() -> None:
    class Varargs(Lister):
        def create_deployment(self, *args: Any, **kwargs: Any) -> Any:
            self.received = (args, kwargs)
            return None

    client = Varargs()
    adapter_for(client).create("m", SPEC)
    assert client.received == (
        ("m", "models:/churn/3"),
        {"config": {"replicas": 2}, "flavor": "python_function"},
    )


def test_a_plugin_changing_the_config_it_is_given_does_not_change_the_spec() -> None:
    class Mutator(Lister):
        def create_deployment(
            self, name: str, model_uri: str, flavor: Any = None, config: Any = None
        ) -> Any:
            config["replicas"] = 99
            return None

    adapter_for(Mutator()).create("m", SPEC)
    assert SPEC.config == {"replicas": 2}


def test_call_shapes_are_decided_once_per_client_class() -> None:
    first, second = adapter_for(Recorder()), adapter_for(Recorder())
    assert first.shape is second.shape
    assert client_shape(Recorder()) is first.shape
    assert adapter_for(WatsonStyle()).shape is not first.shape


def test_a_client_missing_a_required_method_is_refused() -> None:
    class NoGet:
        def create_deployment(self, name: str, model_uri: str) -> None: ...
        def list_deployments(self) -> list[Any]:
            return []

        def delete_deployment(self, name: str) -> None: ...

    with pytest.raises(TargetError, match="has no get_deployment method") as info:
        adapter_for(NoGet())
    assert info.value.call == "get_deployment"


# -- predict, run_local, target_help --


def test_predict_passes_name_and_dataframe_positionally(load: Load) -> None:
    adapter = load("seedtest")
    adapter.create("churn", DeploymentSpec("models:/churn/1"))
    out = adapter.predict("churn", pd.DataFrame({"x": [1, 2]}))
    assert out["prediction"].tolist() == ["models:/churn/1", "models:/churn/1"]


def test_predict_reaches_an_mlflow_3_predict(load: Load) -> None:
    require_mlflow()
    adapter = load("mlflowtest")
    adapter.create("churn", DeploymentSpec("models:/churn/1"))
    assert adapter.predict("churn", pd.DataFrame({"x": [1]})) == {
        "predictions": ["models:/churn/1"]
    }


def test_run_local_is_called_in_each_of_its_three_forms(load: Load) -> None:
    seed = load("seedtest").run_local("m", SPEC)
    assert seed == {
        "form": "seed",
        "model_uri": "models:/churn/3",
        "flavor": "python_function",
        "config": {"replicas": 2},
    }
    paged = load("pagedtest").run_local("m", SPEC)
    assert (paged["form"], paged["name"], paged["model_uri"]) == (
        "mlflow-cli",
        "m",
        "models:/churn/3",
    )
    require_mlflow()
    adapter = load("mlflowtest")
    stub = adapter.run_local("m", SPEC)
    assert (stub["form"], stub["target"], stub["name"]) == ("mlflow-stub", adapter.uri, "m")


def test_target_help_comes_from_the_plugin_module(load: Load) -> None:
    assert "seed plugin API" in load("seedtest").target_help()
    assert "no target_help" in adapter_for(Lister()).target_help()
    with pytest.raises(TargetError, match="has no run_local function"):
        adapter_for(Lister()).run_local("m", SPEC)


# -- errors --


def test_a_seed_get_of_a_missing_name_is_a_not_found_target_error(load: Load) -> None:
    adapter = load("seedtest", key="dev")
    with pytest.raises(TargetError) as info:
        adapter.get("ghost")
    error = info.value
    assert (error.target, error.call, error.address) == ("dev", "get_deployment", "dev/ghost")
    assert error.not_found
    assert isinstance(error.cause, ValueError)
    assert (
        str(error)
        == "target 'dev', get_deployment for dev/ghost: ValueError: deployment ghost not found"
    )


def test_an_mlflow_error_code_marks_not_found(load: Load) -> None:
    require_mlflow()
    with pytest.raises(TargetError) as info:
        load("mlflowtest").get("ghost")
    assert info.value.not_found
    assert "MlflowException: deployment ghost does not exist" in str(info.value)


def test_a_botocore_style_error_marks_not_found(load: Load) -> None:
    adapter = load("pagedtest")
    with pytest.raises(TargetError) as info:
        adapter.delete("ghost")
    assert info.value.not_found
    assert info.value.call == "delete_deployment"
    assert "ClientError: An error occurred (ValidationException)" in str(info.value)


def test_a_conflict_is_not_marked_not_found(load: Load) -> None:
    adapter = load("seedtest")
    adapter.create("m", SPEC)
    with pytest.raises(TargetError) as info:
        adapter.create("m", SPEC)
    assert not info.value.not_found


def test_injected_failures_are_wrapped_with_the_address(load: Load) -> None:
    adapter = load("seedtest", key="dev")
    faults(adapter, fail={"create_deployment": ["m"], "list_deployments": True})
    with pytest.raises(
        TargetError, match="InjectedFault: injected failure: create_deployment m"
    ) as info:
        adapter.create("m", SPEC)
    assert info.value.address == "dev/m"
    with pytest.raises(TargetError) as listing:
        adapter.list()
    assert (listing.value.call, listing.value.address) == ("list_deployments", None)


def test_messages_are_one_line_and_truncated() -> None:
    class Noisy(Lister):
        def get_deployment(self, name: str) -> Any:
            raise RuntimeError("first line\n\n   second\tline " + "x" * 1000)

    with pytest.raises(TargetError) as info:
        adapter_for(Noisy()).get("m")
    message = str(info.value)
    assert "\n" not in message
    assert "RuntimeError: first line second line xxx" in message
    assert len(describe_exception(info.value.cause)) == 300  # type: ignore[arg-type]
    assert message.endswith("…")


def test_keyboard_interrupt_is_not_wrapped() -> None:
    class Interrupted(Lister):
        def list_deployments(self) -> Any:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapter_for(Interrupted()).list()


class Coded(Exception):
    def __init__(self, text: str = "", error_code: str | None = None, response: Any = None) -> None:
        super().__init__(text)
        self.error_code = error_code
        self.response = response


class HttpResponse:
    status_code = 404


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (KeyError("m"), True),
        (Coded("boom", "RESOURCE_DOES_NOT_EXIST"), True),
        (Coded("boom", "ENDPOINT_NOT_FOUND"), True),
        (Coded("boom", "NOT_FOUND"), True),
        (Coded("boom", "INTERNAL_ERROR"), False),
        (Coded("Deployment m already exists", "RESOURCE_ALREADY_EXISTS"), False),
        (ValueError("Model m not found"), True),
        (Exception("endpoint does not exist"), True),
        (Exception("HTTP 404 from server"), True),
        (Exception("no such deployment"), True),
        (Exception("listening on port 4040"), False),
        (Coded(response={"Error": {"Code": "ResourceNotFound", "Message": ""}}), True),
        (
            Coded(
                response={
                    "Error": {"Code": "ValidationException", "Message": "Could not find endpoint"}
                }
            ),
            True,
        ),
        (
            Coded(
                response={"Error": {"Code": "ValidationException", "Message": "Bad instance type"}}
            ),
            False,
        ),
        (Coded("Client Error", response=HttpResponse()), True),
        (RuntimeError("connection refused"), False),
    ],
)
def test_not_found_is_read_from_codes_types_and_text(exc: Exception, expected: bool) -> None:
    assert error_says_not_found(exc) is expected


def test_page_tokens_are_passed_to_a_page_token_parameter() -> None:
    class TokenPages(Lister):
        def list_deployments(self, page_token: str | None = None) -> Any:
            pages = {None: (["a", "b"], "p2"), "p2": (["c"], None)}
            names, token = pages[page_token]
            return {"deployments": [{"name": n} for n in names], "next_page_token": token}

    assert names(adapter_for(TokenPages()).list()) == ["a", "b", "c"]


def test_a_page_token_returned_twice_is_an_error_not_a_loop() -> None:
    class Stuck(Lister):
        def list_deployments(self, pagination_args: Any = None) -> Any:
            return {"deployments": [{"name": "a"}], "next_page_token": "same"}

    with pytest.raises(TargetError, match="next_page_token 'same' twice"):
        adapter_for(Stuck()).list()


def test_positional_only_parameters_keep_their_defaults_when_deployctl_has_no_value() -> None:
    class PositionalOnly(Lister):
        def create_deployment(
            self, name: str, model_uri: str, flavor: Any = "auto", config: Any = None, /
        ) -> Any:
            return {"name": name, "flavor": flavor, "config": config}

    created = adapter_for(PositionalOnly()).create("m", DeploymentSpec("models:/m/1"))
    assert created == {"name": "m", "flavor": "auto", "config": {}}


def test_a_predict_deployctl_cannot_call_is_an_error_when_called_not_when_loaded() -> None:
    class OddPredict(Lister):
        def predict(self, df: Any) -> Any:
            return df

    adapter = adapter_for(OddPredict())
    with pytest.raises(
        TargetError, match=r"cannot call OddPredict.predict\(df.*: it does not take"
    ) as info:
        adapter.predict("m", None)
    assert info.value.call == "predict"


# -- adapters without a client (run_local, target_help) --


def test_loading_without_connecting_constructs_no_client(
    tmp_path: Path, test_plugins: object
) -> None:
    from deployctl.targets.registry import load_target

    # ctorfail's constructor raises, and noclass has no client class at all: neither matters.
    broken = load_target(f"ctorfail:{tmp_path}", key="cluster", connect=False)
    assert not broken.connected and broken.client is None
    with pytest.raises(TargetError, match="has no run_local function"):
        broken.run_local("m", SPEC)
    noclass = load_target(f"noclass:{tmp_path}", key="n", connect=False)
    assert noclass.run_local("m", DeploymentSpec("models:/m/1")) is None
    assert noclass.target_help() == "no client here"


def test_an_adapter_without_a_client_refuses_client_calls(tmp_path: Path) -> None:
    from deployctl.targets.registry import load_target

    adapter = load_target(f"local:{tmp_path}", key="dev", connect=False)
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("list_deployments", adapter.list),
        ("get_deployment", lambda: adapter.get("m")),
        ("create_deployment", lambda: adapter.create("m", SPEC)),
        ("update_deployment", lambda: adapter.update("m", SPEC)),
        ("delete_deployment", lambda: adapter.delete("m")),
        ("predict", lambda: adapter.predict("m", None)),
    ]
    for call, invoke in calls:
        with pytest.raises(TargetError, match="no client was connected") as info:
            invoke()
        assert (info.value.target, info.value.call) == ("dev", call)
    assert "local target keeps deployments" in adapter.target_help()
