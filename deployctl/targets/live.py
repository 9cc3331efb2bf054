"""What the targets reported during a refresh: existence and records per address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deployctl.targets.protocol import LiveRecord


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
        return f"{self.target}/{self.name}"


@dataclass(frozen=True)
class LiveView:
    """The result of one refresh: a status per address asked about or listed."""

    statuses: Mapping[str, LiveStatus] = field(default_factory=dict)

    def get(self, address: str) -> LiveStatus | None:
        return self.statuses.get(address)

    def existing(self) -> list[LiveStatus]:
        return [s for _, s in sorted(self.statuses.items()) if s.exists]
