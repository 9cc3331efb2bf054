"""The terminal console: plan and results on stdout, progress and warnings on stderr.

An apply of more than ``summarised.LIST_LIMIT`` changes is shown summarised (counts, progress
lines, failures and warnings in full: ``console.summarised``); a smaller one line by line.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from rich.console import Console as RichTerminal
from rich.text import Text

from deployctl.console import encoding, render, summarised
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
        self._progress: summarised.Progress | None = None  # set while a large apply runs

    # -- events from the core -------------------------------------------------------------
    def refresh_started(self, targets: list[str]) -> None:
        if targets:
            self._err(Text(f"Reading {len(targets)} target(s): {', '.join(targets)}", "dim"))

    def warning(self, message: str) -> None:
        self._err(Text(f"Warning: {message}", "yellow"))

    def apply_started(self, plan: Plan) -> None:
        count = sum(1 for _ in plan.actionable())
        self._progress = summarised.Progress(count) if summarised.is_large(count) else None
        self._err(Text(f"Applying {count} change(s)...", "bold"))

    def action_started(self, change: ResourceChange) -> None:
        if self._progress is not None:
            return
        symbol, style = render.SYMBOLS[change.action]
        self._err(Text(f"  {symbol} {change.address}: {change.action.value} started", style))

    def action_finished(self, result: ActionResult) -> None:
        progress = self._progress
        if progress is None or not result.ok:  # a large apply shows failures only
            if result.ok:
                text = Text(f"  ✓ {result.address}: {result.action.value} done ", "green")
            else:
                text = Text(f"  ✗ {result.address}: {result.action.value} failed ", "red")
            text.append(f"({result.elapsed:.1f}s)", "dim")
            self._err(text)
        for message in result.warnings:
            self.warning(message)
        line = progress.finished(result) if progress is not None else None
        if line is not None:
            self._err(line)

    def apply_finished(self, report: ApplyReport) -> None:
        large, self._progress = self._progress is not None, None
        table = summarised.report_table(report) if large else render.report_table(report)
        with self._lock:
            if report.results and table is not None:
                self.out.print(table)
            self.out.print(render.report_summary(report))

    # -- rendering asked for by the CLI ----------------------------------------------------
    def show_plan(self, plan: Plan, *, applying: bool = False) -> None:
        """The plan, each change on its lines; ``applying`` (the plan an apply is about to
        carry out) shows a plan of more than ``summarised.LIST_LIMIT`` changes as counts."""
        large = applying and summarised.is_large(sum(1 for _ in plan.actionable()))
        lines = summarised.plan_lines(plan) if large else render.plan_lines(plan)
        with self._lock:
            for line in lines:
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
