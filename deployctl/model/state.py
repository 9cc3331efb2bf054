"""The state document: what deployctl last applied, per address, with lineage and serial.

On disk (any backend) it is this JSON document::

    {"format_version": 1, "lineage": "<uuid>", "serial": 7, "environment": "dev",
     "deployments": [ <record>, ... sorted by address ],
     "pending_intents": [ <intent>, ... sorted by address ]}   (only while there are any)

and a record is::

    {"address": "local/churn", "target": "local", "target_uri": "local:/abs/path", "name": "churn",
     "model_uri": "...", "flavor": "python_function", "config": {...},
     "live": <LiveRecord JSON or null>, "applied_at": "<ISO 8601 UTC>",
     "previous": {"model_uri", "flavor", "config", "live", "applied_at"} or null,
     "prevent_destroy": false}

and an intent (a call whose outcome was not recorded when the document was written) is as
``deployctl.model.intent`` describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from deployctl.errors import StateError, printable
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord
from deployctl.model.pins import ModelPin
from deployctl.model.values import (
    NAME_RE,
    DeploymentSpec,
    JSONObject,
    JSONValue,
    address_text,
)

# Format 1 is the only one there has been. A format 2 would come with an upgrade step from 1,
# applied in ``StateDocument.from_json``, and a test of that step in tests/state/test_document.py.
STATE_FORMAT_VERSION = 1


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class StateRecord:
    """The last applied state of one deployment."""

    target: str
    name: str
    target_uri: str
    applied: DeploymentSpec
    live: LiveRecord | None
    applied_at: str
    previous: JSONObject | None = None
    # Recorded so that removing a protected deployment's block from the manifest does not drop
    # its protection: only an applied manifest that turns it off does.
    prevent_destroy: bool = False
    # The registry alias (or latest, or stage) the applied model_uri was pinned from, if any.
    model_pin: ModelPin | None = None

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)

    def summary_json(self) -> JSONObject:
        """The record without history, as stored under ``previous`` of its successor."""
        return {
            **self.applied.to_json(),
            "live": self.live.to_json() if self.live else None,
            "applied_at": self.applied_at,
        }

    def to_json(self) -> JSONObject:
        data: JSONObject = {
            "address": self.address,
            "target": self.target,
            "target_uri": self.target_uri,
            "name": self.name,
            **self.applied.to_json(),
            "live": self.live.to_json() if self.live else None,
            "applied_at": self.applied_at,
            "previous": self.previous,
            "prevent_destroy": self.prevent_destroy,
        }
        if self.model_pin is not None:  # absent without a pin: older readers see no change
            data["model_pin"] = self.model_pin.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StateRecord:
        try:
            live = data.get("live")
            previous = data.get("previous")
            return cls(
                target=str(data["target"]),
                name=str(data["name"]),
                target_uri=str(data["target_uri"]),
                applied=DeploymentSpec.from_json(data),
                live=LiveRecord.from_json(live) if isinstance(live, dict) else None,
                applied_at=str(data["applied_at"]),
                previous=previous if isinstance(previous, dict) else None,
                prevent_destroy=data.get("prevent_destroy") is True,
                model_pin=ModelPin.from_json(data.get("model_pin")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(
                f"state record {data.get('address', '?')!r} is malformed: {exc!r}",
                hint="fix the record by hand, or restore the .backup file next to the state file",
            ) from exc

    @classmethod
    def applied_now(
        cls,
        previous: StateRecord | None,
        *,
        target: str,
        name: str,
        target_uri: str,
        applied: DeploymentSpec,
        live: LiveRecord | None,
        prevent_destroy: bool,
        model_pin: ModelPin | None = None,
    ) -> StateRecord:
        """The record saying ``applied`` was applied just now: a new one, or ``previous``
        superseded (kept as ``previous``). ``model_pin`` is the registry reference the applied
        model_uri was pinned from (``None``: it was deployed as written)."""
        if previous is None:
            return cls(
                target=target,
                name=name,
                target_uri=target_uri,
                applied=applied,
                live=live,
                applied_at=utc_now(),
                prevent_destroy=prevent_destroy,
                model_pin=model_pin,
            )
        return replace(
            previous.superseded_by(
                applied, live, utc_now(), target_uri, prevent_destroy=prevent_destroy
            ),
            model_pin=model_pin,
        )

    def superseded_by(
        self,
        applied: DeploymentSpec,
        live: LiveRecord | None,
        applied_at: str,
        target_uri: str,
        *,
        prevent_destroy: bool | None = None,
    ) -> StateRecord:
        """The record that replaces this one after an update (keeps this one as ``previous``)."""
        return replace(
            self,
            applied=applied,
            live=live,
            applied_at=applied_at,
            target_uri=target_uri,
            previous=self.summary_json(),
            prevent_destroy=self.prevent_destroy if prevent_destroy is None else prevent_destroy,
        )


# JSON integers beyond 2**53 do not survive every JSON reader (PostgreSQL's, JavaScript's).
MAX_SERIAL = 2**53 - 1
_MALFORMED_HINT = "restore the .backup or an earlier version ('deployctl state history')"


def _checked_record(item: Mapping[str, Any], source: str) -> StateRecord:
    """A record whose target key and name are names (never a path such as ``../../x``) and whose
    ``address`` agrees with them."""
    for key in ("target", "name"):
        value = item.get(key)
        if not isinstance(value, str) or not NAME_RE.match(value):
            shown = printable(repr(value))
            raise StateError(
                f"{source} has a record whose {key} {shown} is not a valid name",
                hint=_MALFORMED_HINT,
            )
    record = StateRecord.from_json(item)
    written = item.get("address")
    if written is not None and written != record.address:
        raise StateError(
            f"{source}: record {printable(repr(written))} has target '{record.target}' and name "
            f"'{record.name}'; its address must be {record.address}",
            hint=_MALFORMED_HINT,
        )
    return record


@dataclass(frozen=True)
class StateDocument:
    """A whole state: lineage (set once, at creation), serial (bumped on every write), records,
    and the intents whose outcome is not recorded yet (by address; see ``model.intent``)."""

    lineage: str | None
    serial: int
    environment: str | None
    records: Mapping[str, StateRecord] = field(default_factory=dict)
    intents: Mapping[str, Intent] = field(default_factory=dict)

    @classmethod
    def empty(cls, environment: str | None = None) -> StateDocument:
        return cls(lineage=None, serial=0, environment=environment, records={})

    @property
    def exists(self) -> bool:
        return self.lineage is not None

    def get(self, address: str) -> StateRecord | None:
        return self.records.get(address)

    def with_record(self, record: StateRecord) -> StateDocument:
        """The document with ``record`` as its address's outcome (closing its intent, if any)."""
        records = dict(self.records)
        records[record.address] = record
        intents = {a: i for a, i in self.intents.items() if a != record.address}
        return replace(self, records=records, intents=intents)

    def without(self, address: str) -> StateDocument:
        """The document without ``address`` (its record and its intent, if any)."""
        records = dict(self.records)
        records.pop(address, None)
        intents = {a: i for a, i in self.intents.items() if a != address}
        return replace(self, records=records, intents=intents)

    def to_json(self) -> JSONObject:
        deployments: list[JSONValue] = [
            self.records[address].to_json() for address in sorted(self.records)
        ]
        data: JSONObject = {
            "format_version": STATE_FORMAT_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "environment": self.environment,
            "deployments": deployments,
        }
        if self.intents:  # absent while there are none: the usual document is unchanged
            data["pending_intents"] = [
                self.intents[address].to_json() for address in sorted(self.intents)
            ]
        return data

    @classmethod
    def from_json(cls, data: Any, *, source: str = "state") -> StateDocument:
        if not isinstance(data, dict):
            raise StateError(f"{source} is not a deployctl state document (expected a JSON object)")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise StateError(f"{source} has no integer 'format_version'; it is not a state file")
        if version > STATE_FORMAT_VERSION:
            raise StateError(
                f"{source} has format version {version}, newer than this deployctl supports "
                f"({STATE_FORMAT_VERSION})",
                hint="upgrade deployctl",
            )
        if version < STATE_FORMAT_VERSION:
            raise StateError(f"{source} has unsupported format version {version}")
        lineage = data.get("lineage")
        serial = data.get("serial")
        if not isinstance(lineage, str) or not isinstance(serial, int) or isinstance(serial, bool):
            raise StateError(f"{source} lacks a string 'lineage' or an integer 'serial'")
        if not 0 <= serial <= MAX_SERIAL:
            raise StateError(
                f"{source} has serial {serial}, outside 0 to {MAX_SERIAL}", hint=_MALFORMED_HINT
            )
        deployments = data.get("deployments")
        if not isinstance(deployments, list):
            raise StateError(f"{source} has no 'deployments' list")
        records: dict[str, StateRecord] = {}
        for item in deployments:
            if not isinstance(item, dict):
                raise StateError(f"{source} has a deployment record that is not an object")
            record = _checked_record(item, source)
            if record.address in records:
                raise StateError(
                    f"{source} records {record.address} more than once", hint=_MALFORMED_HINT
                )
            records[record.address] = record
        intents: dict[str, Intent] = {}
        pending = data.get("pending_intents", [])
        if not isinstance(pending, list):
            raise StateError(f"{source} has a 'pending_intents' that is not a list")
        for item in pending:
            if not isinstance(item, dict):
                raise StateError(f"{source} has a pending intent that is not an object")
            intent = Intent.from_json(item)
            intents[intent.address] = intent
        environment = data.get("environment")
        return cls(
            lineage=lineage,
            serial=serial,
            environment=environment if isinstance(environment, str) else None,
            records=records,
            intents=intents,
        )
