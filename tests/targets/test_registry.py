"""The registry: lookup order, listings without imports, loading through real entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import require_mlflow

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.local import LocalDeploymentClient
from deployctl.targets.registry import (
    BUILT_IN,
    DEPLOYCTL_PLUGIN,
    MLFLOW_PLUGIN,
    find_target,
    import_plugin,
    installed_targets,
    load_target,
)

Load = Callable[..., TargetAdapter]


def run_python(code: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- listing --


def test_the_builtin_local_target_wins_over_the_mlflow_entry_point_of_the_same_name() -> None:
    local = [p for p in installed_targets() if p.scheme == "local"]
    assert len(local) == 1
    assert local[0].source == BUILT_IN
    assert local[0].module_name == "deployctl.targets.local"
    assert local[0].package == "deployctl"


def test_the_deployctl_group_wins_over_the_mlflow_group(test_plugins: object) -> None:
    shadow = [p for p in installed_targets() if p.scheme == "shadowtest"]
    assert len(shadow) == 1
    assert (shadow[0].source, shadow[0].module_name) == (DEPLOYCTL_PLUGIN, "dtp_seed")


def test_installed_targets_come_from_both_groups_with_package_and_version(
    test_plugins: object,
) -> None:
    by_scheme = {p.scheme: p for p in installed_targets()}
    seed, paged = by_scheme["seedtest"], by_scheme["pagedtest"]
    assert (seed.source, seed.module_name) == (DEPLOYCTL_PLUGIN, "dtp_seed")
    assert (paged.source, paged.module_name) == (MLFLOW_PLUGIN, "dtp_paged")
    assert seed.package == "deployctl-test-plugins"
    assert seed.version == "0.1.0"
    assert [p.scheme for p in installed_targets()] == sorted(by_scheme)


def test_listing_targets_imports_no_plugin_and_not_mlflow(test_plugins: object) -> None:
    out = run_python(
        "import sys, json\n"
        "from deployctl.targets.registry import installed_targets\n"
        "schemes = [p.scheme for p in installed_targets()]\n"
        "plugins = ('mlflow', 'dtp_seed', 'dtp_paged', 'dtp_mlflow')\n"
        "loaded = [m for m in plugins if m in sys.modules]\n"
        "print(json.dumps([schemes, loaded]))\n"
    )
    schemes, loaded = json.loads(out)
    assert {"local", "seedtest", "mlflowtest", "pagedtest"} <= set(schemes)
    assert loaded == []


def test_mlflows_own_sagemaker_target_is_listed_when_mlflow_is_installed() -> None:
    require_mlflow()
    sagemaker = find_target("sagemaker")
    assert sagemaker is not None
    assert (sagemaker.source, sagemaker.module_name) == (MLFLOW_PLUGIN, "mlflow.sagemaker")


# -- unknown schemes --


def test_an_unknown_scheme_names_the_installed_targets_and_says_to_pip_install() -> None:
    with pytest.raises(TargetNotFoundError) as info:
        load_target("nosuchplugin:/somewhere", key="prod")
    text = str(info.value)
    assert "target 'prod'" in text
    assert "'nosuchplugin'" in text
    assert "local (built-in, deployctl" in text
    assert "pip install" in text


def test_a_uri_whose_scheme_has_an_underscore_never_resolves() -> None:
    # urlparse (and so MLflow) does not see a scheme in "my_target:/x": the whole string is
    # the plugin name, which no plugin has.
    with pytest.raises(TargetNotFoundError, match="'my_target:/x'"):
        load_target("my_target:/x", key="t")


# -- loading --


def test_the_builtin_local_target_loads_without_an_entry_point(tmp_path: Path) -> None:
    adapter = load_target(f"local:{tmp_path}", key="dev")
    assert type(adapter.client) is LocalDeploymentClient
    assert adapter.plugin.source == BUILT_IN
    assert (adapter.key, adapter.uri, adapter.scheme) == ("dev", f"local:{tmp_path}", "local")


def test_a_seed_plugin_loads_through_the_deployctl_group_without_mlflow(
    tmp_path: Path, test_plugins: object
) -> None:
    out = run_python(
        "import sys\n"
        "from deployctl.targets.registry import load_target\n"
        "adapter = load_target(sys.argv[1], key='seed')\n"
        "print(type(adapter.client).__name__, adapter.plugin.source, 'mlflow' in sys.modules)\n",
        f"seedtest:{tmp_path}",
    )
    assert out.split(" ", 1) == ["SeedDeploymentClient", "deployctl plugin False\n"]


def test_an_mlflow_plugin_loads_through_the_mlflow_group(load: Load) -> None:
    require_mlflow()
    from mlflow.deployments import BaseDeploymentClient

    adapter = load("mlflowtest")
    assert type(adapter.client).__name__ == "MlflowTestDeploymentClient"
    assert isinstance(adapter.client, BaseDeploymentClient)
    assert adapter.plugin.source == MLFLOW_PLUGIN
    assert adapter.client.target_uri == adapter.uri


def test_a_duck_typed_plugin_loads_through_the_mlflow_group(load: Load) -> None:
    adapter = load("pagedtest")
    assert type(adapter.client).__name__ == "PagedDeploymentClient"
    assert adapter.plugin.module_name == "dtp_paged"


def test_a_scheme_in_both_groups_loads_the_deployctl_plugin(load: Load) -> None:
    assert type(load("shadowtest").client).__name__ == "SeedDeploymentClient"


def test_plugin_modules_are_imported_once_per_process(load: Load) -> None:
    first, second = load("seedtest"), load("seedtest")
    assert first.module is second.module
    assert import_plugin(first.plugin, key="x") is first.module


# -- the one-class rule and other broken plugins --


def test_a_module_with_two_client_classes_is_refused(load: Load) -> None:
    with pytest.raises(TargetError) as info:
        load("twoclasses", key="broken")
    assert info.value.call == "load"
    assert info.value.target == "broken"
    assert "FirstClient" in str(info.value) and "SecondClient" in str(info.value)


def test_a_module_with_two_mlflow_client_subclasses_is_refused(load: Load) -> None:
    require_mlflow()
    with pytest.raises(TargetError, match="more than one subclass of BaseDeploymentClient") as info:
        load("twomlflow")
    assert "EastClient" in str(info.value) and "_Client" in str(info.value)
    assert info.value.call == "load"


def test_a_module_without_a_client_class_is_refused(load: Load) -> None:
    with pytest.raises(TargetError, match="has no client class") as info:
        load("noclass")
    assert info.value.call == "load"


def test_an_import_error_is_a_target_error_carrying_the_cause(load: Load) -> None:
    with pytest.raises(TargetError) as info:
        load("importfail", key="ml")
    assert info.value.call == "import"
    assert isinstance(info.value.cause, ModuleNotFoundError)
    assert "dtp_dependency_that_is_not_installed" in str(info.value)
    assert "dtp_broken.import_error" in str(info.value)


def test_a_failing_constructor_is_a_connect_error_on_one_line(load: Load) -> None:
    with pytest.raises(TargetError) as info:
        load("ctorfail", key="cluster")
    assert info.value.call == "connect"
    assert isinstance(info.value.cause, ConnectionError)
    assert "ConnectionError: cannot reach the cluster behind ctorfail:" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_required_parameter_deployctl_cannot_supply_is_refused_at_load(load: Load) -> None:
    with pytest.raises(TargetError) as info:
        load("badsig", key="regional")
    assert info.value.call == "get_deployment"
    assert "RegionalClient.get_deployment(name, region)" in str(info.value)
    assert "'region'" in str(info.value)
