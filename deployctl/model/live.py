"""What the targets report: one deployment's live record, and the result of a refresh.

These are values shared by the targets layer (which produces them), the planner (which compares
them with the manifest and the state), the state (which records the last live record) and the
console; they hold no behaviour that needs a plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from deployctl.model.sensitive import is_masked
from deployctl.model.values import SPEC_FIELDS, JSONObject, JSONValue, address_text

PER_REQUEST_KEYS: Final = frozenset(
    {
        # boto3 (MLflow's sagemaker target): RequestId, HTTPHeaders (with the date), retries.
        "ResponseMetadata",
        "RequestId",
        "requestId",
        "request_id",
        "x-request-id",
        "x-amzn-RequestId",
    }
)
"""Top-level keys of a live record that describe the request rather than the deployment (they
change on every call): dropped from live records before they are stored or fingerprinted."""


def without_per_request(raw: JSONObject) -> JSONObject:
    """``raw`` without its ``PER_REQUEST_KEYS`` (the same object when it has none)."""
    if PER_REQUEST_KEYS.isdisjoint(raw):
        return raw
    return {k: v for k, v in raw.items() if k not in PER_REQUEST_KEYS}


@dataclass(frozen=True)
class LiveRecord:
    """One deployment as a target reports it, normalised.

    ``raw`` is a JSON-safe projection of what the plugin returned. ``model_uri``, ``flavor`` and
    ``config`` are ``None`` when the target does not report them (many real plugins do not), in
    which case the planner compares with the last applied record only. Sensitive values are
    markers (``model.sensitive``), ``model_uri`` and ``flavor`` included.

    ``config_keys`` is ``None`` when ``config`` is the whole config as the target reports it;
    a tuple (sorted) when the target reports only those config keys (per-key ``fields:``
    mappings such as ``config.temperature: temperature``): the other keys are compared with the
    last applied record only (``merged_config``).

    ``unreported`` tells "not reported" from "reported as null": the managed fields the plugin's
    record has no entry for at all, as read by a ``RecordShape``. It is not stored (state keeps
    the values only): ``None`` means unknown, and then every ``None`` value counts as unreported.
    """

    name: str
    raw: JSONObject
    model_uri: str | JSONObject | None = None
    flavor: str | JSONObject | None = None
    config: JSONObject | None = None
    status: str | None = None
    unreported: frozenset[str] | None = field(default=None, compare=False)
    config_keys: tuple[str, ...] | None = None

    def merged_config(self, base: JSONObject) -> JSONObject | None:
        """The config this record reports, completed from ``base`` where the target reports only
        some keys (``config_keys``); ``None`` when it reports no config."""
        if self.config is None or self.config_keys is None:
            return self.config
        return {**base, **self.config}

    def reported_over(self, base_config: JSONObject) -> JSONObject:
        """``reported_fields``, with a config the target reports only some keys of completed
        from ``base_config`` (``merged_config``): what the planner compares."""
        reported = self.reported_fields()
        if self.config_keys is not None and "config" in reported:
            reported["config"] = self.merged_config(base_config)
        return reported

    def unreported_fields(self) -> tuple[str, ...]:
        """The managed fields (of ``model_uri``, ``flavor``, ``config``) the target did not report,
        in that order: the planner can compare these with the last applied record only."""
        if self.unreported is not None:
            if not self.unreported:
                return ()  # the usual record: it reports every field
            return tuple(name for name in SPEC_FIELDS if name in self.unreported)
        return tuple(name for name in SPEC_FIELDS if getattr(self, name) is None)

    def reported_fields(self) -> JSONObject:
        """The managed fields this record reports, by name (absent fields are left out)."""
        out: JSONObject = {}
        if self.model_uri is not None:
            out["model_uri"] = self.model_uri
        if self.flavor is not None:
            out["flavor"] = self.flavor
        if self.config is not None:
            out["config"] = self.config
        return out

    def fingerprint_view(self) -> JSONObject:
        """What a saved plan's fingerprint covers: the normalised fields deployctl compares
        (``model_uri``, ``flavor``, ``config``, ``status``) and the raw record without its
        per-request keys (``PER_REQUEST_KEYS``), so two reads of an unchanged deployment agree."""
        view: dict[str, JSONValue] = {
            "model_uri": self.model_uri,
            "flavor": self.flavor,
            "config": self.config,
            "status": self.status,
            "raw": without_per_request(self.raw),
        }
        if self.config_keys is not None:
            view["config_keys"] = list(self.config_keys)
        return view

    def to_json(self) -> JSONObject:
        out: JSONObject = {
            "name": self.name,
            "model_uri": self.model_uri,
            "flavor": self.flavor,
            "config": self.config,
            "status": self.status,
            "raw": self.raw,
        }
        if self.config_keys is not None:
            out["config_keys"] = list(self.config_keys)
        return out

    @classmethod
    def from_json(cls, data: JSONObject) -> LiveRecord:
        config = data.get("config")
        raw = data.get("raw")
        model_uri = data.get("model_uri")
        flavor = data.get("flavor")
        status = data.get("status")
        keys = data.get("config_keys")
        return cls(
            name=str(data["name"]),
            raw=without_per_request(raw) if isinstance(raw, dict) else {},
            model_uri=model_uri if isinstance(model_uri, str) or is_masked(model_uri) else None,
            flavor=flavor if isinstance(flavor, str) or is_masked(flavor) else None,
            config=config if isinstance(config, dict) else None,
            status=status if isinstance(status, str) else None,
            config_keys=(
                tuple(sorted(str(k) for k in keys))
                if isinstance(keys, list) and isinstance(config, dict)
                else None
            ),
        )


@dataclass(frozen=True)
class LiveStatus:
    """Whether one address exists on its target, and how that was decided.

    ``reason`` explains an absence (e.g. "not listed, and get_deployment raised: ...") so the
    plan can say why it will create something that state says was applied.
    """

    target: str
    name: str
    exists: bool
    record: LiveRecord | None = None
    reason: str | None = None

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)


@dataclass(frozen=True)
class LiveView:
    """The result of one refresh: a status per address asked about or listed."""

    statuses: Mapping[str, LiveStatus] = field(default_factory=dict)

    def get(self, address: str) -> LiveStatus | None:
        return self.statuses.get(address)

    def existing(self) -> list[LiveStatus]:
        return [s for _, s in sorted(self.statuses.items()) if s.exists]
