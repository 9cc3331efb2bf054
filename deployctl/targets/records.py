"""Records: turning what a plugin returns into ``LiveRecord``s.

Plugins return lists of dicts, pages ``{"deployments": [...], "next_page_token": ...}``, dicts
keyed by name, bare name strings, names under ``EndpointName``, and values that are not JSON. A
``RecordShape`` says where a target's records keep each field (a key or a dotted path, tried in
order); ``RecordShape.with_fields`` puts a target's field mapping (the manifest's ``fields:``) in
front of the defaults (``DEFAULT_RECORD_SHAPE``). Per-request metadata (boto3's
``ResponseMetadata`` and the like, ``model.live.PER_REQUEST_KEYS``) is dropped from the raw
record kept, so state and saved plans do not see a change on every read.

Paths are ``record_paths.RecordPath``s (dotted, with list indexes and ``|json``). Besides the
whole ``config``, a mapping may name single config keys (``config.temperature: temperature``,
for plugins that keep config keys flat at the top of the record or spread over it): the record's
config is then the whole config found (if any) with those keys laid over it; when no whole
config is found, only the mapped keys are reported (``LiveRecord.config_keys``).
"""

from __future__ import annotations

import builtins
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from deployctl.model import SPEC_FIELDS, JSONObject, json_safe
from deployctl.model.field_paths import (
    CONFIG_FIELD_PATTERN,
    CONFIG_FIELD_RULE,
    CONFIG_KEY_PREFIX,
    RECORD_FIELDS,
)
from deployctl.model.live import LiveRecord, without_per_request
from deployctl.targets.record_paths import MISSING, RecordPath

NAME_KEYS: Final = (
    "name",
    "EndpointName",
    "endpoint_name",
    "deployment_name",
    "modelName",
    "model_name",
)
_MISSING: Final = MISSING
_CONFIG_FIELD: Final = re.compile(CONFIG_FIELD_PATTERN)


class RecordShapeError(ValueError):
    """A plugin returned a record deployctl cannot make sense of."""


@dataclass(frozen=True)
class RecordShape:
    """Where a target's records keep the fields deployctl reads.

    Each field is a tuple of paths tried in order; a path is a key or a dotted path into nested
    dicts (``Tags.model_uri``, see ``record_paths``). ``config_keys`` maps single config keys to
    the path holding each (``("temperature", "temperature")``). ``with_fields`` puts a
    per-target mapping in front of the defaults.
    """

    name: tuple[str, ...] = NAME_KEYS
    model_uri: tuple[str, ...] = ("model_uri", "mlflow_model_uri")
    flavor: tuple[str, ...] = ("flavor",)
    config: tuple[str, ...] = ("config",)
    status: tuple[str, ...] = ("status", "state", "EndpointStatus")
    config_keys: tuple[tuple[str, str], ...] = ()

    def with_fields(self, fields: Mapping[str, str]) -> RecordShape:
        """This shape with ``fields`` (field -> path, e.g. ``{"name": "EndpointName"}``,
        ``{"config.temperature": "temperature"}``) first. Raises ``ValueError`` for a field
        deployctl does not read or a path that is not one (``record_paths.PATH_RULE``)."""
        changes: dict[str, Any] = {}
        keys = dict(self.config_keys)
        for fld, path in fields.items():
            _parse(path)
            if fld.startswith(CONFIG_KEY_PREFIX):
                if not _CONFIG_FIELD.match(fld):
                    raise ValueError(f"'{fld}' names no config key: {CONFIG_FIELD_RULE}")
                keys[fld[len(CONFIG_KEY_PREFIX) :]] = path
                continue
            if fld not in RECORD_FIELDS:
                raise ValueError(
                    f"'{fld}' is not a record field (expected one of {', '.join(RECORD_FIELDS)}, "
                    "or config.KEY for one config key)"
                )
            current: tuple[str, ...] = getattr(self, fld)
            changes[fld] = (path, *(p for p in current if p != path))
        changes["config_keys"] = tuple(sorted(keys.items()))
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

        ``body`` is where the fields are read; ``raw`` (default: ``body``) is what is kept,
        without its per-request keys (``model.live.PER_REQUEST_KEYS``).
        Bodies that are not dicts are kept as ``{"name": name, "value": ...}``.
        """
        if raw is _MISSING:
            raw = body
        if type(body) is not dict and not isinstance(body, Mapping):  # a dict: no ABC check
            return LiveRecord(
                name=name,
                raw={"name": name, "value": json_safe(body)},
                unreported=frozenset(SPEC_FIELDS),
            )
        kept = without_per_request(json_object(raw, name))
        model_uri = self._text(body, self.model_uri)
        flavor = self._text(body, self.flavor)
        config, config_keys = self._config(body, kept if raw is body else None)
        found = {"model_uri": model_uri, "flavor": flavor, "config": config}
        return LiveRecord(
            name=name,
            raw=kept,
            model_uri=model_uri,
            flavor=flavor,
            config=config,
            config_keys=config_keys,
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
        if type(item) is dict or isinstance(item, Mapping):
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

    def _config(
        self, body: Mapping[str, Any], kept: JSONObject | None = None
    ) -> tuple[JSONObject | None, tuple[str, ...] | None]:
        """The config the record reports, and which keys (``None``: the whole config).

        ``kept``: ``body`` made JSON-safe (the record's ``raw``); a config kept at its top level
        is taken from it, made JSON-safe once (the same dict in ``raw`` and ``config``).
        """
        whole: JSONObject | None = None
        for path in self.config:
            value = _lookup(body, path)
            if type(value) is dict or isinstance(value, Mapping):
                same = kept.get(path) if kept is not None and path in body else None
                whole = same if isinstance(same, dict) else json_object(value, None)
                break
        if not self.config_keys:
            return whole, None
        mapped: JSONObject = {}
        for key, path in self.config_keys:
            value = _find(body, path)
            if value is not _MISSING:
                mapped[key] = json_safe(value)
        if whole is not None:
            return {**whole, **mapped}, None
        if not mapped:
            return None, None
        return mapped, tuple(sorted(mapped))

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


@functools.lru_cache(maxsize=1024)
def _parse(path: str) -> RecordPath:
    return RecordPath.parse(path)


def _find(item: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (a key, else a ``RecordPath``), or ``_MISSING`` when there is none."""
    if path in item:
        return item[path]
    return _parse(path).find(item)


def _lookup(item: Mapping[str, Any], path: str) -> Any:
    value = _find(item, path)
    return None if value is _MISSING else value


def json_object(value: Any, name: str | None) -> JSONObject:
    """``value`` made JSON-safe as an object: a dict as it is, anything else as ``{"name": name,
    "value": ...}`` (``name`` left out when None)."""
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


__all__ = [
    "DEFAULT_RECORD_SHAPE",
    "NAME_KEYS",
    "RECORD_FIELDS",
    "RecordShape",
    "RecordShapeError",
    "json_object",
]
