"""The adapter: one connected target called uniformly: pages, predict, and a log per call."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from fake_clients import SPEC, Lister, adapter_for, calls_of, names
from support import require_mlflow

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec
from deployctl.targets.adapter import TargetAdapter

Load = Callable[..., TargetAdapter]


# -- pages --


def test_paged_listings_are_followed_when_the_plugin_takes_pagination_args(load: Load) -> None:
    adapter = load("pagedtest")
    for i in range(5):
        adapter.create(f"ep-{i}", SPEC)
    assert names(adapter.list()) == [f"ep-{i}" for i in range(5)]
    pages = [c["kwargs"]["pagination_args"] for c in calls_of(adapter, "list_deployments")]
    assert pages == [None, {"page_token": "2"}, {"page_token": "4"}]


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


# -- loading a client --


def test_a_client_missing_a_required_method_is_refused() -> None:
    class NoGet:
        def create_deployment(self, name: str, model_uri: str) -> None: ...
        def list_deployments(self) -> list[Any]:
            return []

        def delete_deployment(self, name: str) -> None: ...

    with pytest.raises(TargetError, match="has no get_deployment method") as info:
        adapter_for(NoGet())
    assert info.value.call == "get_deployment"


# -- predict --


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


# -- logging --

CALL_LINE = re.compile(
    r"target (?P<target>\S+): (?P<call>\w+)(?: for (?P<address>\S+))?"
    r" took \d+\.\d ms: (?P<outcome>\w+)"
)


def logged_calls(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    records = [r for r in caplog.records if r.name == "deployctl.targets.adapter"]
    assert all(r.levelno == logging.DEBUG for r in records)
    matches = [CALL_LINE.fullmatch(r.getMessage()) for r in records]
    assert all(matches), [r.getMessage() for r in records]
    return [m.groupdict() for m in matches if m]


def test_each_plugin_call_is_logged_at_debug_with_address_duration_and_outcome(
    load: Load, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = load("seedtest", key="dev")
    with caplog.at_level(logging.DEBUG, logger="deployctl.targets"):
        adapter.create("churn", SPEC)
        adapter.list()
        with pytest.raises(TargetError):
            adapter.get("ghost")
    assert logged_calls(caplog) == [
        {"target": "dev", "call": "create_deployment", "address": "dev/churn", "outcome": "ok"},
        {"target": "dev", "call": "list_deployments", "address": None, "outcome": "ok"},
        {
            "target": "dev",
            "call": "get_deployment",
            "address": "dev/ghost",
            "outcome": "ValueError",
        },
    ]


def test_an_interrupted_plugin_call_is_logged_and_not_wrapped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Interrupted(Lister):
        def list_deployments(self) -> Any:
            raise KeyboardInterrupt

    with (
        caplog.at_level(logging.DEBUG, logger="deployctl.targets"),
        pytest.raises(KeyboardInterrupt),
    ):
        adapter_for(Interrupted(), key="k").list()
    assert logged_calls(caplog) == [
        {"target": "k", "call": "list_deployments", "address": None, "outcome": "KeyboardInterrupt"}
    ]


def test_plugin_calls_log_nothing_at_info_or_above(
    load: Load, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = load("seedtest", key="dev")
    with caplog.at_level(logging.INFO):
        adapter.create("churn", SPEC)
        adapter.update("churn", SPEC)
        adapter.list()
        with pytest.raises(TargetError):
            adapter.get("ghost")
        adapter.delete("churn")
    assert [r for r in caplog.records if r.name.startswith("deployctl.targets")] == []
