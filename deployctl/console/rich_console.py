"""The terminal console: plan and results on stdout, progress and warnings on stderr."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from rich.console import Console as RichTerminal
from rich.text import Text

from deployctl.console import encoding, render
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.planner.plan import Plan, ResourceChange


class RichConsole:
    """Human output. Colour follows the terminal (and NO_COLOR); ``color=False`` forces none.

    ``width`` fixes the width tables are laid out in (default: the terminal's, or ``COLUMNS``);
    plan lines are never wrapped.
    """

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        color: bool | None = None,
        width: int | None = None,
    ) -> None:
        plain = color is False

        def terminal(file: TextIO) -> RichTerminal:
            return RichTerminal(
                file=file,
                highlight=False,
                soft_wrap=True,
                no_color=True if plain else None,
                force_terminal=False if plain else None,
                width=width,
            )

        self.out = terminal(encoding.for_stream(stdout or sys.stdout))
        self.err = terminal(encoding.for_stream(stderr or sys.stderr))
        self._lock = threading.Lock()

    # -- events from the core -------------------------------------------------------------
    def refresh_started(self, targets: list[str]) -> None:
        if targets:
            self._err(Text(f"Reading {len(targets)} target(s): {', '.join(targets)}", "dim"))

    def warning(self, message: str) -> None:
        self._err(Text(f"Warning: {message}", "yellow"))

    def apply_started(self, plan: Plan) -> None:
        count = sum(1 for _ in plan.actionable())
        self._err(Text(f"Applying {count} change(s)...", "bold"))

    def action_started(self, change: ResourceChange) -> None:
        symbol, style = render.SYMBOLS[change.action]
        self._err(Text(f"  {symbol} {change.address}: {change.action.value} started", style))

    def action_finished(self, result: ActionResult) -> None:
        if result.ok:
            text = Text(f"  ✓ {result.address}: {result.action.value} done ", "green")
        else:
            text = Text(f"  ✗ {result.address}: {result.action.value} failed ", "red")
        text.append(f"({result.elapsed:.1f}s)", "dim")
        self._err(text)

    def apply_finished(self, report: ApplyReport) -> None:
        with self._lock:
            if report.results:
                self.out.print(render.report_table(report))
            self.out.print(render.report_summary(report))

    # -- rendering asked for by the CLI ----------------------------------------------------
    def show_plan(self, plan: Plan) -> None:
        with self._lock:
            for line in render.plan_lines(plan):
                self.out.print(line)

    def print(self, text: str | Text, *, err: bool = False) -> None:
        if err:
            self._err(text)
        else:
            with self._lock:
                self.out.print(text)

    def _err(self, text: str | Text) -> None:
        with self._lock:
            self.err.print(text)
