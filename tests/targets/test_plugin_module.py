"""A plugin's module without a client: run_local in each of its forms, and target_help."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_clients import SPEC, adapter_for
from support import require_mlflow

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.model import DeploymentSpec
from deployctl.targets.loading import import_plugin, load_module, load_scheme
from deployctl.targets.plugin_module import PluginModule

ModuleOf = Callable[..., PluginModule]


def test_run_local_is_called_in_each_of_its_three_forms(module_of: ModuleOf) -> None:
    seed = module_of("seedtest").run_local("m", SPEC)
    assert seed == {
        "form": "seed",
        "model_uri": "models:/churn/3",
        "flavor": "python_function",
        "config": {"replicas": 2},
    }
    paged = module_of("pagedtest").run_local("m", SPEC)
    assert (paged["form"], paged["name"], paged["model_uri"]) == (
        "mlflow-cli",
        "m",
        "models:/churn/3",
    )
    require_mlflow()
    module = module_of("mlflowtest")
    stub = module.run_local("m", SPEC)
    assert (stub["form"], stub["target"], stub["name"]) == ("mlflow-stub", module.uri, "m")


def test_target_help_comes_from_the_plugin_module(module_of: ModuleOf) -> None:
    assert "seed plugin API" in module_of("seedtest").target_help()
    # A module without target_help() (or run_local) says so, naming the plugin for run_local.
    with pytest.raises(TargetError, match=r"no target_help\(\) function") as info:
        module_of("twoclasses", key="tc").target_help()
    assert info.value.target == "tc"
    with pytest.raises(TargetError, match="has no run_local function") as no_run:
        module_of("twoclasses", key="tc").run_local("m", SPEC)
    assert (no_run.value.call, no_run.value.address) == ("run_local", "tc/m")


def test_loading_a_module_constructs_no_client(tmp_path: Path, test_plugins: object) -> None:
    # ctorfail's constructor raises, and noclass has no client class at all: neither matters.
    broken = load_module(f"ctorfail:{tmp_path}", key="cluster")
    assert not hasattr(broken, "client")
    with pytest.raises(TargetError, match="has no run_local function"):
        broken.run_local("m", SPEC)
    noclass = load_module(f"noclass:{tmp_path}", key="n")
    assert noclass.run_local("m", DeploymentSpec("models:/m/1")) is None
    assert noclass.target_help() == "no client here"


def test_a_plugin_module_has_no_client_calls_and_an_adapter_always_has_a_client(
    tmp_path: Path,
) -> None:
    module = load_module(f"local:{tmp_path}", key="dev")
    for call in ("list", "get", "create", "update", "delete", "predict"):
        assert not hasattr(module, call)
    assert "local target keeps deployments" in module.target_help()
    with pytest.raises(TargetError, match="has no list_deployments method") as info:
        adapter_for(None, key="dev")
    assert (info.value.target, info.value.call) == ("dev", "list_deployments")


def test_a_module_is_loaded_by_scheme_for_target_help(test_plugins: object) -> None:
    module = load_scheme("seedtest")
    assert (module.key, module.uri, module.plugin.module_name) == (
        "seedtest",
        "seedtest",
        "dtp_seed",
    )
    assert module.module is import_plugin(module.plugin, key="x")
    with pytest.raises(TargetNotFoundError, match="no installed plugin handles 'nosuch' targets"):
        load_scheme("nosuch")


def test_an_unknown_scheme_names_the_target_and_its_uri(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFoundError) as info:
        load_module("nosuch:/x", key="dev")
    assert str(info.value).startswith(
        "target 'dev': no installed plugin handles 'nosuch' targets (uri 'nosuch:/x'); "
        "installed targets: "
    )


def test_a_failing_run_local_is_a_target_error_and_each_call_is_logged(
    tmp_path: Path, module_of: ModuleOf, caplog: pytest.LogCaptureFixture
) -> None:
    local = load_module(f"local:{tmp_path}", key="dev")
    with caplog.at_level(logging.DEBUG, logger="deployctl.targets"):
        module_of("noclass", key="n").run_local("m", DeploymentSpec("models:/m/1"))
        with pytest.raises(TargetError, match="serves pyfunc models only") as info:
            local.run_local("churn", DeploymentSpec("models:/m/1", flavor="sklearn"))
    assert (info.value.call, info.value.address) == ("run_local", "dev/churn")
    assert "deployctl target-help local" in str(info.value)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("deployctl.targets")]
    assert [m.split(" took ")[0] for m in messages] == [
        "target n: run_local for n/m",
        "target dev: run_local for dev/churn",
    ]
    assert messages[0].endswith(" ms: ok")
    # MlflowException once MLflow is loaded (see deployctl.targets.local.local_error).
    assert messages[1].endswith((" ms: LocalTargetError", " ms: MlflowException"))
