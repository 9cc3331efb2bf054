"""The mechanics of the conformance kit: a target loaded and called exactly as deployctl does.

``ConformanceTarget`` loads the target with ``load_target`` and the run's field mapping
(``--deployctl-fields``, what a manifest target's ``fields:`` holds), so a plugin deployctl
cannot load fails here the way it fails in ``deployctl plan`` and records are read as deployctl
reads them. It calls the plugin's own client with the argument binding of deployctl's adapter
(``TargetAdapter.shape``): the seed's ``update_deployment(target, name, ...)`` and MLflow's
``update_deployment(name, ...)`` are both called correctly. The raw calls keep what the plugin
returned or raised, unwrapped, so a check can say exactly what the plugin did.

Every deployment the kit creates has a throw-away name, ``dctl-conf-<8 hex>-<purpose>``, unique
per run; ``cleanup`` deletes those that still exist and nothing else.
"""

from __future__ import annotations

import copy
import functools
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec, JSONObject, json_safe
from deployctl.model.live import LiveRecord
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target
from deployctl.targets.plugin_errors import error_says_not_found
from deployctl.targets.records import RecordShapeError
from deployctl.targets.signatures import CONFIG, FLAVOR, MODEL_URI, NAME, TARGET
from deployctl.testing.options import MODEL_URI_OPTION, KitOptions

# The manifest key deployctl's errors name the target by.
TARGET_KEY: Final = "conformance"
# Short, lower-case, digits and hyphens: valid for SageMaker endpoints and Kubernetes names.
NAME_PREFIX: Final = "dctl-conf"
RESOURCE_DOES_NOT_EXIST: Final = "RESOURCE_DOES_NOT_EXIST"
UPDATE: Final = "update_deployment"
# How plugins say that they cannot update in place ("Updating deployments is not supported").
_NO_UPDATE = re.compile(
    r"\bnot\s+(?:yet\s+)?(?:be\s+)?(?:supported|implemented)\b|\bunsupported\b", re.I
)
_TEXT_LIMIT: Final = 300


class LeftoverDeploymentWarning(UserWarning):
    """A throw-away deployment of the kit could not be deleted: delete it by hand."""


@dataclass(frozen=True)
class Outcome:
    """What one plugin call did: returned ``value``, or raised ``error``."""

    value: Any = None
    error: Exception | None = None


def attempt(call: Callable[[], Any]) -> Outcome:
    """Run ``call``, keeping what it returned or the exception it raised."""
    try:
        return Outcome(value=call())
    except Exception as exc:
        return Outcome(error=exc)


class ConformanceTarget:
    """One target under test: its adapter, the run's options, and the throw-away names used."""

    def __init__(
        self, adapter: TargetAdapter, options: KitOptions, run_id: str | None = None
    ) -> None:
        self.adapter = adapter
        self.options = options
        self.run_id = run_id or secrets.token_hex(4)
        self._names: list[str] = []
        self._created: tuple[str, Outcome] | None = None

    @classmethod
    def load(cls, options: KitOptions) -> ConformanceTarget:
        """Load ``options.target_uri`` with ``options.fields`` as deployctl does (raises its
        ``DeployctlError``)."""
        adapter = load_target(options.target_uri, key=TARGET_KEY, fields=options.fields or None)
        return cls(adapter, options)

    @property
    def uri(self) -> str:
        """The target URI under test."""
        return self.adapter.uri

    # -- names --

    def name(self, purpose: str) -> str:
        """The throw-away name for ``purpose``; ``cleanup`` deletes it if it exists."""
        name = self._throwaway(purpose)
        if name not in self._names:
            self._names.append(name)
        return name

    def missing_name(self) -> str:
        """A name of this run that the kit never creates (so never cleans up)."""
        return self._throwaway("missing")

    def _throwaway(self, purpose: str) -> str:
        return f"{NAME_PREFIX}-{self.run_id}-{purpose}"

    # -- raw plugin calls, bound as deployctl binds them --

    def create(self, name: str) -> Any:
        """``create_deployment`` with the run's model and config; returns what the plugin did."""
        return self._call(
            "create_deployment",
            {
                TARGET: self.uri,
                NAME: name,
                MODEL_URI: self.options.model_uri,
                FLAVOR: None,
                CONFIG: copy.deepcopy(self.options.config),
            },
        )

    def get(self, name: str) -> Any:
        """``get_deployment``; returns what the plugin returned (raises what it raised)."""
        return self._call("get_deployment", {TARGET: self.uri, NAME: name})

    def delete(self, name: str) -> Any:
        """``delete_deployment``; returns what the plugin returned (raises what it raised)."""
        return self._call("delete_deployment", {TARGET: self.uri, NAME: name})

    def _call(self, method: str, values: Mapping[str, Any]) -> Any:
        args, kwargs = self.adapter.shape.calls[method].arguments(values)
        return getattr(self.adapter.client, method)(*args, **kwargs)

    # -- deployctl's own calls (normalised, pages followed) --

    def update(self, name: str) -> None:
        """Update ``name`` to the run's update model and config through deployctl's adapter
        (raises ``TargetError``)."""
        config: JSONObject = copy.deepcopy(self.options.config_after_update)
        spec = DeploymentSpec(model_uri=self.options.update_model_uri, config=config)
        self.adapter.update(name, spec)

    def has_no_update(self) -> bool:
        """Whether the plugin's client has no ``update_deployment`` at all."""
        return UPDATE in self.adapter.shape.missing

    def list_deployments(self) -> list[LiveRecord]:
        """What deployctl's refresh lists (raises ``TargetError``)."""
        return self.adapter.list()

    def record(self, name: str, value: Any) -> LiveRecord:
        """``value`` (what get returned) as deployctl reads it."""
        return self.adapter.record_shape.record(name, value)

    def unmapped(self, record: LiveRecord) -> list[str]:
        """The fields of the run's mapping that ``record`` does not report, each as ``field
        (path)``; the ``name`` mapping is for list items, checked by the list check."""
        missing = []
        for fld, path in self.options.fields.items():
            if fld == "config":
                # Mapped keys found without the whole config are reported as config_keys.
                absent = record.config is None or record.config_keys is not None
            elif fld in ("model_uri", "flavor", "status"):
                absent = getattr(record, fld) is None
            else:
                continue
            if absent:
                missing.append(f"{fld} ({path})")
        # Per-key mappings (config.KEY): the only config keys a shape has come from a mapping.
        for key, path in self.adapter.record_shape.config_keys:
            if key not in (record.config or {}):
                missing.append(f"config.{key} ({path})")
        return missing

    # -- the shared deployment --

    def created(self) -> tuple[str, Outcome]:
        """The run's one long-lived deployment, created on first use; never raises.

        Shared by the checks that only need a deployment to exist, because creating one can
        take minutes on a real target.
        """
        if self._created is None:
            name = self.name("create")
            self._created = (name, attempt(functools.partial(self.create, name)))
        return self._created

    # -- clean-up --

    def cleanup(self) -> list[str]:
        """Delete the run's deployments that still exist; the ones that could not be, and why.

        Only names this run handed out are touched. A name whose ``get`` says it is not found
        is left alone (many deletes are not idempotent); errors are collected, not raised.
        """
        problems = []
        for name in reversed(self._names):
            found = attempt(functools.partial(self.get, name))
            if found.error is not None and error_says_not_found(found.error):
                continue
            deleted = attempt(functools.partial(self.delete, name))
            if deleted.error is not None and found.error is None:
                problems.append(
                    f"the conformance kit could not delete its deployment {name!r} on "
                    f"{self.uri}: delete_deployment raised {describe_raised(deleted.error)}; "
                    "delete it by hand"
                )
        return problems


# --- describing what a plugin did ---------------------------------------------------------------


def describe_failure(method: str, exc: BaseException) -> str:
    """What went wrong in ``method``: ``METHOD raised ...`` or ``METHOD returned ...``."""
    if is_record_shape_error(exc):
        return f"{method} returned {_one_line(str(exc.__cause__))}"
    return f"{method} raised {describe_raised(exc)}"


def is_record_shape_error(exc: BaseException) -> bool:
    """Whether deployctl failed on what the plugin returned (not on something it raised)."""
    return isinstance(exc, TargetError) and isinstance(exc.__cause__, RecordShapeError)


def describe_raised(exc: BaseException) -> str:
    """``Type (error_code CODE): message`` of a plugin exception, on one line.

    A deployctl ``TargetError`` is described by the plugin exception it wraps, if any.
    """
    if isinstance(exc, TargetError) and exc.cause is not None:
        exc = exc.cause
    code = getattr(exc, "error_code", None)
    code_text = "no error_code" if code is None else f"error_code {code}"
    # A message's own final period would clash with the "; deployctl needs" that follows.
    text = _one_line(str(exc)).rstrip(".")
    return f"{type(exc).__name__} ({code_text})" + (f": {text}" if text else "")


def refuses_updates(exc: BaseException) -> bool:
    """Whether an update failed because the plugin cannot update in place: it raised
    ``NotImplementedError`` or said "not supported" (mlflow-triton-control: "Updating
    deployments is not supported")."""
    if isinstance(exc, TargetError) and exc.cause is not None:
        exc = exc.cause
    return isinstance(exc, NotImplementedError) or bool(_NO_UPDATE.search(str(exc)))


def describe_value(value: Any) -> str:
    """A value a plugin returned, short and on one line: ``None``, ``{...}``, ``a list: [...]``."""
    if value is None or isinstance(value, Mapping):
        return preview(value)
    return f"a {type(value).__name__}: {preview(value)}"


def preview(value: Any) -> str:
    """A short, one-line rendering of a value a plugin returned."""
    return _one_line(repr(json_safe(value)))


def model_hint(options: KitOptions) -> str:
    """Why a create may fail on a real target, and what to pass."""
    return (
        f"the kit deploys {options.model_uri}; a target that loads the model needs a real one: "
        f"pass {MODEL_URI_OPTION} models:/NAME/VERSION"
    )


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"
