"""Machine-readable apply output (``apply --json``, ``destroy --json``): one JSON object a line.

Every line is a JSON object with ``@level`` (``info``, ``warn`` or ``error``), ``@message`` (a
human sentence) and ``type``; the other fields depend on the type and are always present:

================  ==========================================================================
type              fields
================  ==========================================================================
diagnostic        ``severity`` (info, warning, error), ``message``: progress and warnings (what
                  the terminal console writes to stderr), and the error that ended a command
planned_change    ``address``, ``target``, ``name``, ``action``, ``reason`` (in words),
                  ``action_reason`` (the plan JSON's enum, as Terraform's event carries it),
                  ``state_only``, ``diff`` (``[{path, before, after, kind}]``): one per change
plan_summary      ``environment``, ``destroy``, ``create``, ``update``, ``delete``,
                  ``replace``, ``import``, ``unchanged``, ``unmanaged`` (addresses),
                  ``partial`` (``--target``/``--exclude`` used), ``unverified_fields``
                  (per target, the fields compared with the last apply only, as in the plan
                  JSON): after the planned changes
apply_start       ``address``, ``action``, ``timestamp`` (UTC, ISO 8601)
apply_complete    ``address``, ``action``, ``elapsed_seconds``, ``note``, ``warnings`` (a list:
                  one sentence per field the target did not take; ``@level`` ``warn`` then)
apply_errored     ``address``, ``action``, ``elapsed_seconds``, ``error``, ``note``,
                  ``warnings``
change_summary    ``create``, ``update``, ``delete``, ``replace``, ``import`` (successes),
                  ``failed``, ``elapsed_seconds``, ``interrupted``: the last line of every apply
================  ==========================================================================

Events arrive from the executor's worker threads: each line is written whole under a lock and
flushed at once. Writing never raises (a closed pipe must not turn a successful action into a
failed one): after the first failed write, output stops.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from deployctl.console.render import plan_counts_text, report_summary_text
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.model import JSONValue
from deployctl.planner.plan import Plan, ResourceChange

SEVERITY_LEVELS = {"info": "info", "warning": "warn", "error": "error"}


def utc_timestamp() -> str:
    """``2025-01-31T12:00:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonEventConsole:
    """A ``Console`` that writes JSON lines (to stdout by default) and nothing else."""

    def __init__(
        self, stream: TextIO | None = None, *, clock: Callable[[], str] = utc_timestamp
    ) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._clock = clock
        self._lock = threading.Lock()
        self._broken = False

    # -- events from the core -------------------------------------------------------------
    def refresh_started(self, targets: list[str]) -> None:
        if targets:
            self.diagnostic("info", f"Reading {len(targets)} target(s): {', '.join(targets)}")

    def refresh_finished(self) -> None:
        pass  # nothing to stop: JSON lines have no live display

    def warning(self, message: str) -> None:
        self.diagnostic("warning", message)

    def apply_started(self, plan: Plan) -> None:
        count = sum(1 for _ in plan.actionable())
        self.diagnostic("info", f"Applying {count} change(s)...")

    def action_started(self, change: ResourceChange) -> None:
        action = change.action.value
        self.emit(
            "apply_start",
            f"{change.address}: {action} started",
            address=change.address,
            action=action,
            timestamp=self._clock(),
        )

    def action_finished(self, result: ActionResult) -> None:
        action = result.action.value
        elapsed = round(result.elapsed, 3)
        warnings: list[JSONValue] = list(result.warnings)
        if result.ok:
            self.emit(
                "apply_complete",
                f"{result.address}: {action} complete after {elapsed:.1f}s",
                level="warn" if warnings else "info",
                address=result.address,
                action=action,
                elapsed_seconds=elapsed,
                note=result.note,
                warnings=warnings,
            )
        else:
            self.emit(
                "apply_errored",
                f"{result.address}: {action} failed after {elapsed:.1f}s: {result.error}",
                level="error",
                address=result.address,
                action=action,
                elapsed_seconds=elapsed,
                error=result.error,
                note=result.note,
                warnings=warnings,
            )

    def apply_finished(self, report: ApplyReport) -> None:
        counts = report.counts()
        self.emit(
            "change_summary",
            report_summary_text(report),
            level="info" if report.ok else "error",
            create=counts["create"],
            update=counts["update"],
            delete=counts["delete"],
            replace=counts.get("replace", 0),
            import_=counts.get("import", 0),
            failed=len(report.failed),
            elapsed_seconds=round(report.elapsed, 3),
            interrupted=report.interrupted,
        )

    # -- rendering asked for by the CLI ----------------------------------------------------
    def show_plan(self, plan: Plan, *, applying: bool = False) -> None:
        """One ``planned_change`` per change to be made, then a ``plan_summary``: every change,
        however many (``applying`` summarises only the terminal's view)."""
        for change in plan.actionable():
            action = change.action.value
            diff: list[JSONValue] = [d.to_json() for d in change.diff]
            self.emit(
                "planned_change",
                f"{change.address}: plan to {action}",
                address=change.address,
                target=change.target,
                name=change.name,
                action=action,
                reason=change.reason,
                action_reason=change.action_reason.value,
                state_only=change.state_only,
                diff=diff,
            )
        counts = plan.summary()
        unmanaged: list[JSONValue] = [u.address for u in plan.unmanaged]
        unverified: list[JSONValue] = [u.to_json() for u in plan.unverified]
        what = "Destroy plan" if plan.destroy else "Plan"
        self.emit(
            "plan_summary",
            f"{what}: {plan_counts_text(plan)}",
            environment=plan.environment,
            destroy=plan.destroy,
            create=counts["create"],
            update=counts["update"],
            delete=counts["delete"],
            replace=counts.get("replace", 0),
            import_=counts.get("import", 0),
            unchanged=counts["no-op"],
            unmanaged=unmanaged,
            partial=plan.partial,
            unverified_fields=unverified,
        )

    def diagnostic(self, severity: str, message: str) -> None:
        """``severity`` is ``info``, ``warning`` or ``error``."""
        label = {"warning": "Warning: ", "error": "Error: "}.get(severity, "")
        self.emit(
            "diagnostic",
            f"{label}{message}",
            level=SEVERITY_LEVELS.get(severity, "info"),
            severity=severity,
            message=message,
        )

    def emit(
        self, type_: str, message: str, /, *, level: str = "info", **fields: JSONValue
    ) -> None:
        """Write one event line: ``@level``, ``@message``, ``type``, then ``fields``."""
        event: dict[str, JSONValue] = {"@level": level, "@message": message, "type": type_}
        # ``import_`` (a keyword in Python) is written ``import``.
        event.update({key.rstrip("_"): value for key, value in fields.items()})
        line = json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n"
        with self._lock:
            if self._broken:
                return
            try:
                self._stream.write(line)
                self._stream.flush()
            except (OSError, ValueError):  # closed pipe or closed file
                self._broken = True
