"""A deployment's smoke test as the manifest declares it and the plan carries it.

``smoke_test: {input: FILE, expect: {rows: N, columns: [...]}}`` and ``rollback: auto | never``
(the default is ``auto`` when a smoke test is set). ``input`` is held as an absolute path
(relative to the manifest's folder when written relative), so that a saved plan applied from
another directory reads the same file. Running it is ``deployctl.smoke``'s job; rolling back is
the executor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from deployctl.model.values import JSONObject, JSONValue

ROLLBACK_AUTO: Final = "auto"
ROLLBACK_NEVER: Final = "never"
RollbackMode = Literal["auto", "never"]


@dataclass(frozen=True)
class SmokeSpec:
    """What to score after a create or update (``input``), what the predictions must look like
    (``rows``, ``columns``: ``None`` when not checked) and what a failure does (``rollback``)."""

    input: str
    rows: int | None = None
    columns: tuple[str, ...] | None = None
    rollback: RollbackMode = ROLLBACK_AUTO

    def to_json(self) -> JSONObject:
        expect: JSONObject = {}
        if self.rows is not None:
            expect["rows"] = self.rows
        if self.columns is not None:
            columns: list[JSONValue] = list(self.columns)
            expect["columns"] = columns
        return {"input": self.input, "expect": expect, "rollback": self.rollback}

    @classmethod
    def from_json(cls, data: object) -> SmokeSpec | None:
        """The smoke test in ``data`` (a plan's ``smoke_test``), or ``None`` when there is none."""
        if not isinstance(data, dict) or not isinstance(data.get("input"), str):
            return None
        expect = data.get("expect") if isinstance(data.get("expect"), dict) else {}
        assert isinstance(expect, dict)
        rows = expect.get("rows")
        columns = expect.get("columns")
        rollback: RollbackMode = "never" if data.get("rollback") == ROLLBACK_NEVER else "auto"
        return cls(
            input=data["input"],
            rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
            columns=tuple(str(c) for c in columns) if isinstance(columns, list) else None,
            rollback=rollback,
        )


__all__ = ["ROLLBACK_AUTO", "ROLLBACK_NEVER", "RollbackMode", "SmokeSpec"]
