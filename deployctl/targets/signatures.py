"""Call shapes: how to call each plugin method, decided once from its signature.

Plugins disagree on signatures (see ``shared/plugins.md``): the seed's
``update_deployment(target, name, ...)`` versus MLflow's ``update_deployment(name, ...)``, optional
or *required* ``endpoint``, parameters named ``deployment_name`` or anything at all (MLflow's CLI
passes some positionally). Each parameter is matched by name to a *source* (``PARAM_SOURCES``:
what deployctl can hand a plugin), else by position as MLflow's CLI passes it. The result is a
``CallShape`` per method, and a ``ClientShape`` per client class (computed from the first
instance seen, cached).
"""

from __future__ import annotations

import builtins
import copy
import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec

# What deployctl can hand a plugin method; parameters are matched to these by name.
TARGET: Final = "target"
NAME: Final = "name"
MODEL_URI: Final = "model_uri"
FLAVOR: Final = "flavor"
CONFIG: Final = "config"
ENDPOINT: Final = "endpoint"
PAGE: Final = "page"

PARAM_SOURCES: Final[Mapping[str, str]] = {
    "target": TARGET,
    "target_uri": TARGET,
    "name": NAME,
    "deployment_name": NAME,
    "deployment_id": NAME,
    "deployment": NAME,
    "model_uri": MODEL_URI,
    "flavor": FLAVOR,
    "config": CONFIG,
    "endpoint": ENDPOINT,
    "pagination_args": PAGE,
    "page_token": PAGE,
    "next_page_token": PAGE,
}


@dataclass(frozen=True)
class _MethodSpec:
    supplies: frozenset[str]
    # Sources that must reach the plugin, in the order MLflow's CLI passes them positionally.
    required: tuple[str, ...]
    # What an unrecognised required positional parameter means by its position (not counting a
    # leading ``target``): MLflow's CLI passes these positionally, so plugins may name them
    # anything.
    fallback: tuple[str, ...]


_METHODS: Final[Mapping[str, _MethodSpec]] = {
    "create_deployment": _MethodSpec(
        frozenset({TARGET, NAME, MODEL_URI, FLAVOR, CONFIG, ENDPOINT}),
        (NAME, MODEL_URI),
        (NAME, MODEL_URI, FLAVOR),
    ),
    "update_deployment": _MethodSpec(
        frozenset({TARGET, NAME, MODEL_URI, FLAVOR, CONFIG, ENDPOINT}), (NAME,), (NAME,)
    ),
    "delete_deployment": _MethodSpec(frozenset({TARGET, NAME, CONFIG, ENDPOINT}), (NAME,), (NAME,)),
    "get_deployment": _MethodSpec(frozenset({TARGET, NAME, ENDPOINT}), (NAME,), (NAME,)),
    "list_deployments": _MethodSpec(frozenset({TARGET, ENDPOINT, PAGE}), (), ()),
    "run_local": _MethodSpec(
        frozenset({TARGET, NAME, MODEL_URI, FLAVOR, CONFIG}),
        (MODEL_URI,),
        (NAME, MODEL_URI, FLAVOR, CONFIG),
    ),
}

# A target that cannot do these cannot be planned against: refuse it when it is loaded.
REQUIRED_METHODS: Final = (
    "list_deployments",
    "get_deployment",
    "create_deployment",
    "delete_deployment",
)
# Every client method deployctl calls through a call shape (``predict`` has its own rule).
CLIENT_METHODS: Final = (*REQUIRED_METHODS, "update_deployment")


class UnsupportedSignature(Exception):
    """A plugin callable has a parameter deployctl cannot supply."""


@dataclass(frozen=True)
class CallShape:
    """How to call one plugin callable: decided once from its signature, reused for every call."""

    method: str
    signature: str
    # (source, default, required) per leading positional argument; source None = pass default.
    positional: tuple[tuple[str | None, Any, bool], ...] = ()
    # (parameter name, source, required) per keyword argument.
    keywords: tuple[tuple[str, str, bool], ...] = ()
    accepted: frozenset[str] = frozenset()

    def arguments(self, values: Mapping[str, Any]) -> tuple[builtins.list[Any], dict[str, Any]]:
        """Positional and keyword arguments for ``values`` (by source).

        Required parameters always get a value (``None`` when deployctl has none, e.g. a
        required ``endpoint``); optional ones only when deployctl has a value, so plugin
        defaults stay in force.
        """
        args = []
        for src, default, required in self.positional:
            value = values.get(src) if src else None
            args.append(value if required or value is not None else default)
        kwargs: dict[str, Any] = {}
        for param, src, required in self.keywords:
            value = values.get(src)
            if required or value is not None:
                kwargs[param] = value
        return args, kwargs

    def accepts(self, source: str) -> bool:
        return source in self.accepted

    def check_accepts(self, spec: DeploymentSpec, *, target: str, address: str) -> None:
        """Raise ``TargetError`` when ``spec`` has a flavor or config this call cannot take
        (dropping them silently would deploy something other than the manifest says)."""
        unsupported = []
        if spec.flavor is not None and not self.accepts(FLAVOR):
            unsupported.append("flavor")
        if spec.config and not self.accepts(CONFIG):
            unsupported.append("config")
        if unsupported:
            fields = " and ".join(unsupported)
            raise TargetError(
                f"{self.method}{self.signature} takes no {fields}",
                target=target,
                call=self.method,
                address=address,
                hint=f"remove {fields} from this deployment in the manifest",
            )


def spec_values(uri: str, name: str, spec: DeploymentSpec) -> dict[str, Any]:
    """The values (by source) a call about deploying ``spec`` as ``name`` on ``uri`` hands over."""
    return {
        TARGET: uri,
        NAME: name,
        MODEL_URI: spec.model_uri,
        FLAVOR: spec.flavor,
        # A copy: plugins may change the dict they are given, and the spec is shared.
        CONFIG: copy.deepcopy(spec.config),
    }


def bind_signature(method: str, sig: inspect.Signature | None) -> CallShape:
    """The call shape of ``method`` (a key of the method table) for signature ``sig``.

    ``None`` stands for a signature that cannot be read (C callables): called like MLflow's CLI
    calls it. Raises ``UnsupportedSignature`` for a required parameter deployctl cannot supply.
    """
    spec = _METHODS[method]
    params = list(sig.parameters.values()) if sig is not None else []
    var_pos = sig is None or any(p.kind is p.VAR_POSITIONAL for p in params)
    var_kw = sig is None or any(p.kind is p.VAR_KEYWORD for p in params)
    named = {PARAM_SOURCES.get(p.name) for p in params}

    positional: list[tuple[str | None, Any, bool]] = []
    keywords: list[tuple[str, str, bool]] = []
    assigned: set[str] = set()
    position = 0
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is p.empty
        src = PARAM_SOURCES.get(p.name)
        if src not in spec.supplies or src in assigned:
            src = None
        if src is None and required:
            meaning = spec.fallback[position] if position < len(spec.fallback) else None
            if p.kind is p.KEYWORD_ONLY or meaning is None or meaning in named | assigned:
                raise UnsupportedSignature(
                    f"its required parameter '{p.name}' is not one deployctl can supply"
                )
            src = meaning
        if src != TARGET and p.kind is not p.KEYWORD_ONLY:
            position += 1
        if src is not None:
            assigned.add(src)
        if p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and required):
            positional.append((src, None if required else p.default, required))
        elif src is not None:
            keywords.append((p.name, src, required))
    while positional and positional[-1][0] is None and not positional[-1][2]:
        positional.pop()

    for src in spec.required:
        if src in assigned:
            continue
        if var_pos and all(required for _, _, required in positional):
            positional.append((src, None, True))
        elif var_kw:
            keywords.append((src, src, True))
        else:
            raise UnsupportedSignature(f"it has no parameter for the deployment's {src}")
        assigned.add(src)
    if var_kw:
        for src in sorted(spec.supplies - assigned - {TARGET, ENDPOINT, PAGE}):
            keywords.append((src, src, False))
            assigned.add(src)
    return CallShape(
        method=method,
        signature=str(sig) if sig is not None else "(...)",
        positional=tuple(positional),
        keywords=tuple(keywords),
        accepted=frozenset(assigned),
    )


@dataclass(frozen=True)
class ClientShape:
    """The call shapes of one client class (computed once per class, see ``client_shape``)."""

    class_name: str
    calls: Mapping[str, CallShape] = field(default_factory=dict)
    # method -> why deployctl cannot call it.
    problems: Mapping[str, str] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()
    # The list_deployments parameter that takes a page token, if any.
    page_param: str | None = None
    # Keywords predict requires beyond (name, df): a required ``endpoint`` gets None.
    predict_keywords: tuple[str, ...] = ()


_shapes: dict[object, Any] = {}
_shapes_lock = threading.Lock()


def client_shape(client: Any) -> ClientShape:
    """The call shapes of ``client``'s class, computed from the first instance seen."""
    cls = type(client)
    shape = _shapes.get(cls)
    if isinstance(shape, ClientShape):
        return shape
    calls: dict[str, CallShape] = {}
    problems: dict[str, str] = {}
    missing: set[str] = set()
    for method in CLIENT_METHODS:
        fn = getattr(client, method, None)
        if not callable(fn):
            missing.add(method)
            continue
        sig = read_signature(fn)
        try:
            calls[method] = bind_signature(method, sig)
        except UnsupportedSignature as exc:
            problems[method] = f"{cls.__name__}.{method}{sig or '(...)'}: {exc}"
    predict = getattr(client, "predict", None)
    predict_keywords: tuple[str, ...] = ()
    if not callable(predict):
        missing.add("predict")
    else:
        sig = read_signature(predict)
        try:
            predict_keywords = predict_shape(sig)
        except UnsupportedSignature as exc:
            problems["predict"] = f"{cls.__name__}.predict{sig or '(...)'}: {exc}"
    page_param = None
    listing = calls.get("list_deployments")
    if listing is not None:
        page_param = next((p for p, src, _ in listing.keywords if src == PAGE), None)
    shape = ClientShape(
        cls.__name__, calls, problems, frozenset(missing), page_param, predict_keywords
    )
    with _shapes_lock:
        return _shapes.setdefault(cls, shape)  # type: ignore[no-any-return]


def function_shape(method: str, fn: Callable[..., Any]) -> CallShape:
    """The call shape of a module function (``run_local``), cached per function."""
    cached = _shapes.get(fn)
    if isinstance(cached, CallShape):
        return cached
    shape = bind_signature(method, read_signature(fn))
    with _shapes_lock:
        return _shapes.setdefault(fn, shape)  # type: ignore[no-any-return]


def read_signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    """``fn``'s signature, or ``None`` when it cannot be read (C callables, some builtins)."""
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def predict_shape(sig: inspect.Signature | None) -> tuple[str, ...]:
    """The keywords (each given None) that ``predict(name, df, ...)`` needs besides.

    deployctl calls ``predict(name, df)`` positionally: that fits the seed's
    ``predict(deployment_name, df)`` and MLflow's ``predict(deployment_name=None, inputs=None,
    endpoint=None)``. Raises ``UnsupportedSignature`` when it cannot be called that way.
    """
    if sig is None:
        return ()
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return ()
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        raise UnsupportedSignature("it does not take a deployment name and a DataFrame")
    extra = [
        p
        for p in params
        if p not in positional[:2] and p.default is p.empty and p.kind is not p.VAR_KEYWORD
    ]
    unsupported = [p.name for p in extra if p.name != "endpoint" or p.kind is p.POSITIONAL_ONLY]
    if unsupported:
        raise UnsupportedSignature(
            f"its required parameters {', '.join(unsupported)} are not ones deployctl can supply"
        )
    return tuple(p.name for p in extra)


__all__ = [
    "CLIENT_METHODS",
    "CONFIG",
    "ENDPOINT",
    "FLAVOR",
    "MODEL_URI",
    "NAME",
    "PAGE",
    "PARAM_SOURCES",
    "REQUIRED_METHODS",
    "TARGET",
    "CallShape",
    "ClientShape",
    "UnsupportedSignature",
    "bind_signature",
    "client_shape",
    "function_shape",
    "predict_shape",
    "read_signature",
    "spec_values",
]
