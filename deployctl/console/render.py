"""Rendering of plans and apply reports: plain sentences shared by every console, and rich
``Text``/``Table`` for the terminal (no printing here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text

from deployctl.errors import printable
from deployctl.model import JSONValue
from deployctl.model.sensitive import SHOWN, is_masked, marker_paths
from deployctl.planner.plan import Action, FieldChange, Plan, ResourceChange
from deployctl.planner.selection import Selection

if TYPE_CHECKING:
    from rich.table import Table

    from deployctl.executor.results import ActionResult, ApplyReport

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.DELETE: ("-", "red"),
    Action.NOOP: (" ", "dim"),
    Action.IMPORT: ("<", "cyan"),
    Action.REPLACE: ("±", "magenta"),
}

NO_CHANGES = "No changes. The targets match the manifest."
UNMANAGED = "Not managed by deployctl (left untouched)"


# -- plain text, shared by the terminal, Markdown and JSON-event consoles ---------------------
def partial_text(plan: Plan) -> str | None:
    """The note a partial plan (``--target``/``--exclude``) carries, or None."""
    if not plan.partial:
        return None
    selection = Selection(plan.targets, plan.excludes).describe()
    return (
        f"Partial plan ({selection}): other deployments were neither read nor planned, "
        "so this is not the whole picture."
    )


def unverified_texts(plan: Plan) -> list[str]:
    """One line per target whose deployments' fields could be compared with the last apply
    only: ``config not reported by target 'sm': compared with the last apply only``."""
    return [printable(u.message) for u in plan.unverified]


def value_text(value: JSONValue) -> str:
    """A field value as compact, canonical JSON (strings quoted, keys sorted), with each
    sensitive value written ``(sensitive)`` (never its marker's hash: it is for machines)."""
    if is_masked(value):
        return SHOWN
    if next(marker_paths(value), None) is None:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, dict):
        keys = sorted(value)
        items = (f"{json.dumps(k, ensure_ascii=False)}: {value_text(value[k])}" for k in keys)
        return "{" + ", ".join(items) + "}"
    assert isinstance(value, list)
    return "[" + ", ".join(value_text(item) for item in value) + "]"


def plan_header(plan: Plan) -> str:
    """``deployctl will perform the following actions in environment prod:`` (a destroy plan:
    ``deployctl will destroy the following deployments of environment prod:``)."""
    environment = printable(plan.environment)
    if plan.destroy:
        return f"deployctl will destroy the following deployments of environment {environment}:"
    return f"deployctl will perform the following actions in environment {environment}:"


def plan_counts_text(plan: Plan) -> str:
    """``1 to create, 1 to update, 0 to delete, 3 unchanged.`` (replaces and imports are
    mentioned only when there are some)."""
    counts = plan.summary()
    extra = "".join(f"{counts[key]} to {key}, " for key in ("replace", "import") if counts.get(key))
    return (
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {extra}{counts['no-op']} unchanged."
    )


def report_summary_text(
    report: ApplyReport, *, environment: str | None = None, destroy: bool = False
) -> str:
    """``Apply complete! 1 created, 0 updated, 0 deleted, 0 failed.`` (or failed/interrupted).

    The terminal names the ``environment``: ``... 0 failed (environment prod).``; a ``destroy``
    counts deletes only: ``Destroy complete! 2 deleted, 0 failed (environment prod).``
    (``apply --json`` writes the sentence without either, as it always has).
    """
    counts = report.counts()
    operation = "Destroy" if destroy else "Apply"
    if report.interrupted:
        head = f"{operation} interrupted"
    else:
        head = f"{operation} complete" if report.ok else f"{operation} failed"
    where = f" (environment {printable(environment)})" if environment else ""
    if destroy:
        return f"{head}! {counts['delete']} deleted, {len(report.failed)} failed{where}."
    extra = "".join(
        f"{counts[key]} {done}, "
        for key, done in (("replace", "replaced"), ("import", "imported"))
        if counts.get(key)
    )
    return (
        f"{head}! {counts['create']} created, {counts['update']} updated, "
        f"{counts['delete']} deleted, {extra}{len(report.failed)} failed{where}."
    )


# -- rich, for the terminal ----------------------------------------------------------------------
def field_line(change: FieldChange) -> Text:
    line = Text("      ")
    line.append(printable(change.path), style="bold")
    line.append(": ")
    if change.kind == "added" and change.before is None:
        line.append(value_text(change.after), style="green")
    elif change.kind == "removed" and change.after is None:
        line.append(value_text(change.before), style="red")
        line.append(" → (removed)", style="dim")
    else:
        line.append(value_text(change.before), style="red")
        line.append(" → ")
        line.append(value_text(change.after), style="green")
    return line


def entry_lines(
    symbol: str, style: str, label: str, address: str, reason: str, diff: Iterable[FieldChange]
) -> list[Text]:
    """``SYMBOL LABEL ADDRESS  (reason)`` and one line per field change (plans and drift)."""
    head = Text("  ")
    head.append(f"{symbol} {label} ", style=f"bold {style}")
    head.append(address, style="bold")
    head.append(f"  ({reason})", style="dim")
    return [head, *(field_line(d) for d in diff)]


def change_lines(change: ResourceChange) -> list[Text]:
    symbol, style = SYMBOLS[change.action]
    lines = entry_lines(
        symbol, style, change.action.value, change.address, change.reason, change.diff
    )
    if change.model_pin is not None:
        # What the manifest names, and the version the plan deploys (pinned at plan time).
        pin = Text("      ")
        pin.append("model", style="bold")
        pin.append(f": {printable(change.model_pin.shown())} ({change.model_pin.reference})")
        lines.insert(1, pin)
    return lines


def summary_line(plan: Plan) -> Text:
    text = Text("Plan: ", style="bold")
    text.append(plan_counts_text(plan))
    return text


def plan_lines(plan: Plan) -> list[Text]:
    lines: list[Text] = []
    note = partial_text(plan)
    if note:
        lines += [Text(f"Warning: {note}", style="bold yellow"), Text("")]
    if plan.has_changes:
        lines.append(Text(plan_header(plan), style="bold"))
        lines.append(Text(""))
        for change in plan.actionable():
            lines.extend(change_lines(change))
        lines.append(Text(""))
    else:
        lines.append(Text(NO_CHANGES, style="bold green"))
    if plan.unmanaged:
        lines.append(
            Text(f"{UNMANAGED}: " + ", ".join(u.address for u in plan.unmanaged), style="dim")
        )
    lines.append(summary_line(plan))
    lines.extend(Text(text, style="yellow") for text in unverified_texts(plan))
    return lines


def report_table(report: ApplyReport) -> Table:
    from rich.table import Table  # here: it imports fractions and decimal, which plans never need

    table = Table(title="Apply results", title_justify="left", show_lines=False)
    table.add_column("address")
    table.add_column("action")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("details", overflow="fold")
    for result in report.results:
        outcome = Text("ok", style="green") if result.ok else Text("FAILED", style="bold red")
        details = "; ".join(x for x in (result.error, *result.warnings, result.note) if x)
        # Text, not markup: an error may hold "[...]" (a list of columns, a model's message).
        table.add_row(
            Text(result.address),
            result.action.value,
            outcome,
            f"{result.elapsed:.2f}",
            Text(printable(details)),
        )
    return table


def report_summary(
    report: ApplyReport, *, environment: str | None = None, destroy: bool = False
) -> Text:
    style = "bold green" if report.ok else "bold red"
    return Text(report_summary_text(report, environment=environment, destroy=destroy), style=style)


def failure_block(result: ActionResult) -> list[Text]:
    """A failed change in full, as the end of a large apply shows it (never cut into a table
    cell): ``Error: ADDRESS: ACTION failed after 1.2s``, then the whole error (which names the
    target and the call) and the note, indented::

        Error: sm/churn: create failed after 3.1s
          target 'sm', create_deployment for sm/churn: ValidationException: ...
          the deployment exists on the target now and was recorded in state
    """
    head = Text("Error: ", style="bold red")
    head.append(f"{result.address}: {result.action.value} failed", style="bold")
    head.append(f" after {result.elapsed:.1f}s", style="dim")
    lines = [head]
    for part in (result.error, result.note):
        if part:
            lines.extend(Text(f"  {printable(line)}") for line in part.splitlines())
    return lines
