"""The target registry: which plugin handles a target URI, and loading its client.

A target URI's scheme (``deployctl.model.target_scheme``) names a plugin. Lookup order:

1. the built-in targets shipped with deployctl (``local``);
2. entry points in the ``deployctl.targets`` group (plugins written for deployctl);
3. entry points in the ``mlflow.deployments`` group, so every existing MLflow deployment plugin
   works unchanged (plus ``sagemaker``, which MLflow registers itself rather than by entry point).

Listing never imports a plugin (nor MLflow): only entry-point metadata is read. Loading imports
the plugin module once per process and finds its client class the way MLflow's loader does.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from deployctl.errors import TargetError, TargetNotFoundError
from deployctl.model import target_scheme

if TYPE_CHECKING:
    from deployctl.targets.adapter import TargetAdapter

BUILT_IN = "built-in"
DEPLOYCTL_PLUGIN = "deployctl plugin"
MLFLOW_PLUGIN = "MLflow plugin"

DEPLOYCTL_GROUP = "deployctl.targets"
MLFLOW_GROUP = "mlflow.deployments"

# The methods a class must have to count as a client when it does not derive from MLflow's
# BaseDeploymentClient (duck-typed plugins, or no MLflow installed).
CLIENT_METHODS = ("create_deployment", "get_deployment", "list_deployments", "delete_deployment")

_BUILT_INS: dict[str, str] = {"local": "deployctl.targets.local"}

# MLflow registers this one in code (``plugin_store.register``), after its entry points, so it
# wins over an entry point of the same name there as well.
_MLFLOW_REGISTERED: dict[str, str] = {"sagemaker": "mlflow.sagemaker"}
_MLFLOW_DISTRIBUTIONS = ("mlflow", "mlflow-skinny")

_modules: dict[str, ModuleType] = {}
_modules_lock = threading.Lock()


@dataclass(frozen=True)
class TargetPlugin:
    """An installed target plugin, as found in the registry (nothing imported)."""

    scheme: str
    source: str
    module_name: str
    package: str | None = None
    version: str | None = None

    def describe(self) -> str:
        """``scheme (source, package version)`` for listings and error messages."""
        origin = self.source
        if self.package:
            origin += f", {self.package}"
            if self.version:
                origin += f" {self.version}"
        return f"{self.scheme} ({origin})"


def installed_targets() -> list[TargetPlugin]:
    """Every target scheme that can be loaded, sorted by scheme; each scheme appears once."""
    return sorted(_plugins_by_scheme().values(), key=lambda p: p.scheme)


def find_target(scheme: str) -> TargetPlugin | None:
    """The plugin that handles ``scheme``, or ``None``."""
    return _plugins_by_scheme().get(scheme)


def load_target(
    uri: str,
    *,
    key: str,
    fields: Mapping[str, str] | None = None,
    connect: bool = True,
) -> TargetAdapter:
    """Import the plugin for ``uri``'s scheme and connect a client to ``uri``.

    ``key`` is the manifest's name for the target; every error names it. ``fields`` is the
    target's field mapping (record field -> key or dotted path, the manifest's ``fields:``),
    read before deployctl's defaults. With ``connect=False`` no client is constructed (nor its
    class looked for): the adapter only runs the module's ``run_local`` and ``target_help``.
    Raises ``TargetNotFoundError`` when no installed plugin handles the scheme, and
    ``TargetError`` when the plugin cannot be imported, has no usable client class, has a
    method deployctl cannot call, or its constructor fails (``call="connect"``).
    """
    from deployctl.targets.adapter import DEFAULT_RECORD_SHAPE, TargetAdapter

    scheme = target_scheme(uri)
    plugin = find_target(scheme)
    if plugin is None:
        installed = ", ".join(p.describe() for p in installed_targets()) or "none"
        raise TargetNotFoundError(
            f"target '{key}': no installed plugin handles '{scheme}' targets (uri '{uri}'); "
            f"installed targets: {installed}",
            hint=f"pip install the deployment plugin that provides the '{scheme}' target",
        )
    shape = DEFAULT_RECORD_SHAPE.with_fields(fields) if fields else DEFAULT_RECORD_SHAPE
    module = import_plugin(plugin, key=key)
    if not connect:
        return TargetAdapter(key, uri, None, plugin=plugin, module=module, record_shape=shape)
    client_class = find_client_class(module, plugin, key=key)
    try:
        client = client_class(uri)
    except Exception as exc:
        raise TargetError(
            f"{client_class.__name__}({uri!r}) failed: {_one_line(exc)}",
            target=key,
            call="connect",
            cause=exc,
        ) from exc
    return TargetAdapter(key, uri, client, plugin=plugin, module=module, record_shape=shape)


def import_plugin(plugin: TargetPlugin, *, key: str) -> ModuleType:
    """The plugin's module (or ``module:attr`` object), imported once per process."""
    cached = _modules.get(plugin.module_name)
    if cached is not None:
        return cached
    module_path, _, attr = plugin.module_name.partition(":")
    with _modules_lock:
        cached = _modules.get(plugin.module_name)
        if cached is not None:
            return cached
        try:
            loaded: Any = importlib.import_module(module_path.strip())
            for part in filter(None, attr.strip().split(".")):
                loaded = getattr(loaded, part)
        except Exception as exc:
            raise TargetError(
                f"cannot import plugin module '{plugin.module_name}' for '{plugin.scheme}' "
                f"targets: {_one_line(exc)}",
                target=key,
                call="import",
                cause=exc,
                hint=f"reinstall {plugin.package or 'the plugin'} and its dependencies",
            ) from exc
        _modules[plugin.module_name] = loaded
        return loaded  # type: ignore[no-any-return]


def find_client_class(module: Any, plugin: TargetPlugin, *, key: str) -> type[Any]:
    """The one client class in ``module``, found as MLflow's loader finds it.

    With MLflow loaded, a subclass of ``BaseDeploymentClient`` (classes the module imported
    count, as in MLflow). Otherwise, or when there is none, the one class with the client
    methods. Zero or several candidates is an error naming them.
    """
    found = _client_class(module)
    if not isinstance(found, str):
        return found
    if found.startswith(_SEVERAL_SUBCLASSES):
        need = "MLflow and deployctl need exactly one"
    else:
        need = (
            "it needs exactly one class deriving from mlflow's BaseDeploymentClient or with "
            f"the methods {', '.join(CLIENT_METHODS)}"
        )
    raise TargetError(
        f"plugin module '{plugin.module_name}' has {found}; {need}",
        target=key,
        call="load",
        hint="report this to the plugin's authors",
    )


_SEVERAL_SUBCLASSES = "more than one subclass of BaseDeploymentClient"


def _client_class(module: Any) -> type[Any] | str:
    """The one client class in ``module``, or what the module has instead (a short phrase)."""
    import inspect

    members = inspect.getmembers(module, inspect.isclass)
    # A plugin cannot derive from BaseDeploymentClient without having imported it, so there is
    # no need to import MLflow (seconds) just to look.
    base_module = sys.modules.get("mlflow.deployments.base")
    base: type[Any] | None = getattr(base_module, "BaseDeploymentClient", None)
    if base is not None:
        subclasses = [name for name, cls in members if issubclass(cls, base) and cls is not base]
        if len(subclasses) == 1:
            return dict(members)[subclasses[0]]
        if len(subclasses) > 1:
            return f"{_SEVERAL_SUBCLASSES}: {', '.join(subclasses)}"
    duck = [name for name, cls in members if _looks_like_client(cls, base)]
    if len(duck) == 1:
        return dict(members)[duck[0]]
    return f"several client classes: {', '.join(duck)}" if duck else "no client class"


def plugin_interface(plugin: TargetPlugin) -> str:
    """The interface generation ``plugin``'s client implements (``seed``, ``mlflow 2``,
    ``mlflow 3``), or ``unavailable: <why>`` when it cannot be imported or used.

    Imports the plugin module but never constructs a client (constructors may connect to
    clusters): the generation is read from the client class's method signatures.
    """
    from deployctl.targets.adapter import UNAVAILABLE, client_interface, describe_exception

    try:
        module = import_plugin(plugin, key=plugin.scheme)
    except TargetError as exc:
        why = describe_exception(exc.cause) if exc.cause is not None else exc.message
        return f"{UNAVAILABLE}: cannot import {plugin.module_name}: {why}"
    try:
        found = _client_class(module)
        if isinstance(found, str):
            return f"{UNAVAILABLE}: {plugin.module_name} has {found}"
        return client_interface(found)
    except Exception as exc:  # a listing must survive whatever a plugin module holds
        return f"{UNAVAILABLE}: cannot inspect {plugin.module_name}: {describe_exception(exc)}"


def _looks_like_client(cls: type[Any], base: type[Any] | None) -> bool:
    import inspect

    if cls is base or inspect.isabstract(cls) or getattr(cls, "_is_protocol", False):
        return False
    return all(callable(getattr(cls, m, None)) for m in CLIENT_METHODS)


def _plugins_by_scheme() -> dict[str, TargetPlugin]:
    from importlib import metadata

    import deployctl

    found: dict[str, TargetPlugin] = {}
    for scheme, module_name in _BUILT_INS.items():
        found[scheme] = TargetPlugin(
            scheme, BUILT_IN, module_name, "deployctl", deployctl.__version__
        )
    for group, source in ((DEPLOYCTL_GROUP, DEPLOYCTL_PLUGIN), (MLFLOW_GROUP, MLFLOW_PLUGIN)):
        in_group: dict[str, TargetPlugin] = {}
        for ep in metadata.entry_points(group=group):
            dist = getattr(ep, "dist", None)
            # A distribution seen twice on sys.path lists its entry points twice: keep the first.
            in_group.setdefault(
                ep.name,
                TargetPlugin(
                    ep.name,
                    source,
                    ep.value,
                    getattr(dist, "name", None),
                    getattr(dist, "version", None),
                ),
            )
        if group == MLFLOW_GROUP:
            in_group.update(_mlflow_registered(metadata))
        for scheme, plugin in in_group.items():
            found.setdefault(scheme, plugin)
    return found


def _mlflow_registered(metadata: Any) -> dict[str, TargetPlugin]:
    for dist_name in _MLFLOW_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            continue
        return {
            scheme: TargetPlugin(scheme, MLFLOW_PLUGIN, module, dist.metadata["Name"], dist.version)
            for scheme, module in _MLFLOW_REGISTERED.items()
        }
    return {}


def _one_line(exc: BaseException) -> str:
    from deployctl.targets.adapter import describe_exception

    return describe_exception(exc)
