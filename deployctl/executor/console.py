"""The seam between the core and whoever watches it: the core reports events, never prints.

It lives beside the executor, the main reporter (refresh and the CLI report through it too), so
that the core depends on this protocol and never on the rendering package.

Implementations: ``RichConsole`` (terminal), ``JsonEventConsole`` (JSON lines for CI), and
``NullConsole`` / ``CaptureConsole`` for tests and embedding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from deployctl.executor.results import ActionResult, ApplyReport
    from deployctl.planner.plan import Plan, ResourceChange


class Console(Protocol):
    """Semantic events of plan and apply; every method must be cheap and must not raise."""

    def refresh_started(self, targets: list[str]) -> None:
        """Targets are about to be read (list/get)."""
        ...

    def refresh_finished(self) -> None:
        """The reads ``refresh_started`` announced are over, successfully or not (a console
        that shows progress stops showing it)."""
        ...

    def warning(self, message: str) -> None:
        """Something the user should know that does not stop the operation."""
        ...

    def apply_started(self, plan: Plan) -> None:
        """The executor starts on ``plan``'s actionable changes."""
        ...

    def action_started(self, change: ResourceChange) -> None:
        """One change is about to call its target (called from worker threads)."""
        ...

    def action_finished(self, result: ActionResult) -> None:
        """One change finished, successfully or not (called from worker threads)."""
        ...

    def apply_finished(self, report: ApplyReport) -> None:
        """Every change has finished; ``report`` has the results."""
        ...


class NullConsole:
    """A console that ignores everything."""

    def refresh_started(self, targets: list[str]) -> None:
        pass

    def refresh_finished(self) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def apply_started(self, plan: Plan) -> None:
        pass

    def action_started(self, change: ResourceChange) -> None:
        pass

    def action_finished(self, result: ActionResult) -> None:
        pass

    def apply_finished(self, report: ApplyReport) -> None:
        pass


class CaptureConsole(NullConsole):
    """Records events, for tests and for programs embedding deployctl."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def refresh_started(self, targets: list[str]) -> None:
        self.events.append(("refresh_started", targets))

    def refresh_finished(self) -> None:
        self.events.append(("refresh_finished", None))

    def warning(self, message: str) -> None:
        self.events.append(("warning", message))

    def apply_started(self, plan: Plan) -> None:
        self.events.append(("apply_started", plan))

    def action_started(self, change: ResourceChange) -> None:
        self.events.append(("action_started", change.address))

    def action_finished(self, result: ActionResult) -> None:
        self.events.append(("action_finished", result))

    def apply_finished(self, report: ApplyReport) -> None:
        self.events.append(("apply_finished", report))
