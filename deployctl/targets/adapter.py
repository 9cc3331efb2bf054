"""The target adapter: one object per target that hides how deployment plugins differ.

Real plugins disagree on almost everything (see ``shared/plugins.md``): signatures, the shape of
``list_deployments``, what they raise, and records that are not JSON. ``TargetAdapter`` puts the
pieces together for one connected client: call shapes decided from its signatures
(``signatures``), records read through the target's ``RecordShape`` (``records``), and every
plugin exception turned into one ``TargetError`` naming the target, the call and the address
(``plugin_errors``). Each plugin call is logged at DEBUG, time-limited and retried when it fails
transiently as the target's ``CallPolicy`` says (``calls``); with ``client: per_action`` each
create, update and delete is made on a freshly built client, so what a plugin keeps on its
client from one call cannot leak into the next.

The plugin module's own functions (``run_local``, ``target_help``) need no client: see
``plugin_module.PluginModule``.
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import logging
import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

from deployctl.errors import TargetError
from deployctl.model import Address, DeploymentSpec, JSONObject, target_scheme
from deployctl.model.calls import WRITE_CALLS, CallPolicy
from deployctl.model.live import LiveRecord
from deployctl.targets.calls import RetryListener, call_plugin
from deployctl.targets.plugin_errors import describe_exception
from deployctl.targets.records import (
    DEFAULT_RECORD_SHAPE,
    RecordShape,
    RecordShapeError,
    json_object,
)
from deployctl.targets.registry import TargetPlugin
from deployctl.targets.signatures import (
    CONFIG,
    NAME,
    PAGE,
    REQUIRED_METHODS,
    TARGET,
    client_shape,
    spec_values,
)

if TYPE_CHECKING:
    from deployctl.targets.read_ahead import ReadAhead

logger = logging.getLogger(__name__)

_MAX_PAGES: Final = 10_000
# How plugins that cannot update say so (mlflow-triton-control: "Updating deployments is not
# supported"); a NotImplementedError says it whatever its text.
_NO_UPDATE: Final = re.compile(
    r"\bupdat\w*\b.*\b(?:not supported|unsupported|not implemented|not allowed)\b"
    r"|\b(?:cannot|can't|does not support|doesn't support)\b.*\bupdat",
    re.IGNORECASE,
)


LIST_RETURNS_FULL_RECORDS: Final = "LIST_RETURNS_FULL_RECORDS"
LIST_IS_COMPLETE: Final = "LIST_IS_COMPLETE"
RUNS_IN_PROCESS: Final = "RUNS_IN_PROCESS"
DEFERRED_SYNCS: Final = "DEFERRED_SYNCS"


class TargetAdapter:
    """One target: a plugin client plus everything needed to call it the same way as any other.

    ``key`` is the manifest's name for the target, ``uri`` what the client was built with.
    Construction reads the client's signatures (once per class) and raises ``TargetError`` for
    a required method deployctl cannot call. ``record_shape`` says where the target's records
    keep each field (``RecordShape.with_fields`` for a manifest's ``fields:`` mapping).
    ``policy`` limits and retries the list, get, create, update and delete calls (the
    manifest's ``timeout:`` and ``retry:``); ``on_retry``, if set, hears of each retry (it may
    be set later: a console reporting retries of the calls it shows). When the policy's
    ``client`` is ``per_action``, ``connect`` builds the client each create, update and delete
    is made on (by default ``type(client)(uri)``, as loading builds ``client``).
    """

    def __init__(
        self,
        key: str,
        uri: str,
        client: Any,
        *,
        plugin: TargetPlugin | None = None,
        record_shape: RecordShape = DEFAULT_RECORD_SHAPE,
        policy: CallPolicy | None = None,
        on_retry: RetryListener | None = None,
        connect: Callable[[], Any] | None = None,
    ) -> None:
        self.key = key
        self.uri = uri
        self.scheme = target_scheme(uri)
        self.client = client
        self._connect = connect if connect is not None else lambda: type(client)(uri)
        self.plugin = plugin or TargetPlugin(self.scheme, "unregistered", type(client).__module__)
        self.record_shape = record_shape
        self.policy = policy if policy is not None else CallPolicy()
        self.on_retry = on_retry
        # Set by TargetPool.read_ahead: the next list() takes the records a child listed.
        self.read_ahead: ReadAhead | None = None
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
    def lists_full_records(self) -> bool:
        """Whether the plugin's ``list_deployments`` returns each deployment's full record (what
        ``get_deployment`` would): its client class says so with
        ``LIST_RETURNS_FULL_RECORDS = True``. Refresh then calls ``get`` only for names the
        list did not report."""
        return getattr(type(self.client), LIST_RETURNS_FULL_RECORDS, False) is True

    @property
    def runs_in_process(self) -> bool:
        """Whether the plugin's calls do their work in this process (local files, no network):
        its client class says so with ``RUNS_IN_PROCESS = True``. Threads only add contention
        for the interpreter lock to such calls, so a refresh of such targets alone reads them
        one after another."""
        return getattr(type(self.client), RUNS_IN_PROCESS, False) is True

    @property
    def lists_every_deployment(self) -> bool:
        """Whether the plugin's ``list_deployments`` always reports every deployment (never a
        page, never behind on a create): its client class says so with
        ``LIST_IS_COMPLETE = True``. Refresh then takes a name the list did not report as
        absent without asking ``get``."""
        return getattr(type(self.client), LIST_IS_COMPLETE, False) is True

    def list(self) -> builtins.list[LiveRecord]:
        """Every deployment the target lists (following pages when the plugin can be asked);
        the first time, what a read-ahead listed, if it did (``TargetPool.read_ahead``)."""
        ahead, self.read_ahead = self.read_ahead, None
        if ahead is not None:
            listed = ahead.take(self.key)
            if listed is not None:
                return listed
        call = "list_deployments"
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
        result = self._invoke("get_deployment", name, {TARGET: self.uri, NAME: name})
        return self.record_shape.record(name, result)

    # -- changing --

    def deferred_syncs(self) -> AbstractContextManager[None]:
        """A block at whose end the calling thread's changes are made durable together, instead
        of each before it returns: the plugin's, when its client class has one (the local
        target's ``DEFERRED_SYNCS``: one directory fsync for the block), else a block that
        changes nothing. Nothing may report the block's changes as durable before it ends."""
        deferred = getattr(type(self.client), DEFERRED_SYNCS, None)
        return deferred() if callable(deferred) else contextlib.nullcontext()

    def create(self, name: str, spec: DeploymentSpec) -> JSONObject:
        """Create ``name`` from ``spec``; returns the plugin's answer JSON-safe ({} if None)."""
        call = "create_deployment"
        self.shape.calls[call].check_accepts(
            spec, target=self.key, address=str(Address(self.key, name))
        )
        result = self._invoke(call, name, spec_values(self.uri, name, spec))
        return {} if result is None else json_object(result, name)

    def update(self, name: str, spec: DeploymentSpec) -> JSONObject | None:
        """Change ``name`` to ``spec``; returns what the plugin returned (JSON-safe) or None."""
        call = "update_deployment"
        if call in self.shape.missing:
            raise TargetError(
                f"{self.shape.class_name} has no update_deployment method",
                target=self.key,
                call=call,
                address=self._address(name),
                hint=self._no_update_hint(),
            )
        self.shape.calls[call].check_accepts(
            spec, target=self.key, address=str(Address(self.key, name))
        )
        try:
            result = self._invoke(call, name, spec_values(self.uri, name, spec))
        except TargetError as exc:
            if _cannot_update(exc):
                hint = self._no_update_hint()
                exc.hint = f"{exc.hint}; {hint}" if exc.hint else hint
            raise
        return None if result is None else json_object(result, name)

    def delete(self, name: str, config: JSONObject | None = None) -> None:
        """Delete ``name`` (only call for what exists: many plugins are not idempotent).

        ``config`` reaches the plugin when its ``delete_deployment`` accepts one (SageMaker
        reads ``archive``, ``synchronous``, ``region_name``... there); otherwise it is dropped.
        """
        values: dict[str, Any] = {TARGET: self.uri, NAME: name}
        if config is not None:
            # A copy: plugins may change the dict they are given.
            values[CONFIG] = copy.deepcopy(config)
        self._invoke("delete_deployment", name, values)

    # -- using --

    def predict(self, name: str, df: Any) -> Any:
        """Score ``df`` against ``name``; returns whatever the plugin returns."""
        call = "predict"
        if call in self.shape.missing or call in self.shape.problems:
            problem = self.shape.problems.get(call)
            why = (
                f"deployctl cannot call {problem}"
                if problem
                else f"{self.shape.class_name} has no predict method"
            )
            raise TargetError(why, target=self.key, call=call, address=self._address(name))
        keywords = dict.fromkeys(self.shape.predict_keywords)
        # Scoring is the user's own request: no time limit and no retry (not a CallPolicy call).
        return call_plugin(
            logger,
            self.client.predict,
            [name, df],
            keywords,
            target=self.key,
            call=call,
            address=self._address(name),
            scheme=self.scheme,
        )

    # -- plumbing --

    def _invoke(self, call: str, name: str | None, values: Mapping[str, Any]) -> Any:
        args, kwargs = self.shape.calls[call].arguments(values)
        client = self._fresh_client(call, name) if self._per_action(call) else self.client
        return call_plugin(
            logger,
            getattr(client, call),
            args,
            kwargs,
            target=self.key,
            call=call,
            address=self._address(name),
            scheme=self.scheme,
            policy=self.policy,
            on_retry=self.on_retry,
        )

    def _address(self, name: str | None) -> str | None:
        return str(Address(self.key, name)) if name else None

    def _per_action(self, call: str) -> bool:
        return call in WRITE_CALLS and self.policy.client_per_action

    def _fresh_client(self, call: str, name: str | None) -> Any:
        """A client built for this one ``call`` (``client: per_action``); its retries reuse it."""
        try:
            client = self._connect()
        except Exception as exc:
            raise TargetError(
                f"building a fresh client for it failed (client: per_action): "
                f"{describe_exception(exc)}",
                target=self.key,
                call=call,
                address=self._address(name),
                cause=exc,
            ) from exc
        logger.debug("target '%s': a fresh client for %s (client: per_action)", self.key, call)
        return client

    def _no_update_hint(self) -> str:
        return (
            f"target '{self.key}' cannot update deployments in place: set 'update: replace' on "
            "it in the manifest to have deployctl delete and create them again instead"
        )


def _cannot_update(exc: TargetError) -> bool:
    """Whether a failed update_deployment says that the plugin cannot update at all."""
    if isinstance(exc.cause, NotImplementedError):
        return True
    return exc.cause is not None and bool(_NO_UPDATE.search(str(exc.cause)))


__all__ = ["TargetAdapter"]
