"""The target adapter: one object per target that hides how deployment plugins differ.

Real plugins disagree on almost everything (see ``shared/plugins.md``): signatures (the seed's
``update_deployment(target, name, ...)`` versus MLflow's ``update_deployment(name, ...)``,
optional or *required* ``endpoint``), the shape of ``list_deployments`` (lists of dicts, pages,
dicts keyed by name, bare strings, names under ``EndpointName``), what they raise, and records
that are not JSON. ``TargetAdapter`` decides the call shapes once per client class by reading
signatures, normalises records into ``LiveRecord`` through a ``RecordShape`` (a target's field
mapping in front of the defaults), and turns every plugin exception into one ``TargetError`` that
names the target, the call and the address — a subclass chosen by the MLflow error code
(``DeploymentNotFoundError``, ``DeploymentExistsError``, ``TargetRejectedError``). It also tells
which interface generation a client class implements (``client_interface``) without an instance.
"""

from __future__ import annotations

import builtins
import copy
import inspect
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Final

from deployctl.errors import (
    DeploymentExistsError,
    DeploymentNotFoundError,
    TargetError,
    TargetRejectedError,
)
from deployctl.model import SPEC_FIELDS, DeploymentSpec, JSONObject, json_safe, target_scheme
from deployctl.targets.protocol import LiveRecord
from deployctl.targets.registry import TargetPlugin

# What deployctl can hand a plugin method; parameters are matched to these by name.
TARGET: Final = "target"
NAME: Final = "name"
MODEL_URI: Final = "model_uri"
FLAVOR: Final = "flavor"
CONFIG: Final = "config"
ENDPOINT: Final = "endpoint"
PAGE: Final = "page"

_PARAM_SOURCES: Final[Mapping[str, str]] = {
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
_CLIENT_METHODS: Final = (*REQUIRED_METHODS, "update_deployment")

_MAX_PAGES: Final = 10_000
_MESSAGE_LIMIT: Final = 300


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


def bind_signature(method: str, sig: inspect.Signature | None) -> CallShape:
    """The call shape of ``method`` (a key of the method table) for signature ``sig``.

    ``None`` stands for a signature that cannot be read (C callables): called like MLflow's CLI
    calls it. Raises ``UnsupportedSignature`` for a required parameter deployctl cannot supply.
    """
    spec = _METHODS[method]
    params = list(sig.parameters.values()) if sig is not None else []
    var_pos = sig is None or any(p.kind is p.VAR_POSITIONAL for p in params)
    var_kw = sig is None or any(p.kind is p.VAR_KEYWORD for p in params)
    named = {_PARAM_SOURCES.get(p.name) for p in params}

    positional: list[tuple[str | None, Any, bool]] = []
    keywords: list[tuple[str, str, bool]] = []
    assigned: set[str] = set()
    position = 0
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        required = p.default is p.empty
        src = _PARAM_SOURCES.get(p.name)
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
    for method in _CLIENT_METHODS:
        fn = getattr(client, method, None)
        if not callable(fn):
            missing.add(method)
            continue
        sig = _signature(fn)
        try:
            calls[method] = bind_signature(method, sig)
        except UnsupportedSignature as exc:
            problems[method] = f"{cls.__name__}.{method}{sig or '(...)'}: {exc}"
    predict = getattr(client, "predict", None)
    predict_keywords: tuple[str, ...] = ()
    if not callable(predict):
        missing.add("predict")
    else:
        sig = _signature(predict)
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
    shape = bind_signature(method, _signature(fn))
    with _shapes_lock:
        return _shapes.setdefault(fn, shape)  # type: ignore[no-any-return]


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
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


# --- interface generations ---------------------------------------------------------------------

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
    sig = _signature(fn)
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
    for method in _CLIENT_METHODS:
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
    if first is not None and _PARAM_SOURCES.get(first.name) == TARGET:
        return SEED
    if any(ENDPOINT in sig.parameters for sig in readable):
        return MLFLOW_3
    return MLFLOW_2


# --- records -----------------------------------------------------------------------------------

NAME_KEYS: Final = (
    "name",
    "EndpointName",
    "endpoint_name",
    "deployment_name",
    "modelName",
    "model_name",
)
RECORD_FIELDS: Final = ("name", "model_uri", "flavor", "config", "status")
_MISSING: Final = object()


class RecordShapeError(ValueError):
    """A plugin returned a record deployctl cannot make sense of."""


@dataclass(frozen=True)
class RecordShape:
    """Where a target's records keep the fields deployctl reads.

    Each field is a tuple of paths tried in order; a path is a key or a dotted path into nested
    dicts (``Tags.model_uri``). ``with_fields`` puts a per-target mapping in front of the
    defaults.
    """

    name: tuple[str, ...] = NAME_KEYS
    model_uri: tuple[str, ...] = ("model_uri", "mlflow_model_uri")
    flavor: tuple[str, ...] = ("flavor",)
    config: tuple[str, ...] = ("config",)
    status: tuple[str, ...] = ("status", "state", "EndpointStatus")

    def with_fields(self, fields: Mapping[str, str]) -> RecordShape:
        """This shape with ``fields`` (field -> path, e.g. ``{"name": "EndpointName"}``) first."""
        changes: dict[str, tuple[str, ...]] = {}
        for fld, path in fields.items():
            if fld not in RECORD_FIELDS:
                raise ValueError(
                    f"'{fld}' is not a record field (expected one of {', '.join(RECORD_FIELDS)})"
                )
            current: tuple[str, ...] = getattr(self, fld)
            changes[fld] = (path, *(p for p in current if p != path))
        return replace(self, **changes)

    def name_in(self, item: Mapping[str, Any]) -> str | None:
        """The deployment name an item carries, if any."""
        for path in self.name:
            value = _lookup(item, path)
            if isinstance(value, str) and value:
                return value
        return None

    def record(self, name: str, body: Any, raw: Any = _MISSING) -> LiveRecord:
        """A ``LiveRecord`` for ``name`` from what the plugin returned for it.

        ``body`` is where the fields are read; ``raw`` (default: ``body``) is what is kept.
        Bodies that are not dicts are kept as ``{"name": name, "value": ...}``.
        """
        if raw is _MISSING:
            raw = body
        if not isinstance(body, Mapping):
            return LiveRecord(
                name=name,
                raw={"name": name, "value": json_safe(body)},
                unreported=frozenset(SPEC_FIELDS),
            )
        model_uri = self._text(body, self.model_uri)
        flavor = self._text(body, self.flavor)
        config = self._config(body)
        found = {MODEL_URI: model_uri, FLAVOR: flavor, CONFIG: config}
        return LiveRecord(
            name=name,
            raw=_as_object(raw, name),
            model_uri=model_uri,
            flavor=flavor,
            config=config,
            status=self._status(body),
            unreported=frozenset(
                fld
                for fld, value in found.items()
                if value is None and not self._null(body, getattr(self, fld))
            ),
        )

    def listing(self, result: Any) -> tuple[builtins.list[LiveRecord], str | None]:
        """The records of one ``list_deployments`` result and its next page token.

        Accepts a list (of dicts with a name, single-key dicts ``{name: {...}}``, or bare name
        strings), a page ``{"deployments": [...], "next_page_token": ...}``, or a dict keyed by
        deployment name. Raises ``RecordShapeError`` for an item without a name.
        """
        token: str | None = None
        if result is None:
            return [], None
        if isinstance(result, Mapping):
            if isinstance(result.get("deployments"), (list, tuple)):
                items: Any = result["deployments"]
                next_token = result.get("next_page_token")
                token = str(next_token) if next_token not in (None, "") else None
            else:
                return [self._keyed(str(k), v) for k, v in result.items()], None
        elif isinstance(result, (str, bytes)):
            raise RecordShapeError(f"a {type(result).__name__} instead of a list of deployments")
        else:
            try:
                items = builtins.list(result)
            except TypeError:
                raise RecordShapeError(
                    f"a {type(result).__name__} instead of a list of deployments"
                ) from None
        return [self._item(item) for item in items], token

    def _item(self, item: Any) -> LiveRecord:
        if isinstance(item, str) and item:
            return LiveRecord(name=item, raw={"name": item})
        if isinstance(item, Mapping):
            name = self.name_in(item)
            if name is not None:
                return self.record(name, item)
            if len(item) == 1:
                # torchserve lists [{<modelName>: {...}}]: the only key is the name.
                ((key, value),) = item.items()
                if isinstance(key, str) and key and isinstance(value, (Mapping, list, tuple)):
                    return self._keyed(key, value)
        raise RecordShapeError(
            f"a record without a name ({_preview(item)}): the target's records need a `name` "
            f"(deployctl also reads {', '.join(self.name[1:])})"
        )

    def _keyed(self, name: str, value: Any) -> LiveRecord:
        return self.record(name, value if isinstance(value, Mapping) else {}, {name: value})

    @staticmethod
    def _null(body: Mapping[str, Any], paths: tuple[str, ...]) -> bool:
        """Whether the record holds an explicit null at one of ``paths`` (reported as unset)."""
        return any(_find(body, path) is None for path in paths)

    def _text(self, body: Mapping[str, Any], paths: tuple[str, ...]) -> str | None:
        for path in paths:
            value = _lookup(body, path)
            if isinstance(value, str) and value:
                return value
        return None

    def _config(self, body: Mapping[str, Any]) -> JSONObject | None:
        for path in self.config:
            value = _lookup(body, path)
            if isinstance(value, Mapping):
                return _as_object(value, None)
        return None

    def _status(self, body: Mapping[str, Any]) -> str | None:
        for path in self.status:
            value = _lookup(body, path)
            if isinstance(value, str):
                return value
            # Enum members (Ray's statuses) carry the text in .value.
            inner = getattr(value, "value", None)
            if isinstance(inner, str):
                return inner
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)
        return None


DEFAULT_RECORD_SHAPE: Final = RecordShape()


def _find(item: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (a key, else a dotted path), or ``_MISSING`` when there is none."""
    if path in item:
        return item[path]
    current: Any = item
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _lookup(item: Mapping[str, Any], path: str) -> Any:
    value = _find(item, path)
    return None if value is _MISSING else value


def _as_object(value: Any, name: str | None) -> JSONObject:
    safe = json_safe(value)
    if isinstance(safe, dict):
        return safe
    out: JSONObject = {"value": safe}
    if name is not None:
        out = {"name": name, **out}
    return out


def _preview(value: Any, limit: int = 120) -> str:
    text = " ".join(repr(json_safe(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- errors ------------------------------------------------------------------------------------

_NOT_FOUND_CODES: Final = frozenset({"RESOURCE_DOES_NOT_EXIST", "ENDPOINT_NOT_FOUND", "NOT_FOUND"})
_NOT_FOUND_AWS_CODES: Final = frozenset(
    {
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NotFound",
        "NotFoundException",
        "NoSuchEntity",
        "404",
    }
)
_NOT_FOUND_TEXT: Final = re.compile(
    r"not found|does not exist|doesn't exist|no such|could not find|\b404\b", re.IGNORECASE
)


_EXISTS_CODES: Final = frozenset({"RESOURCE_ALREADY_EXISTS"})
_REJECTED_CODES: Final = frozenset({"INVALID_PARAMETER_VALUE", "BAD_REQUEST"})


def error_code_of(exc: BaseException) -> str | None:
    """The MLflow error code a plugin exception carries (``MlflowException.error_code``)."""
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) and code else None


def error_class(code: str | None) -> type[TargetError]:
    """The ``TargetError`` subclass for an MLflow error code (``TargetError`` for the rest)."""
    if code in _NOT_FOUND_CODES:
        return DeploymentNotFoundError
    if code in _EXISTS_CODES:
        return DeploymentExistsError
    if code in _REJECTED_CODES:
        return TargetRejectedError
    return TargetError


def describe_exception(exc: BaseException, limit: int = _MESSAGE_LIMIT) -> str:
    """``TypeName: text`` on one line (whitespace collapsed), at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if len(message) > limit:
        message = message[: limit - 1] + "…"
    return message


def error_says_not_found(exc: BaseException) -> bool:
    """Whether a plugin exception says the deployment does not exist.

    Informational only (existence is decided by refresh): plugins signal it by MLflow error
    code, by ``KeyError``, by botocore error code, or only in the message text.
    """
    if isinstance(exc, KeyError):
        return True
    code = getattr(exc, "error_code", None)
    if isinstance(code, str) and code in _NOT_FOUND_CODES:
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            if str(error.get("Code", "")) in _NOT_FOUND_AWS_CODES:
                return True
            if _NOT_FOUND_TEXT.search(str(error.get("Message", ""))):
                return True
    elif getattr(response, "status_code", None) == 404:
        return True
    return bool(_NOT_FOUND_TEXT.search(str(exc)))


# --- the adapter -------------------------------------------------------------------------------


class TargetAdapter:
    """One target: a plugin client plus everything needed to call it the same way as any other.

    ``key`` is the manifest's name for the target, ``uri`` what the client was built with.
    Construction reads the client's signatures (once per class) and raises ``TargetError`` for
    a required method deployctl cannot call. ``record_shape`` says where the target's records
    keep each field (``RecordShape.with_fields`` for a manifest's ``fields:`` mapping).

    ``client=None`` makes an adapter for the plugin module's functions only (``run_local``,
    ``target_help``), as MLflow's ``run-local`` does: constructing a client can connect to a
    cluster, which serving a model locally does not need. Its client calls raise ``TargetError``.
    """

    def __init__(
        self,
        key: str,
        uri: str,
        client: Any,
        *,
        plugin: TargetPlugin | None = None,
        module: ModuleType | None = None,
        record_shape: RecordShape = DEFAULT_RECORD_SHAPE,
    ) -> None:
        self.key = key
        self.uri = uri
        self.scheme = target_scheme(uri)
        self.client = client
        self.plugin = plugin or TargetPlugin(
            self.scheme, "unregistered", getattr(module, "__name__", type(client).__module__)
        )
        self.module = module
        self.record_shape = record_shape
        if client is None:
            self.shape = ClientShape(
                "(no client)", missing=frozenset((*_CLIENT_METHODS, "predict"))
            )
            return
        self.shape = client_shape(client)
        for method in REQUIRED_METHODS:
            if method in self.shape.missing:
                raise TargetError(
                    f"{self.shape.class_name} has no {method} method",
                    target=key,
                    call=method,
                    hint=f"{self.plugin.describe()} is not a deployment plugin deployctl can use",
                )
        for method in (*REQUIRED_METHODS, "update_deployment"):
            if method in self.shape.problems:
                raise TargetError(
                    f"deployctl cannot call {self.shape.problems[method]}",
                    target=key,
                    call=method,
                    hint="report this to the plugin's authors",
                )

    def __repr__(self) -> str:
        return (
            f"TargetAdapter(key={self.key!r}, uri={self.uri!r}, plugin={self.plugin.describe()!r})"
        )

    # -- reading --

    @property
    def connected(self) -> bool:
        """Whether this adapter has a client (see ``client=None`` above)."""
        return self.client is not None

    def _require_client(self, call: str, name: str | None) -> None:
        if self.client is None:
            raise TargetError(
                "no client was connected for this target (it was loaded for run_local and "
                "target_help only)",
                target=self.key,
                call=call,
                address=self._address(name),
            )

    def list(self) -> builtins.list[LiveRecord]:
        """Every deployment the target lists (following pages when the plugin can be asked)."""
        call = "list_deployments"
        self._require_client(call, None)
        values: dict[str, Any] = {TARGET: self.uri}
        records: dict[str, LiveRecord] = {}
        tokens: set[str] = set()
        for _ in range(_MAX_PAGES):
            result = self._invoke(call, None, values)
            try:
                page, token = self.record_shape.listing(result)
            except RecordShapeError as exc:
                raise TargetError(f"{call} returned {exc}", target=self.key, call=call) from exc
            for record in page:
                records.setdefault(record.name, record)
            # Without a way to ask for the next page, take the first; refresh's get for each
            # wanted name covers the rest.
            if token is None or self.shape.page_param is None:
                break
            if token in tokens:
                raise TargetError(
                    f"{call} returned next_page_token {token!r} twice",
                    target=self.key,
                    call=call,
                    hint="report this to the plugin's authors",
                )
            tokens.add(token)
            values[PAGE] = (
                {"page_token": token} if self.shape.page_param == "pagination_args" else token
            )
        return builtins.list(records.values())

    def get(self, name: str) -> LiveRecord:
        """``name`` as the target describes it; raises ``TargetError`` when it cannot."""
        self._require_client("get_deployment", name)
        result = self._invoke("get_deployment", name, {TARGET: self.uri, NAME: name})
        return self.record_shape.record(name, result)

    # -- changing --

    def create(self, name: str, spec: DeploymentSpec) -> JSONObject:
        """Create ``name`` from ``spec``; returns the plugin's answer JSON-safe ({} if None)."""
        self._require_client("create_deployment", name)
        self._check_accepts(self.shape.calls["create_deployment"], name, spec)
        result = self._invoke("create_deployment", name, self._spec_values(name, spec))
        return {} if result is None else _as_object(result, name)

    def update(self, name: str, spec: DeploymentSpec) -> JSONObject | None:
        """Change ``name`` to ``spec``; returns what the plugin returned (JSON-safe) or None."""
        self._require_client("update_deployment", name)
        if "update_deployment" in self.shape.missing:
            raise TargetError(
                f"{self.shape.class_name} has no update_deployment method",
                target=self.key,
                call="update_deployment",
                address=self._address(name),
                hint="this target cannot change a deployment in place; replace it instead",
            )
        self._check_accepts(self.shape.calls["update_deployment"], name, spec)
        result = self._invoke("update_deployment", name, self._spec_values(name, spec))
        return None if result is None else _as_object(result, name)

    def delete(self, name: str) -> None:
        """Delete ``name`` (only call for what exists: many plugins are not idempotent)."""
        self._require_client("delete_deployment", name)
        self._invoke("delete_deployment", name, {TARGET: self.uri, NAME: name})

    # -- using --

    def predict(self, name: str, df: Any) -> Any:
        """Score ``df`` against ``name``; returns whatever the plugin returns."""
        call = "predict"
        self._require_client(call, name)
        if call in self.shape.missing or call in self.shape.problems:
            problem = self.shape.problems.get(call)
            why = (
                f"deployctl cannot call {problem}"
                if problem
                else f"{self.shape.class_name} has no predict method"
            )
            raise TargetError(why, target=self.key, call=call, address=self._address(name))
        keywords = dict.fromkeys(self.shape.predict_keywords)
        try:
            return self.client.predict(name, df, **keywords)
        except Exception as exc:
            raise self._error(call, name, exc) from exc

    def run_local(self, name: str, spec: DeploymentSpec) -> Any:
        """Serve ``spec``'s model locally through the plugin's ``run_local`` (usually blocks)."""
        call = "run_local"
        fn = getattr(self.module, call, None)
        if not callable(fn):
            raise TargetError(
                f"{self.plugin.describe()} has no run_local function",
                target=self.key,
                call=call,
                address=self._address(name),
            )
        try:
            shape = function_shape(call, fn)
        except UnsupportedSignature as exc:
            raise TargetError(
                f"deployctl cannot call run_local{_signature(fn)}: {exc}",
                target=self.key,
                call=call,
                address=self._address(name),
            ) from exc
        self._check_accepts(shape, name, spec)
        args, kwargs = shape.arguments(self._spec_values(name, spec))
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._error(call, name, exc) from exc

    def target_help(self) -> str:
        """The plugin's ``target_help()`` text (a short note when it has none)."""
        fn = getattr(self.module, "target_help", None)
        if not callable(fn):
            return f"{self.plugin.describe()}: the plugin provides no target_help()."
        try:
            return str(fn())
        except Exception as exc:
            raise self._error("target_help", None, exc) from exc

    # -- plumbing --

    def _spec_values(self, name: str, spec: DeploymentSpec) -> dict[str, Any]:
        return {
            TARGET: self.uri,
            NAME: name,
            MODEL_URI: spec.model_uri,
            FLAVOR: spec.flavor,
            # A copy: plugins may change the dict they are given, and the spec is shared.
            CONFIG: copy.deepcopy(spec.config),
        }

    def _check_accepts(self, shape: CallShape, name: str, spec: DeploymentSpec) -> None:
        unsupported = []
        if spec.flavor is not None and not shape.accepts(FLAVOR):
            unsupported.append("flavor")
        if spec.config and not shape.accepts(CONFIG):
            unsupported.append("config")
        if unsupported:
            fields = " and ".join(unsupported)
            raise TargetError(
                f"{shape.method}{shape.signature} takes no {fields}",
                target=self.key,
                call=shape.method,
                address=self._address(name),
                hint=f"remove {fields} from this deployment in the manifest",
            )

    def _invoke(self, call: str, name: str | None, values: Mapping[str, Any]) -> Any:
        args, kwargs = self.shape.calls[call].arguments(values)
        try:
            return getattr(self.client, call)(*args, **kwargs)
        except Exception as exc:
            raise self._error(call, name, exc) from exc

    def _error(self, call: str, name: str | None, exc: Exception) -> TargetError:
        """``exc`` as the ``TargetError`` (subclass, by MLflow error code) to raise."""
        code = error_code_of(exc)
        cls = error_class(code)
        hint = None
        if cls is TargetRejectedError:
            hint = (
                "check the deployment's flavor and config against what the target accepts: "
                f"deployctl target-help {self.scheme}"
            )
        return cls(
            describe_exception(exc),
            target=self.key,
            call=call,
            address=self._address(name),
            cause=exc,
            not_found=cls is DeploymentNotFoundError or error_says_not_found(exc),
            hint=hint,
            error_code=code,
        )

    def _address(self, name: str | None) -> str | None:
        return f"{self.key}/{name}" if name else None


__all__ = [
    "DEFAULT_RECORD_SHAPE",
    "CallShape",
    "ClientShape",
    "RecordShape",
    "RecordShapeError",
    "TargetAdapter",
    "UnsupportedSignature",
    "bind_signature",
    "client_interface",
    "client_shape",
    "describe_exception",
    "error_class",
    "error_code_of",
    "error_says_not_found",
]
