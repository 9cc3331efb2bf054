"""Which plugin interface generation a client class implements, read without constructing it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from support import require_mlflow

from deployctl.targets.generations import client_interface, plugin_interface
from deployctl.targets.local import LocalDeploymentClient
from deployctl.targets.registry import find_target


class Seed:
    def create_deployment(self, name: str, model_uri: str, flavor: Any = None) -> None: ...
    def update_deployment(self, target: str, name: str, model_uri: Any = None) -> None: ...
    def delete_deployment(self, name: str) -> None: ...
    def get_deployment(self, name: str) -> None: ...
    def list_deployments(self) -> None: ...


class Mlflow2:
    def create_deployment(self, name: str, model_uri: str, flavor: Any = None) -> None: ...
    def update_deployment(self, name: str, model_uri: Any = None, config: Any = None) -> None: ...
    def delete_deployment(self, name: str, config: Any = None) -> None: ...
    def get_deployment(self, name: str) -> None: ...
    def list_deployments(self) -> None: ...


class Mlflow3(Mlflow2):
    def update_deployment(
        self, name: str, model_uri: Any = None, config: Any = None, endpoint: Any = None
    ) -> None: ...
    def list_deployments(self, endpoint: Any = None) -> None: ...


class StaticMethods:
    """Static methods take no ``self``: the first parameter is the real one."""

    @staticmethod
    def create_deployment(name: str, model_uri: str) -> None: ...
    @staticmethod
    def update_deployment(target: str, name: str) -> None: ...
    @staticmethod
    def delete_deployment(name: str) -> None: ...
    @staticmethod
    def get_deployment(name: str) -> None: ...
    @staticmethod
    def list_deployments() -> None: ...


class NoUpdate:
    def create_deployment(self, name: str, model_uri: str) -> None: ...
    def delete_deployment(self, name: str, endpoint: Any = None) -> None: ...
    def get_deployment(self, name: str) -> None: ...
    def list_deployments(self) -> None: ...


class NoGet:
    def create_deployment(self, name: str, model_uri: str) -> None: ...
    def delete_deployment(self, name: str) -> None: ...
    def list_deployments(self) -> None: ...


class Regional(Mlflow2):
    def get_deployment(self, name: str, region: str) -> None: ...


class Explodes(Mlflow3):
    def __init__(self, target_uri: str) -> None:
        raise AssertionError("the constructor must not run")


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (Seed, "seed"),
        (Mlflow2, "mlflow 2"),
        (Mlflow3, "mlflow 3"),
        (StaticMethods, "seed"),
        (NoUpdate, "mlflow 3"),
        (Explodes, "mlflow 3"),
        (LocalDeploymentClient, "mlflow 3"),
    ],
)
def test_the_generation_is_read_from_the_method_signatures(cls: type, expected: str) -> None:
    assert client_interface(cls) == expected


def test_a_class_deployctl_cannot_drive_is_unavailable_with_the_reason() -> None:
    assert client_interface(NoGet) == "unavailable: NoGet has no get_deployment method"
    assert client_interface(Regional) == (
        "unavailable: Regional.get_deployment(name: 'str', region: 'str') -> 'None': its required "
        "parameter 'region' is not one deployctl can supply"
    )


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("seedtest", "seed"),
        ("shadowtest", "seed"),
        ("mlflow2test", "mlflow 2"),
        ("pagedtest", "mlflow 3"),
        ("local", "mlflow 3"),
        # Its constructor raises: reading the interface never constructs a client.
        ("ctorfail", "mlflow 2"),
    ],
)
def test_each_installed_plugin_reports_its_generation(
    scheme: str, expected: str, test_plugins: object
) -> None:
    plugin = find_target(scheme)
    assert plugin is not None
    assert plugin_interface(plugin) == expected


def test_an_mlflow_3_plugin_is_recognised(test_plugins: object) -> None:
    require_mlflow()
    plugin = find_target("mlflowtest")
    assert plugin is not None
    assert plugin_interface(plugin) == "mlflow 3"


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [
        (
            "importfail",
            "cannot import dtp_broken.import_error: ModuleNotFoundError: No module named "
            "'dtp_dependency_that_is_not_installed'",
        ),
        ("noclass", "dtp_broken.no_class has no client class"),
        ("twoclasses", "dtp_broken.two_classes has several client classes: FirstClient"),
        ("badsig", "RegionalClient.get_deployment(name, region): its required parameter"),
    ],
)
def test_a_plugin_that_cannot_be_used_is_unavailable_with_the_reason(
    scheme: str, reason: str, test_plugins: object
) -> None:
    plugin = find_target(scheme)
    assert plugin is not None
    interface = plugin_interface(plugin)
    assert interface.startswith(f"unavailable: {reason}")


def test_reading_the_seed_generation_needs_no_mlflow(test_plugins: object) -> None:
    code = (
        "import sys, json\n"
        "from deployctl.targets.registry import find_target\n"
        "from deployctl.targets.generations import plugin_interface\n"
        "print(json.dumps([plugin_interface(find_target('seedtest')), 'mlflow' in sys.modules]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(proc.stdout) == ["seed", False]
