"""What an apply did: one result per action, and the report over all of them."""

from __future__ import annotations

from dataclasses import dataclass

from deployctl.model import JSONObject
from deployctl.planner.plan import Action


@dataclass(frozen=True)
class ActionResult:
    """The outcome of one planned change.

    ``warnings`` are what a change that succeeded should not hide, one sentence each naming
    the address: a field its target did not take (``executor.readback``).
    """

    address: str
    action: Action
    ok: bool
    elapsed: float
    error: str | None = None
    note: str | None = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> JSONObject:
        return {
            "address": self.address,
            "action": self.action.value,
            "ok": self.ok,
            "elapsed": round(self.elapsed, 3),
            "error": self.error,
            "note": self.note,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ApplyReport:
    """All results of one apply, sorted by address.

    ``interrupted``: a stop was requested (Ctrl-C, SIGTERM) and the apply started nothing new.
    ``not_started``: the planned changes that were never started (after a stop request, or once
    the state could not be written). ``unrecorded``: the addresses whose change was made on the
    target but whose result could not be recorded in state (their intents are: the next plan
    resolves them). ``timed_out``: the addresses whose create, update or delete call timed out:
    its outcome is unknown (its intent stays open), and the call may still be running.
    """

    results: tuple[ActionResult, ...]
    elapsed: float
    interrupted: bool = False
    not_started: tuple[str, ...] = ()
    unrecorded: tuple[str, ...] = ()
    timed_out: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[ActionResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every result's warnings, in address order."""
        return tuple(w for r in self.results for w in r.warnings)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.not_started

    def counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action if a is not Action.NOOP}
        for result in self.results:
            if result.ok and result.action is not Action.NOOP:
                counts[result.action.value] += 1
        return counts
