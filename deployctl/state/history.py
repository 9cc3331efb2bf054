"""State history: every committed version of a state, and a one-line summary of each change.

Backends keep every committed document (PostgreSQL rows, S3 objects under ``history/``, the
local backend the last N files in ``state/<env>.history/``) and describe each with a
``HistoryEntry``. ``deployctl state history`` lists them; ``state pull --serial N`` prints one;
``state rollback --serial N`` commits an old document again as a new serial.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployctl.model import JSONObject, canonical_json
from deployctl.model.state import StateDocument


@dataclass(frozen=True)
class HistoryEntry:
    """One committed version: its serial, when, by whom, with which command, what changed."""

    serial: int
    created: str
    who: str
    host: str
    command: str
    summary: str

    def to_json(self) -> JSONObject:
        return {
            "serial": self.serial,
            "created": self.created,
            "who": self.who,
            "host": self.host,
            "command": self.command,
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: JSONObject) -> HistoryEntry:
        serial = data.get("serial")
        if not isinstance(serial, int) or isinstance(serial, bool):
            raise ValueError("'serial' is not an integer")
        return cls(
            serial=serial,
            created=str(data.get("created", "")),
            who=str(data.get("who", "")),
            host=str(data.get("host", "")),
            command=str(data.get("command", "")),
            summary=str(data.get("summary", "")),
        )


def change_summary(before: StateDocument | None, after: StateDocument) -> str:
    """``+added ~changed -removed`` between two documents (``before`` None: all added)."""
    old = dict(before.records) if before is not None else {}
    new = after.records
    added = sum(1 for a in new if a not in old)
    removed = sum(1 for a in old if a not in new)
    changed = sum(
        1
        for a, record in new.items()
        if a in old and canonical_json(old[a].to_json()) != canonical_json(record.to_json())
    )
    return f"+{added} ~{changed} -{removed}"
