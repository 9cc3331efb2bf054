"""A plugin's module functions, without a client: ``run_local`` and ``target_help``.

MLflow's ``run-local`` and ``help`` never construct a client, and neither does deployctl: a
client's constructor may connect to a cluster, which serving a model on this machine or printing
the plugin's help does not need. ``deployctl.targets.loading.load_module`` (a target URI) and
``load_scheme`` (a scheme) give one.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from deployctl.errors import TargetError
from deployctl.model import Address, DeploymentSpec
from deployctl.targets.calls import call_plugin
from deployctl.targets.registry import TargetPlugin
from deployctl.targets.signatures import (
    UnsupportedSignature,
    function_shape,
    read_signature,
    spec_values,
)

logger = logging.getLogger(__name__)


class PluginModule:
    """The ``module`` of ``plugin``, loaded for target ``key`` at ``uri`` (what ``run_local``
    is given as its target)."""

    def __init__(self, key: str, uri: str, plugin: TargetPlugin, module: ModuleType) -> None:
        self.key = key
        self.uri = uri
        self.plugin = plugin
        self.module = module

    def __repr__(self) -> str:
        return f"PluginModule(key={self.key!r}, plugin={self.plugin.describe()!r})"

    def run_local(self, name: str, spec: DeploymentSpec) -> Any:
        """Serve ``spec``'s model locally through the plugin's ``run_local`` (usually blocks)."""
        call = "run_local"
        address = str(Address(self.key, name))
        fn = getattr(self.module, call, None)
        if not callable(fn):
            raise TargetError(
                f"{self.plugin.describe()} has no run_local function",
                target=self.key,
                call=call,
                address=address,
            )
        try:
            shape = function_shape(call, fn)
        except UnsupportedSignature as exc:
            raise TargetError(
                f"deployctl cannot call run_local{read_signature(fn)}: {exc}",
                target=self.key,
                call=call,
                address=address,
            ) from exc
        shape.check_accepts(spec, target=self.key, address=address)
        args, kwargs = shape.arguments(spec_values(self.uri, name, spec))
        return call_plugin(
            logger,
            fn,
            args,
            kwargs,
            target=self.key,
            call=call,
            address=address,
            scheme=self.plugin.scheme,
        )

    def target_help(self) -> str:
        """The plugin's ``target_help()`` text; ``TargetError`` when the plugin has none."""
        fn = getattr(self.module, "target_help", None)
        if not callable(fn):
            raise TargetError(
                "the plugin has no target_help() function", target=self.key, call="import"
            )
        text = call_plugin(
            logger,
            fn,
            [],
            {},
            target=self.key,
            call="target_help",
            address=None,
            scheme=self.plugin.scheme,
        )
        return str(text)


__all__ = ["PluginModule"]
