"""Loading: importing plugins through real entry points, finding and connecting their client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import require_mlflow

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import import_plugin, load_module, load_target
from deployctl.targets.local import LocalDeploymentClient
from deployctl.targets.registry import BUILT_IN, MLFLOW_PLUGIN

Load = Callable[..., TargetAdapter]


def run_python(code: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


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
        "from deployctl.targets.loading import load_target\n"
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


def test_plugin_modules_are_imported_once_per_process(load: Load, tmp_path: Path) -> None:
    first, second = load("seedtest"), load("seedtest")
    assert type(first.client) is type(second.client)
    one, two = (
        load_module(f"seedtest:{tmp_path}", key="a"),
        load_module(f"seedtest:{tmp_path}", key="b"),
    )
    assert one.module is two.module
    assert import_plugin(first.plugin, key="x") is one.module
    assert sys.modules[type(first.client).__module__] is one.module


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
