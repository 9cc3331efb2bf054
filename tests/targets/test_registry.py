"""The registry: lookup order, listings that import no plugin, entry points naming a class."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import require_mlflow

from deployctl.errors import TargetNotFoundError
from deployctl.targets.loading import load_target
from deployctl.targets.registry import (
    BUILT_IN,
    DEPLOYCTL_PLUGIN,
    MLFLOW_GROUP,
    MLFLOW_PLUGIN,
    EntryPointError,
    TargetPlugin,
    check_names_a_module,
    find_target,
    installed_targets,
    require_target,
)


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


def test_requiring_an_unknown_scheme_names_the_installed_targets_and_says_to_pip_install() -> None:
    with pytest.raises(TargetNotFoundError) as info:
        require_target("nosuchplugin")
    text = str(info.value)
    assert text.startswith(
        "no installed plugin handles 'nosuchplugin' targets; installed targets: "
    )
    assert "local (built-in, deployctl" in text
    assert (
        info.value.hint
        == "pip install the deployment plugin that provides the 'nosuchplugin' target"
    )
    assert require_target("local") == find_target("local")


# -- entry points that name a class --

CLASS_ENTRY_POINT = (
    "entry point 'classtest = dtp_mlflow:MlflowTestDeploymentClient' (group mlflow.deployments) "
    "names the class MlflowTestDeploymentClient, not a module, and MLflow's own loader refuses "
    "it too (it looks for run_local, target_help and the client class in what the entry point "
    "names): the entry point must name the module, 'classtest = dtp_mlflow'"
)


def test_an_mlflow_entry_point_naming_a_class_is_refused_with_the_fix(
    test_plugins: object,
) -> None:
    require_mlflow()
    plugin = find_target("classtest")
    assert plugin is not None
    assert plugin.entry_point() == "classtest = dtp_mlflow:MlflowTestDeploymentClient"
    assert plugin.group == MLFLOW_GROUP

    with pytest.raises(EntryPointError) as info:
        load_target("classtest:/nowhere", key="models")

    assert info.value.reason == CLASS_ENTRY_POINT
    assert str(info.value) == (
        f"target 'models', load: {CLASS_ENTRY_POINT} (report this to the plugin's authors)"
    )


def test_mlflows_own_loader_refuses_an_entry_point_naming_a_class(test_plugins: object) -> None:
    require_mlflow()
    from mlflow.deployments.plugin_manager import DeploymentPlugins
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="does not have all the required interfaces"):
        DeploymentPlugins()["classtest"]


def test_a_deployctl_entry_point_naming_a_class_is_refused_and_one_naming_a_module_is_not() -> None:
    plugin = TargetPlugin("acme", DEPLOYCTL_PLUGIN, "acme_deploy.plugin:AcmeClient", "acme", "1.0")

    with pytest.raises(EntryPointError) as info:
        check_names_a_module(plugin, type("AcmeClient", (), {}), key="prod")

    assert info.value.reason == (
        "entry point 'acme = acme_deploy.plugin:AcmeClient' (group deployctl.targets) names the "
        "class AcmeClient, not a module, and deployctl refuses it, as MLflow's own loader would "
        "(it looks for run_local, target_help and the client class in what the entry point "
        "names): the entry point must name the module, 'acme = acme_deploy.plugin'"
    )
    check_names_a_module(plugin, json, key="prod")  # a module (module:attr may name one)
