"""Intents: a mutating call deployctl is about to make, recorded durably before it is made.

The executor records an intent before each create, update, delete or replace call and the
call's outcome (a record, or its removal) after it; recording the outcome folds the intent
away. An intent still open when the state is read again means the run ended (a crash, a
``kill -9``, a second Ctrl-C, a state that could not be written) while the call's outcome was
unknown: the next plan asks the target and records what it finds (``executor.intents``).

In the state document an open intent is::

    {"address": "local/churn", "target": "local", "name": "churn", "target_uri": "local:/abs",
     "action": "create", "desired": {"model_uri", "flavor", "config"} or null,
     "before": {"model_uri", "flavor", "config"} or null, "started_at": "<ISO 8601 UTC>",
     "prevent_destroy": false}

``desired`` is what the call sends (``null`` for a delete); ``before`` is the applied spec the
call replaces (the record's, ``null`` for a create of something never recorded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deployctl.errors import StateError
from deployctl.model.values import DeploymentSpec, JSONObject, address_text

INTENT_ACTIONS = ("create", "update", "delete", "replace")
"""What an intent announces: the mutating calls (an import's update is an ``update``)."""


@dataclass(frozen=True)
class Intent:
    """A mutating call announced for ``address`` whose outcome is not recorded yet."""

    target: str
    name: str
    target_uri: str
    action: str
    desired: DeploymentSpec | None
    before: DeploymentSpec | None
    started_at: str
    prevent_destroy: bool = False

    def __post_init__(self) -> None:
        if self.action not in INTENT_ACTIONS:
            raise ValueError(f"unknown intent action {self.action!r}")
        if (self.desired is None) != (self.action == "delete"):
            raise ValueError(
                f"a {self.action} intent {'needs' if self.desired is None else 'has no'}"
                " desired spec"
            )

    @property
    def address(self) -> str:
        return address_text(self.target, self.name)

    def describe(self) -> str:
        """``create of local/churn (started 2025-01-31T12:00:00.000000Z)``."""
        return f"{self.action} of {self.address} (started {self.started_at})"

    def to_json(self) -> JSONObject:
        return {
            "address": self.address,
            "target": self.target,
            "name": self.name,
            "target_uri": self.target_uri,
            "action": self.action,
            "desired": self.desired.to_json() if self.desired is not None else None,
            "before": self.before.to_json() if self.before is not None else None,
            "started_at": self.started_at,
            "prevent_destroy": self.prevent_destroy,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Intent:
        try:
            desired = data.get("desired")
            before = data.get("before")
            intent = cls(
                target=str(data["target"]),
                name=str(data["name"]),
                target_uri=str(data["target_uri"]),
                action=str(data["action"]),
                desired=DeploymentSpec.from_json(desired) if isinstance(desired, dict) else None,
                before=DeploymentSpec.from_json(before) if isinstance(before, dict) else None,
                started_at=str(data["started_at"]),
                prevent_destroy=data.get("prevent_destroy") is True,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(
                f"pending intent {data.get('address', '?')!r} is malformed: {exc}",
                hint="fix it by hand, or remove it and run 'deployctl plan' to see what the "
                "target has",
            ) from exc
        if "address" in data and data["address"] != intent.address:
            raise StateError(
                f"pending intent {data['address']!r} has target '{intent.target}' and name "
                f"'{intent.name}'; its address must be {intent.address}"
            )
        return intent


__all__ = ["INTENT_ACTIONS", "Intent"]
