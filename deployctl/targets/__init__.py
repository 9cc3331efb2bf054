"""Deployment targets: finding plugins, calling them uniformly, and reading back what exists.

- ``registry``: which installed plugin handles a target URI's scheme (built-ins,
  ``deployctl.targets`` and ``mlflow.deployments`` entry points); nothing imported;
- ``loading``: importing a plugin and connecting its client (``load_target``), or its module
  alone (``load_module``, ``load_scheme``);
- ``adapter``: ``TargetAdapter``, one object per connected target hiding how plugins differ;
- ``plugin_module``: ``PluginModule``, a plugin's ``run_local`` and ``target_help`` without a
  client;
- ``signatures``: how to call each plugin method, decided from its signature;
- ``records``: plugin records read into ``LiveRecord``s (``RecordShape``, field mappings);
- ``plugin_errors``: plugin exceptions as one ``TargetError`` (by MLflow error code), and
  what they say: not found (explicitly or in words), transient (may the call be repeated?);
- ``calls``: one plugin call: time-limited and retried as the target's ``CallPolicy`` says,
  logged at DEBUG; ``deadline``: the daemon worker threads that enforce the time limits;
- ``generations``: which plugin interface generation a client class implements;
- ``pool``: ``TargetPool``, one adapter per target, loaded on first use;
- ``refresh``: concurrent list/get across targets deciding existence per address, or failing
  for the addresses it cannot decide (import the function from ``deployctl.targets.refresh``:
  the package attribute is the module);
- ``local``: the built-in ``local:PATH`` target (``mlflow_local`` is the same for MLflow's CLI).

The records a target reports and what a refresh returns are values in ``deployctl.model.live``.

Nothing here imports MLflow until a plugin needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.lazy import lazy_exports

if TYPE_CHECKING:
    from deployctl.targets.adapter import TargetAdapter
    from deployctl.targets.loading import load_module, load_scheme, load_target
    from deployctl.targets.plugin_module import PluginModule
    from deployctl.targets.pool import TargetPool
    from deployctl.targets.records import DEFAULT_RECORD_SHAPE, RecordShape
    from deployctl.targets.registry import TargetPlugin, find_target, installed_targets

# Imported on first use (PEP 562) so that importing one submodule, e.g. the registry for
# `deployctl --help`, does not pay for the others (inspect, concurrent.futures).
__getattr__ = lazy_exports(
    __name__,
    {
        "TargetAdapter": "adapter",
        "load_module": "loading",
        "load_scheme": "loading",
        "load_target": "loading",
        "PluginModule": "plugin_module",
        "TargetPool": "pool",
        "DEFAULT_RECORD_SHAPE": "records",
        "RecordShape": "records",
        "TargetPlugin": "registry",
        "find_target": "registry",
        "installed_targets": "registry",
    },
)


__all__ = [
    "DEFAULT_RECORD_SHAPE",
    "PluginModule",
    "RecordShape",
    "TargetAdapter",
    "TargetPlugin",
    "TargetPool",
    "find_target",
    "installed_targets",
    "load_module",
    "load_scheme",
    "load_target",
]
