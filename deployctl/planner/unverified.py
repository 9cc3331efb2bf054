"""What a plan could not check against its targets: the managed fields a target does not report.

The planner compares a field a target leaves out of its records with the last applied record
only, so "No changes" then means "no changes that deployctl can see". A plan says so once per
target: which fields (of ``model_uri``, ``flavor``, ``config``, in that order) were not
reported for the deployments it found on that target, and for how many of them. A target that
reports only some config keys (``LiveRecord.config_keys``) has its config listed too, with the
keys that were compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deployctl.model import SPEC_FIELDS, JSONObject, JSONValue
from deployctl.model.live import LiveRecord, LiveStatus

CONFIG = "config"


@dataclass(frozen=True)
class UnverifiedFields:
    """The fields one target did not report for ``deployments`` of the planned deployments.

    ``fields`` are in ``SPEC_FIELDS`` order. ``config_keys`` is None unless the target reported
    config in part: then ``config`` is in ``fields`` and these are the config keys that every
    one of those deployments reported (they were compared with what is live; the rest of the
    config was not).
    """

    target: str
    fields: tuple[str, ...]
    deployments: int
    config_keys: tuple[str, ...] | None = None

    @property
    def message(self) -> str:
        """``flavor and config not reported by target 'sm': compared with the last apply only``."""
        names = [
            f"{name} (except {', '.join(self.config_keys)})"
            if name == CONFIG and self.config_keys
            else name
            for name in self.fields
        ]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"{listed} not reported by target '{self.target}': compared with the last apply only"

    def to_json(self) -> JSONObject:
        fields: list[JSONValue] = list(self.fields)
        data: JSONObject = {
            "target": self.target,
            "fields": fields,
            "deployments": self.deployments,
            "message": self.message,
        }
        if self.config_keys is not None:  # absent unless config was reported in part
            keys: list[JSONValue] = list(self.config_keys)
            data["config_keys"] = keys
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnverifiedFields:
        keys = data.get("config_keys")
        return cls(
            target=str(data["target"]),
            fields=tuple(str(f) for f in data["fields"]),
            deployments=int(data["deployments"]),
            config_keys=None if keys is None else tuple(str(k) for k in keys),
        )


def _config_keys(record: LiveRecord) -> tuple[str, ...] | None:
    # A field another change adds to LiveRecord: None (or absent) = the whole config reported.
    keys = getattr(record, "config_keys", None)
    return None if keys is None else tuple(str(k) for k in keys)


def unverified_fields(statuses: Iterable[LiveStatus]) -> tuple[UnverifiedFields, ...]:
    """One entry per target, sorted by target key, for the deployments in ``statuses`` that
    exist with a live record; targets that reported every field are left out."""
    fields: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    # Per target, per deployment whose config is unverified: the config keys it reported
    # (empty: none at all).
    config_keys: dict[str, list[tuple[str, ...]]] = {}
    # By target, then name: the address order within a target, without building addresses.
    for status in sorted(statuses, key=lambda s: (s.target, s.name)):
        record = status.record
        if not status.exists or record is None:
            continue
        missing = set(record.unreported_fields())
        # Config reported in part counts as unverified too (not reported at all: it all is).
        keys = () if CONFIG in missing else _config_keys(record)
        if keys is not None:
            missing.add(CONFIG)
            config_keys.setdefault(status.target, []).append(keys)
        if not missing:
            continue
        fields.setdefault(status.target, set()).update(missing)
        counts[status.target] = counts.get(status.target, 0) + 1
    return tuple(
        UnverifiedFields(
            target=target,
            fields=tuple(name for name in SPEC_FIELDS if name in fields[target]),
            deployments=counts[target],
            config_keys=_compared_everywhere(config_keys.get(target, [])),
        )
        for target in sorted(fields)
    )


def _compared_everywhere(reported: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The config keys every one of ``reported`` has, in the first one's order (None: none)."""
    if not reported:
        return None
    first, *rest = reported
    common = tuple(key for key in first if all(key in keys for keys in rest))
    return common or None
