"""Smoke tests during apply: score a change's deployment right after it is created or updated.

A change whose deployment declares ``smoke_test:`` (``ResourceChange.smoke``) reads its input
before anything is changed (a file that cannot be read fails the action with nothing sent), and
calls the plugin's ``predict`` once the create or update succeeded and was recorded. What a
failure does is ``ChangeVisits``' concern (``rollback: auto`` restores the previous version or
deletes a new deployment); this module says what to run and how to word the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.errors import DeployctlError
from deployctl.executor.failures import ActionFailed
from deployctl.model.smoke_spec import ROLLBACK_NEVER, SmokeSpec
from deployctl.planner.plan import ResourceChange

if TYPE_CHECKING:
    from deployctl.smoke.expect import SmokeOutcome
    from deployctl.targets.adapter import TargetAdapter

SKIPPED = "smoke test skipped (--skip-smoke-tests)"


@dataclass(frozen=True)
class PreparedSmokeTest:
    """A change's smoke test with its input already read (``frame``, a DataFrame)."""

    spec: SmokeSpec
    frame: Any

    @property
    def rolls_back(self) -> bool:
        return self.spec.rollback != ROLLBACK_NEVER

    def run(self, adapter: TargetAdapter, name: str) -> SmokeOutcome:
        """Score the input against ``name`` through ``adapter`` and check the predictions;
        never raises for the model's failure."""
        from deployctl.smoke.expect import SmokeTest, run_smoke_test

        test = SmokeTest(Path(self.spec.input), rows=self.spec.rows, columns=self.spec.columns)
        return run_smoke_test(lambda frame: adapter.predict(name, frame), test, frame=self.frame)


def prepare(change: ResourceChange, *, skip: bool) -> PreparedSmokeTest | None:
    """``change``'s smoke test with its input read, or ``None`` when it has none (or ``skip``).
    Raises ``ActionFailed`` (nothing has been changed yet) when the input cannot be read."""
    if change.smoke is None or skip:
        return None
    from deployctl.smoke.frames import read_input

    try:
        frame = read_input(Path(change.smoke.input))
    except DeployctlError as exc:
        raise ActionFailed(
            f"smoke test input: {exc}", note="nothing was changed: fix the input file"
        ) from exc
    return PreparedSmokeTest(change.smoke, frame)


def skipped_note(change: ResourceChange, *, skip: bool) -> str | None:
    """The note saying a change's smoke test was skipped on purpose, if it was."""
    return SKIPPED if skip and change.smoke is not None else None


__all__ = ["SKIPPED", "PreparedSmokeTest", "prepare", "skipped_note"]
