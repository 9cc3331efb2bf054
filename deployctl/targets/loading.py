"""Loading a target: importing its plugin module, and connecting a client to its URI.

``load_target`` gives a ``TargetAdapter`` (the client's class is found as MLflow's loader finds
it, then constructed with the target URI); ``load_module`` and ``load_scheme`` give a
``PluginModule``, the plugin's module functions only (``run_local``, ``target_help``), for which
no client is constructed: constructors may connect to clusters. A plugin module is imported once
per process. A plugin that cannot import a module says which package to install
(``deployctl.targets.missing_packages``).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from deployctl.errors import TargetError
from deployctl.model import target_scheme
from deployctl.model.calls import CallPolicy
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.missing_packages import missing_module_name, missing_package, package_for
from deployctl.targets.plugin_errors import describe_exception
from deployctl.targets.plugin_module import PluginModule
from deployctl.targets.records import DEFAULT_RECORD_SHAPE
from deployctl.targets.registry import TargetPlugin, check_names_a_module, require_target

# The methods a class must have to count as a client when it does not derive from MLflow's
# BaseDeploymentClient (duck-typed plugins, or no MLflow installed).
CLIENT_CLASS_METHODS = (
    "create_deployment",
    "get_deployment",
    "list_deployments",
    "delete_deployment",
)

_modules: dict[str, ModuleType] = {}
_modules_lock = threading.Lock()


def load_target(
    uri: str,
    *,
    key: str,
    fields: Mapping[str, str] | None = None,
    policy: CallPolicy | None = None,
) -> TargetAdapter:
    """Import the plugin for ``uri``'s scheme and connect a client to ``uri``.

    ``key`` is the manifest's name for the target; every error names it. ``fields`` is the
    target's field mapping (record field -> key or dotted path, the manifest's ``fields:``),
    read before deployctl's defaults; ``policy`` its ``timeout:``, ``retry:`` and ``client:``
    (the defaults when ``None``; with ``client: per_action`` the adapter builds a client of the
    same class for each create, update and delete). Raises ``TargetNotFoundError`` when no
    installed plugin handles the scheme, and ``TargetError`` when the plugin cannot be
    imported, has no usable client class, has a method deployctl cannot call, or its
    constructor fails (``call="connect"``).
    """
    plugin = require_target(target_scheme(uri), key=key, uri=uri)
    shape = DEFAULT_RECORD_SHAPE.with_fields(fields) if fields else DEFAULT_RECORD_SHAPE
    module = import_plugin(plugin, key=key)
    client_class = find_client_class(module, plugin, key=key)
    try:
        client = client_class(uri)
    except Exception as exc:
        missing = missing_package(exc)
        raise TargetError(
            f"{client_class.__name__}({uri!r}) failed: {describe_exception(exc)}",
            target=key,
            call="connect",
            cause=exc,
            hint=str(missing) if missing is not None else None,
        ) from exc
    return TargetAdapter(
        key,
        uri,
        client,
        plugin=plugin,
        record_shape=shape,
        policy=policy,
        connect=lambda: client_class(uri),
    )


def load_module(uri: str, *, key: str) -> PluginModule:
    """The plugin module for target ``key``'s ``uri``, without a client: for ``run_local``,
    as MLflow's ``run-local`` does it. Raises as ``load_target`` does, up to the import."""
    plugin = require_target(target_scheme(uri), key=key, uri=uri)
    return PluginModule(key, uri, plugin, import_plugin(plugin, key=key))


def load_scheme(scheme: str) -> PluginModule:
    """The plugin module that handles ``scheme``, without a client: for ``target_help`` (the
    scheme stands for the target in errors, as in MLflow's ``deployments help -t SCHEME``)."""
    plugin = require_target(scheme)
    return PluginModule(scheme, scheme, plugin, import_plugin(plugin, key=scheme))


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
            why, hint = _import_failure(exc, plugin, module_path.strip())
            raise TargetError(
                f"cannot import plugin module '{plugin.module_name}' for '{plugin.scheme}' "
                f"targets: {why}",
                target=key,
                call="import",
                cause=exc,
                hint=hint,
            ) from exc
        check_names_a_module(plugin, loaded, key=key)
        _modules[plugin.module_name] = loaded
        return loaded  # type: ignore[no-any-return]


def _import_failure(exc: Exception, plugin: TargetPlugin, module_path: str) -> tuple[str, str]:
    """Why importing ``plugin``'s module failed, and the fix: the package to install when a
    module is missing (``deployctl.targets.missing_packages``)."""
    reinstall = f"reinstall {plugin.package or 'the plugin'} and its dependencies"
    missing = missing_module_name(exc)
    if missing is None:
        return describe_exception(exc), reinstall
    if module_path == missing or module_path.startswith(f"{missing}."):
        # The entry point outlived its module: the plugin's own package is broken.
        fix = f"pip install --force-reinstall {plugin.package}" if plugin.package else reinstall
        return f"the plugin's module '{missing}' is not installed", fix
    package = package_for(missing)
    return package.explanation(), package.fix()


def find_client_class(module: Any, plugin: TargetPlugin, *, key: str) -> type[Any]:
    """The one client class in ``module``, found as MLflow's loader finds it.

    With MLflow loaded, a subclass of ``BaseDeploymentClient`` (classes the module imported
    count, as in MLflow). Otherwise, or when there is none, the one class with the client
    methods. Zero or several candidates is an error naming them.
    """
    found = client_class_of(module)
    if not isinstance(found, str):
        return found
    if found.startswith(_SEVERAL_SUBCLASSES):
        need = "MLflow and deployctl need exactly one"
    else:
        need = (
            "it needs exactly one class deriving from mlflow's BaseDeploymentClient or with "
            f"the methods {', '.join(CLIENT_CLASS_METHODS)}"
        )
    raise TargetError(
        f"plugin module '{plugin.module_name}' has {found}; {need}",
        target=key,
        call="load",
        hint="report this to the plugin's authors",
    )


_SEVERAL_SUBCLASSES = "more than one subclass of BaseDeploymentClient"


def client_class_of(module: Any) -> type[Any] | str:
    """The one client class in ``module``, or what the module has instead (a short phrase)."""
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


def _looks_like_client(cls: type[Any], base: type[Any] | None) -> bool:
    if cls is base or inspect.isabstract(cls) or getattr(cls, "_is_protocol", False):
        return False
    return all(callable(getattr(cls, m, None)) for m in CLIENT_CLASS_METHODS)


__all__ = [
    "CLIENT_CLASS_METHODS",
    "client_class_of",
    "find_client_class",
    "import_plugin",
    "load_module",
    "load_scheme",
    "load_target",
]
