"""The terminal console: plan and results on stdout, progress and warnings on stderr.

Who reads it decides how progress looks (``console.terminal``): a person at a terminal sees the
event lines and, below them, a live display of what is in flight (``console.progress``); a log
(CI, a pipe) gets no colour and no animation, but plain event lines that start with their UTC
time and a heartbeat line per long action. The plan names its environment, and so does the
summary that ends an apply (``Apply complete!``) or a destroy (``Destroy complete!``).

An apply of more than ``summarised.LIST_LIMIT`` changes is shown summarised (counts, progress
lines, failures and warnings in full, each failure as an ``Error:`` block at the end:
``console.summarised``; ``results_table`` shows every result instead); a smaller one line by line.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from rich.console import Console as RichTerminal
from rich.text import Text

from deployctl.console import encoding, progress, render, summarised, terminal
from deployctl.planner.plan import Plan, ResourceChange

if TYPE_CHECKING:
    from deployctl.executor.results import ActionResult, ApplyReport


class _Activity:
    """A refresh or an apply in progress: what is in flight, and how it is being shown."""

    def __init__(self, kind: str, in_flight: progress.InFlight, stop: Callable[[], None]) -> None:
        self.kind = kind
        self.in_flight = in_flight
        self._stop = stop

    def stop(self) -> None:
        self._stop()


class RichConsole:
    """Human output. Colour follows the terminal (and NO_COLOR); ``color=False`` forces none, and
    so does CI.

    ``width`` fixes the width tables are laid out in (default: the terminal's, or ``COLUMNS``);
    plan lines are never wrapped. ``live`` says whether a person watches stderr (default: it is
    a terminal, outside CI): then progress is a live display, else event lines start with
    ``clock()`` (UTC, to the second) and long actions get heartbeat lines. ``environ`` is where
    ``CI``, ``TERM`` and ``DEPLOYCTL_HEARTBEAT_SECONDS`` are read (default: ``os.environ``).
    ``results_table`` (``apply --table``) ends a large apply with the results table of every
    change instead of its failures' ``Error:`` blocks.
    """

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        color: bool | None = None,
        width: int | None = None,
        live: bool | None = None,
        results_table: bool = False,
        clock: Callable[[], str] = terminal.timestamp,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        plain = color is False or terminal.in_ci(environ)

        def console_on(file: TextIO) -> RichTerminal:
            return RichTerminal(
                file=file,
                highlight=False,
                # Text is printed as written: a path or message with "[...]" or ":fire:" in it
                # is no markup and no emoji code.
                markup=False,
                emoji=False,
                soft_wrap=True,
                no_color=True if plain else None,
                force_terminal=False if plain else None,
                width=width,
            )

        raw_err = stderr or sys.stderr
        self.out = console_on(encoding.for_stream(stdout or sys.stdout))
        self.err = console_on(encoding.for_stream(raw_err))
        self.live = terminal.is_interactive(raw_err, environ) if live is None else live
        self.results_table = results_table
        self._clock = clock
        self._heartbeat = progress.heartbeat_interval(environ)
        self._lock = threading.Lock()
        self._activity: _Activity | None = None
        self._progress: summarised.Progress | None = None  # set while a large apply runs
        self._environment: str | None = None  # of the apply under way (for its summary)
        self._destroy = False

    # -- events from the core -------------------------------------------------------------
    def refresh_started(self, targets: list[str]) -> None:
        if not targets:
            return
        names = ", ".join(targets)
        self._event(Text(f"Reading {len(targets)} target(s): {names}", "dim"))
        in_flight = progress.InFlight(f"Reading {len(targets)} target(s): {names}")
        in_flight.start(f"targets {names}", "reading")
        self._begin("refresh", in_flight)

    def refresh_finished(self) -> None:
        if self._activity is not None and self._activity.kind == "refresh":
            self._end()

    def warning(self, message: str) -> None:
        self._err(Text(f"Warning: {message}", "yellow"))

    def apply_started(self, plan: Plan) -> None:
        count = sum(1 for _ in plan.actionable())
        self._environment, self._destroy = plan.environment, plan.destroy
        self._progress = summarised.Progress(count) if summarised.is_large(count) else None
        self._event(Text(f"Applying {count} change(s)...", "bold"))
        operation = "Destroying" if plan.destroy else "Applying"
        title = f"{operation} in environment {plan.environment}"
        self._begin("apply", progress.InFlight(title, count))

    def action_started(self, change: ResourceChange) -> None:
        symbol, style = render.SYMBOLS[change.action]
        activity = self._activity
        if activity is not None:
            verb = progress.VERBS[change.action]
            activity.in_flight.start(change.address, verb, symbol=symbol, style=style)
        if self._progress is not None:
            return
        self._action_line(symbol, style, f"{change.address}: {change.action.value} started")

    def action_finished(self, result: ActionResult) -> None:
        activity = self._activity
        if activity is not None:
            activity.in_flight.finish(result.address, ok=result.ok)
        progress_ = self._progress
        if progress_ is None or not result.ok:  # a large apply shows failures only
            action = result.action.value
            if result.ok:
                symbol, style, text = "✓", "green", f"{result.address}: {action} done"
            else:
                symbol, style, text = "✗", "red", f"{result.address}: {action} failed"
            self._action_line(symbol, style, text, elapsed=result.elapsed)
        for message in result.warnings:
            self.warning(message)
        line = progress_.finished(result) if progress_ is not None else None
        if line is not None:
            self._event(line)

    def apply_finished(self, report: ApplyReport) -> None:
        self._end()
        large, self._progress = self._progress is not None, None
        environment, destroy = self._environment, self._destroy
        lines: list[Text] = []
        table = None
        if large and not self.results_table:
            lines = summarised.closing_lines(report)
        elif report.results:
            table = render.report_table(report)
        with self._lock:
            if table is not None:
                self.out.print(table)
            for line in lines:
                self.out.print(line)
            self.out.print(render.report_summary(report, environment=environment, destroy=destroy))

    # -- rendering asked for by the CLI ----------------------------------------------------
    def show_plan(self, plan: Plan, *, applying: bool = False) -> None:
        """The plan, each change on its lines; ``applying`` (the plan an apply is about to
        carry out) shows a plan of more than ``summarised.LIST_LIMIT`` changes as counts."""
        self._end()
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

    def close(self) -> None:
        """Stop the live display or the heartbeats, if any still run (the command ends)."""
        self._end()

    # -- progress ----------------------------------------------------------------------------
    def _begin(self, kind: str, in_flight: progress.InFlight) -> None:
        """Show ``in_flight`` until ``_end``: live on a terminal, else as heartbeat lines."""
        self._end()
        # With --debug, log records share the terminal: a live display would garble them.
        if self.live and not logging.getLogger("deployctl").isEnabledFor(logging.DEBUG):
            from rich.live import Live

            live = Live(
                progress.LiveStatus(in_flight),
                console=self.err,
                transient=True,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            live.start(refresh=True)
            # Keep the cursor: a process that ends without stopping the display (a second
            # Ctrl-C exits at once, as does kill -9) must not leave the terminal without one.
            self.err.show_cursor(True)
            self._activity = _Activity(kind, in_flight, live.stop)
        else:
            beats = progress.Heartbeats(in_flight, self._heartbeat, self._heartbeat_line)
            beats.start()
            self._activity = _Activity(kind, in_flight, beats.stop)

    def _end(self) -> None:
        activity, self._activity = self._activity, None
        if activity is not None:
            activity.stop()

    def _heartbeat_line(self, text: str) -> None:
        self._event(Text(text, "dim"))

    # -- writing -----------------------------------------------------------------------------
    def _action_line(
        self, symbol: str, style: str, text: str, *, elapsed: float | None = None
    ) -> None:
        """``  ✓ local/churn: create done (0.4s)`` on a terminal; in a log, without the symbol
        and after the time (``_event``)."""
        line = Text(f"  {symbol} {text}" if self.live else text, style)
        if elapsed is not None:
            line.append(f" ({elapsed:.1f}s)", "dim")
        self._event(line)

    def _event(self, text: Text) -> None:
        """An event line on stderr; in a log it starts with the time: ``2026-11-27T12:00:03Z
        local/churn: create started``."""
        if not self.live:
            indent = len(text.plain) - len(text.plain.lstrip(" "))
            stamped = Text(f"{self._clock()} ")
            stamped.append_text(text[indent:])
            text = stamped
        self._err(text)

    def _err(self, text: str | Text) -> None:
        with self._lock:
            self.err.print(text)
