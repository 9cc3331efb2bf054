"""Deployment targets: finding plugins, calling them uniformly, and reading back what exists.

- ``registry``: which plugin handles a target URI (built-ins, ``deployctl.targets`` and
  ``mlflow.deployments`` entry points) and loading it;
- ``adapter``: ``TargetAdapter``, one object per target hiding how plugins differ;
- ``refresh``: concurrent list/get across targets deciding existence per address (import the
  function from ``deployctl.targets.refresh``: the package attribute is the module);
- ``local``: the built-in ``local:PATH`` target (``mlflow_local`` is the same for MLflow's CLI);
- ``protocol`` / ``live``: the client protocol and the records a refresh returns.

Nothing here imports MLflow until a plugin needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deployctl.targets.adapter import DEFAULT_RECORD_SHAPE, RecordShape, TargetAdapter
    from deployctl.targets.live import LiveStatus, LiveView
    from deployctl.targets.protocol import DeploymentClient, LiveRecord
    from deployctl.targets.registry import TargetPlugin, installed_targets, load_target

# Imported on first use (PEP 562) so that importing one submodule, e.g. the registry for
# `deployctl --help`, does not pay for the others (inspect, concurrent.futures).
_EXPORTS = {
    "DEFAULT_RECORD_SHAPE": "adapter",
    "RecordShape": "adapter",
    "TargetAdapter": "adapter",
    "LiveStatus": "live",
    "LiveView": "live",
    "DeploymentClient": "protocol",
    "LiveRecord": "protocol",
    "TargetPlugin": "registry",
    "installed_targets": "registry",
    "load_target": "registry",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_RECORD_SHAPE",
    "DeploymentClient",
    "LiveRecord",
    "LiveStatus",
    "LiveView",
    "RecordShape",
    "TargetAdapter",
    "TargetPlugin",
    "installed_targets",
    "load_target",
]
