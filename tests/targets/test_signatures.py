"""Call shapes: each plugin method called as its signature asks, decided once per class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fake_clients import SPEC, Lister, adapter_for, calls_of, names
from support import require_mlflow

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.signatures import client_shape

Load = Callable[..., TargetAdapter]


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
