"""The terminal's view of a large apply: counts and progress instead of a line per change.

An apply of more than ``LIST_LIMIT`` changes would print each planned change, a started and a
finished line per change and a results table with a row per change: 40,000 lines for 10,000
creates, which nobody reads and which cost more than the apply itself. Above the limit the
terminal shows instead:

- the plan as a count per action (``+ create  5000``) and how to list the changes;
- a progress line at every tenth of the changes finished (``500 of 5000 changes done (10%)``);
- every failure and every warning as it happens, exactly as a small apply shows them;
- at the end, each failure as a full ``Error:`` block (address, action, the error naming the
  target and the call, the note: never cut into a table cell), each warning and note of the
  changes that succeeded on a line, then the summary. ``apply --table`` shows the results table
  of every change instead, as a small apply does.

Only the terminal summarises: ``apply --json`` reports every change (``console.json_events``),
and ``deployctl plan`` / ``deployctl show`` list every change whatever their number.
"""

from __future__ import annotations

import threading
import time

from rich.text import Text

from deployctl.console import render
from deployctl.errors import printable
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.planner.plan import Action, Plan

LIST_LIMIT = 50
"""An apply of more changes than this shows counts and progress, not a line per change."""

PROGRESS_STEPS = 10
"""Progress lines per large apply: one each time another tenth of its changes has finished."""

# The order actions are counted in, as in the plan's summary line.
_ORDER = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.IMPORT, Action.DELETE)


def is_large(count: int) -> bool:
    """Whether an apply of ``count`` changes is shown summarised."""
    return count > LIST_LIMIT


def plan_lines(plan: Plan) -> list[Text]:
    """A large plan as the terminal shows it before applying it: a count per action."""
    lines: list[Text] = []
    note = render.partial_text(plan)
    if note:
        lines += [Text(f"Warning: {note}", style="bold yellow"), Text("")]
    lines.append(Text(render.plan_header(plan), style="bold"))
    lines.append(Text(""))
    counts = plan.summary()
    total = sum(counts[action.value] for action in _ORDER)
    width = len(str(total))
    for action in _ORDER:
        if counts[action.value]:
            symbol, style = render.SYMBOLS[action]
            line = Text("  ")
            line.append(f"{symbol} {action.value:<8}", style=f"bold {style}")
            line.append(f"{counts[action.value]:>{width}}")
            lines.append(line)
    lines.append(
        Text(
            f"  ({total} changes, more than {LIST_LIMIT}: not listed one by one; "
            "'deployctl plan' lists them)",
            style="dim",
        )
    )
    lines.append(Text(""))
    if plan.unmanaged:
        lines.append(
            Text(
                f"{render.UNMANAGED}: " + ", ".join(u.address for u in plan.unmanaged),
                style="dim",
            )
        )
    lines.append(render.summary_line(plan))
    lines.extend(Text(text, style="yellow") for text in render.unverified_texts(plan))
    return lines


class Progress:
    """Counts the finished changes of a large apply; thread-safe (results arrive from the
    executor's workers)."""

    def __init__(self, total: int, *, clock: float | None = None) -> None:
        self.total = total
        self._started = time.monotonic() if clock is None else clock
        self._lock = threading.Lock()
        self._done = 0
        self._failed = 0
        self._next_step = 1

    def finished(self, result: ActionResult) -> Text | None:
        """Count ``result``; the progress line to show when it completes another tenth."""
        with self._lock:
            self._done += 1
            self._failed += not result.ok
            if self._done * PROGRESS_STEPS < self._next_step * self.total:
                return None
            while self._done * PROGRESS_STEPS >= self._next_step * self.total:
                self._next_step += 1
            done, failed = self._done, self._failed
        percent = done * 100 // self.total
        elapsed = time.monotonic() - self._started
        text = Text(f"  {done} of {self.total} changes done ({percent}%), ")
        text.append(f"{failed} failed", style="bold red" if failed else "")
        text.append(f", {elapsed:.1f}s", style="dim")
        return text


def closing_lines(report: ApplyReport) -> list[Text]:
    """What a large apply ends with before its summary: each failure as a full ``Error:``
    block (``render.failure_block``), then each warning and each note of the changes that
    succeeded, one line each (``Note: local/gone (delete): removed from state only; ...``)."""
    lines: list[Text] = [Text("")] if report.failed else []
    for result in report.failed:
        lines.extend(render.failure_block(result))
        lines.extend(Text(f"  Warning: {printable(w)}", style="yellow") for w in result.warnings)
        lines.append(Text(""))
    for result in report.results:
        if not result.ok:
            continue
        lines.extend(Text(f"Warning: {printable(w)}", style="yellow") for w in result.warnings)
        if result.note:
            line = Text("Note: ", style="bold")
            line.append(f"{result.address} ({result.action.value}): {printable(result.note)}")
            lines.append(line)
    return lines
