"""Interface generations: which plugin API a client class implements, read without a client.

Deployment plugins were written against three generations of the plugin interface: the ``seed``
API (``update_deployment(target, name, ...)``), MLflow 2's (``update_deployment(name, ...)``) and
MLflow 3's (``endpoint`` parameters). ``deployctl targets`` shows which one each installed plugin
implements, read from its client class's method signatures: constructing a client may connect to
a cluster, so none is constructed.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from deployctl.errors import TargetError
from deployctl.targets.loading import client_class_of, import_plugin
from deployctl.targets.missing_packages import missing_package
from deployctl.targets.plugin_errors import describe_exception
from deployctl.targets.registry import EntryPointError, TargetPlugin
from deployctl.targets.signatures import (
    CLIENT_METHODS,
    ENDPOINT,
    PARAM_SOURCES,
    REQUIRED_METHODS,
    TARGET,
    UnsupportedSignature,
    bind_signature,
    read_signature,
)

SEED: Final = "seed"
MLFLOW_2: Final = "mlflow 2"
MLFLOW_3: Final = "mlflow 3"
UNAVAILABLE: Final = "unavailable"


class _NoMethod(Exception):
    pass


def _class_signature(cls: type[Any], method: str) -> inspect.Signature | None:
    """The signature of ``cls.method`` as called on an instance (``self`` left out), without
    constructing one; ``None`` when it cannot be read. Raises ``_NoMethod`` when it is absent."""
    try:
        static = inspect.getattr_static(cls, method)
    except AttributeError:
        raise _NoMethod from None
    fn = getattr(cls, method, None)
    if not callable(fn):
        raise _NoMethod
    sig = read_signature(fn)
    if sig is None or not inspect.isfunction(static):
        # Static and class methods, and callable objects, take no ``self`` here.
        return sig
    params = list(sig.parameters.values())
    if params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]
    return sig.replace(parameters=params)


def client_interface(cls: type[Any]) -> str:
    """Which plugin interface generation the client class ``cls`` implements, read from its
    method signatures without constructing it (constructors may connect to clusters).

    ``seed`` (``update_deployment(target, name, ...)``), ``mlflow 3`` (``endpoint`` parameters),
    ``mlflow 2`` (``update_deployment(name, ...)`` without them), or ``unavailable: <why>`` for
    a class deployctl cannot drive (a required method missing or not callable by deployctl).
    """
    signatures: dict[str, inspect.Signature | None] = {}
    for method in CLIENT_METHODS:
        try:
            sig = _class_signature(cls, method)
        except _NoMethod:
            if method in REQUIRED_METHODS:
                return f"{UNAVAILABLE}: {cls.__name__} has no {method} method"
            continue
        try:
            bind_signature(method, sig)
        except UnsupportedSignature as exc:
            return f"{UNAVAILABLE}: {cls.__name__}.{method}{sig or '(...)'}: {exc}"
        signatures[method] = sig
    readable = [sig for sig in signatures.values() if sig is not None]
    if not readable:
        return "unknown (its method signatures cannot be read)"
    update = signatures.get("update_deployment")
    first = next(iter(update.parameters.values()), None) if update is not None else None
    if first is not None and PARAM_SOURCES.get(first.name) == TARGET:
        return SEED
    if any(ENDPOINT in sig.parameters for sig in readable):
        return MLFLOW_3
    return MLFLOW_2


def plugin_interface(plugin: TargetPlugin) -> str:
    """The interface generation ``plugin``'s client implements (``seed``, ``mlflow 2``,
    ``mlflow 3``), or ``unavailable: <why>`` when it cannot be imported or used.

    Imports the plugin module but never constructs a client (constructors may connect to
    clusters): the generation is read from the client class's method signatures.
    """
    try:
        module = import_plugin(plugin, key=plugin.scheme)
    except EntryPointError as exc:
        return f"{UNAVAILABLE}: {exc.reason}"
    except TargetError as exc:
        why = describe_exception(exc.cause) if exc.cause is not None else exc.message
        missing = missing_package(exc.cause) if exc.cause is not None else None
        if missing is not None:
            why = f"{why} ({missing})"
        return f"{UNAVAILABLE}: cannot import {plugin.module_name}: {why}"
    try:
        found = client_class_of(module)
        if isinstance(found, str):
            return f"{UNAVAILABLE}: {plugin.module_name} has {found}"
        return client_interface(found)
    except Exception as exc:  # a listing must survive whatever a plugin module holds
        return f"{UNAVAILABLE}: cannot inspect {plugin.module_name}: {describe_exception(exc)}"


__all__ = [
    "MLFLOW_2",
    "MLFLOW_3",
    "SEED",
    "UNAVAILABLE",
    "client_interface",
    "plugin_interface",
]
