"""The executor: the only code that calls mutating plugin methods.

It runs a Plan's changes concurrently (at most ``parallelism`` at once), dispatching each to a
``visit_<action>`` method (``executor.visits``), and never loses track of what it did:

- before each create, update, delete or replace call it durably records an **intent** (the
  address, the call, what it sends and what it replaces: ``model.intent``); a change whose
  intent cannot be written is not started. The first intent is thus the check that the state
  can be written, made before the first call;
- after the call it records the result (which closes the intent), durably before the result is
  reported, so a failure or a crash midway loses nothing that succeeded, and a crash *during* a
  call leaves an intent that the next plan resolves by asking the target (``executor.intents``);
  how a failed call is settled is ``executor.visits``'s, how each record is written
  ``executor.recording``'s;
- workers take changes by target in turn (``executor.pending``), so that they work on
  different targets at once;
- quick changes share those writes: a worker takes a few at once (as many as it carries out in
  ``AHEAD_WINDOW``, at most ``MAX_AHEAD``), writes their intents ahead together, and makes their
  results durable together before reporting them (``StateRecorder.intend_ahead``, ``grouped``):
  two journal syncs per batch instead of two per change. A batch's changes are of one target;
  one that can make them durable together (the local target: one directory fsync) does so at
  the batch's end, before their results are written to the state (``_target_syncs``);
- when the state cannot be written (a full disk, a read-only file, a lost lock), no further
  change starts; the running ones finish; the report names the changes made on their targets
  whose results are not recorded (``ApplyReport.unrecorded``) and the console is warned;
- a stop request (``StopRequests``: the CLI's first Ctrl-C or SIGTERM) starts no new change and
  waits for the running ones, whose results are recorded as usual.

A failed change does not stop the others; what its result says is ``executor.failures``'s.
A create or update whose read-back shows fields the target did not take (``executor.readback``)
succeeds with a warning per field in its result, or fails with ``strict`` (``apply --strict``);
either way the state records what the target reports. Each action's start and finish, and each
state write, are logged at DEBUG.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from deployctl.executor.console import Console
from deployctl.executor.failures import ActionFailed, error_message, explicitly_gone
from deployctl.executor.pending import PendingChanges
from deployctl.executor.readback import refusal, warning
from deployctl.executor.recording import StateRecorder
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.executor.stopping import StopRequests
from deployctl.executor.visits import AdapterFactory, ChangeVisits
from deployctl.model.secrets import NO_SECRETS, SecretValues
from deployctl.planner.plan import Action, Plan, ResourceChange

if TYPE_CHECKING:
    from deployctl.state.protocol import StateSession
    from deployctl.targets.adapter import TargetAdapter

logger = logging.getLogger(__name__)

NOT_TAKEN_NOTE = "the state records what the target reports: the next plan plans the change again"


class Executor:
    """Applies one Plan through target adapters into a locked state session.

    ``debug`` keeps the traceback of an unexpected failure in the action's result; ``stop``
    receives stop requests (see ``StopRequests``; the executor makes its own without one);
    ``secrets`` give the real values behind a plan's markers (``model.secrets``); ``strict``
    fails a change whose target did not take a field it was sent (else it is a warning);
    ``skip_smoke_tests`` skips the smoke tests of the plan's changes (``--skip-smoke-tests``,
    said in each such result).
    """

    def __init__(
        self,
        adapters: AdapterFactory,
        session: StateSession,
        console: Console,
        *,
        parallelism: int = 4,
        debug: bool = False,
        stop: StopRequests | None = None,
        secrets: SecretValues = NO_SECRETS,
        strict: bool = False,
        skip_smoke_tests: bool = False,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self._debug = debug
        self._strict = strict
        self._recorder = StateRecorder(session)
        self._visits = ChangeVisits(
            adapters, self._recorder, secrets, skip_smoke_tests=skip_smoke_tests
        )
        self._console = console
        self._parallelism = parallelism
        self._stop = stop or StopRequests()

    def adapter(self, change: ResourceChange) -> TargetAdapter:
        """The adapter of ``change``'s target, made on first use."""
        return self._visits.adapter(change)

    # -- running -----------------------------------------------------------------------------

    def execute(self, plan: Plan) -> ApplyReport:
        """Run every actionable change; returns the report (interrupted after a stop request).

        The whole run, to the report on the console, is ``uninterruptible``: a signal handler
        that honours it only asks it to stop.
        """
        with self._stop.uninterruptible():
            return self._execute(plan)

    def _execute(self, plan: Plan) -> ApplyReport:
        started = time.monotonic()
        changes = list(plan.actionable())
        self._recorder.begin()
        self._console.apply_started(plan)
        logger.debug("applying %d change(s), %d at a time", len(changes), self._parallelism)
        results, not_started = self._run_all(changes)
        report = ApplyReport(
            results=tuple(sorted(results, key=lambda r: r.address)),
            elapsed=time.monotonic() - started,
            interrupted=self._stop.requested,
            not_started=tuple(sorted(not_started)),
            unrecorded=self._recorder.unrecorded,
            timed_out=self._visits.timed_out,
        )
        logger.debug(
            "apply finished in %.3fs: %d ok, %d failed%s",
            report.elapsed,
            len(report.results) - len(report.failed),
            len(report.failed),
            ", interrupted" if report.interrupted else "",
        )
        self._warn_about(report)
        self._console.apply_finished(report)
        return report

    def _halted(self) -> bool:
        """No new change may start: a stop was requested, or the state cannot be written."""
        return self._stop.requested or self._recorder.failure is not None

    def _run_all(self, changes: list[ResourceChange]) -> tuple[list[ActionResult], list[str]]:
        """Run the changes on at most ``parallelism`` worker threads, each taking the next
        changes until none is left or the apply halts; wait for every started one. Returns the
        results and the addresses never started.

        Workers take their next changes themselves, by target in turn (no thread hands out
        work or wakes up per change), and this thread sleeps until they have all finished.
        """
        workers = min(self._parallelism, len(changes))
        pending = PendingChanges(changes, rotate=workers > 1)
        results: list[ActionResult] = []
        pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="apply")
        started = [pool.submit(self._work, pending, results) for _ in range(workers)]
        running: set[Future[None]] = set(started)
        try:
            while running:
                try:
                    # A timeout keeps an embedding program's Ctrl-C responsive.
                    _, running = wait(running, timeout=0.5)
                except KeyboardInterrupt:
                    # No signal handler turned it into a stop request (deployctl embedded in a
                    # program): the first one is one; a second one stops waiting.
                    if self._stop.requested:
                        raise
                    self._stop.request()
        except BaseException:
            pending.clear()  # no longer waited for: the workers start nothing new
            raise
        finally:
            pool.shutdown(wait=not running, cancel_futures=True)
        for future in started:
            future.result()  # a bug in a worker (not in a change: those are results) surfaces
        return results, pending.addresses()

    def _work(self, pending: PendingChanges, results: list[ActionResult]) -> None:
        """One worker thread: carry out the next pending changes until none is left or no new
        change may start (``list`` operations are atomic).

        It takes a few changes of one target at a time when they are quick (``_batch_size``)
        and writes their intents ahead, together (``StateRecorder.intend_ahead``): one durable
        write instead of one per change. A change of the batch that is not started keeps nothing
        open (``StateRecorder.withdraw``) and is not started for the report.
        """
        pace = _Pace()
        while not self._halted():
            batch = pending.take(self._batch_size(pace, len(pending)))
            if not batch:
                return
            if len(batch) > 1:
                self._recorder.intend_ahead(batch)
            done: list[ActionResult] = []
            try:
                # The target's syncs end first: its changes are durable before their results
                # are recorded.
                with self._recorder.grouped() as recorded, self._target_syncs(batch[0]):
                    self._carry_out_all(batch, pending, pace, done)
            except ActionFailed as exc:  # their records could not be made durable
                done = [_unrecorded(r, exc) if r.address in recorded else r for r in done]
            for result in done:  # reported once durable
                self._console.action_finished(result)
            results.extend(done)

    def _carry_out_all(
        self,
        batch: list[ResourceChange],
        pending: PendingChanges,
        pace: _Pace,
        done: list[ActionResult],
    ) -> None:
        """Carry out ``batch`` into ``done``, until the apply halts: the changes left go back
        to ``pending``, not started."""
        for index, change in enumerate(batch):
            if self._halted():
                for rest in batch[index:]:
                    self._recorder.withdraw(rest.address)
                pending.put_back(batch[index:])
                return
            started = time.monotonic()
            with self._stop.action():
                done.append(self._carry_out(change))
            self._recorder.withdraw(change.address)
            pace.took(time.monotonic() - started)

    def _target_syncs(self, change: ResourceChange) -> AbstractContextManager[None]:
        """A block at whose end the target of ``change`` makes this thread's changes durable,
        rather than each call before it returns, when its plugin can
        (``TargetAdapter.deferred_syncs``: the local target syncs a directory once for a
        batch) and the state records nothing of the block's outcomes before the block ends
        (``holds_outcomes``)."""
        if not self._recorder.holds_outcomes:
            return contextlib.nullcontext()
        try:
            adapter = self._visits.adapter(change)
        except Exception:  # the change's visit reports it
            return contextlib.nullcontext()
        return adapter.deferred_syncs()

    def _batch_size(self, pace: _Pace, left: int) -> int:
        """How many changes a worker takes at once: as many as it carries out in
        ``AHEAD_WINDOW`` (so an intent written ahead waits that long at most for its call),
        at most ``MAX_AHEAD``, and few enough that the workers share the last ones."""
        return max(1, min(MAX_AHEAD, pace.within(AHEAD_WINDOW), left // (4 * self._parallelism)))

    def _carry_out(self, change: ResourceChange) -> ActionResult:
        self._console.action_started(change)
        logger.debug("%s: %s started", change.address, change.action.value)
        started = time.monotonic()
        visit = getattr(self._visits, f"visit_{change.action.name.lower()}")
        error: str | None = None
        note: str | None = None
        warnings: tuple[str, ...] = ()
        try:
            done = visit(change)
            note = done.note
            if done.not_taken:
                note = "; ".join(n for n in (note, NOT_TAKEN_NOTE) if n)
                if self._strict:
                    error = refusal(done.not_taken) + " (--strict)"
                else:
                    warnings = tuple(warning(change.address, m) for m in done.not_taken)
        except ActionFailed as exc:
            error, note = error_message(exc, debug=self._debug), exc.note
        except Exception as exc:  # a bug or an unexpected plugin failure: keep the others going
            error = error_message(exc, debug=self._debug)
        result = ActionResult(
            change.address,
            change.action,
            error is None,
            time.monotonic() - started,
            error,
            note,
            warnings,
        )
        logger.debug(
            "%s: %s %s in %.3fs%s",
            result.address,
            result.action.value,
            "done" if result.ok else "failed",
            result.elapsed,
            f": {error.splitlines()[0]}" if error else "",
        )
        return result

    def _warn_about(self, report: ApplyReport) -> None:
        """Say what the report's summary cannot: unrecorded changes, changes never started."""
        failure = self._recorder.failure
        if report.unrecorded:
            self._console.warning(
                f"the state could not be written ({failure}): {len(report.unrecorded)} "
                "deployment(s) changed on their targets but their results are not recorded in "
                f"state: {', '.join(report.unrecorded)}. Their intents are in the state: the "
                "next 'deployctl plan' or 'deployctl apply' asks the targets and records what "
                "they show"
            )
        if report.not_started:
            why = (
                "the state cannot be written"
                if failure is not None and not report.interrupted
                else "the apply was interrupted"
            )
            self._console.warning(
                f"{why}: {len(report.not_started)} change(s) were not started: "
                f"{', '.join(report.not_started)}"
            )


MAX_AHEAD = 16
"""The most changes a worker takes at once (and writes the intents of together)."""
AHEAD_WINDOW = 0.05
"""How long (seconds) the changes a worker takes at once may take it, judged by the last ones."""


class _Pace:
    """How long one worker's recent changes took (a moving average; none yet: unknown)."""

    def __init__(self) -> None:
        self._average: float | None = None

    def took(self, seconds: float) -> None:
        last = self._average
        self._average = seconds if last is None else 0.8 * last + 0.2 * seconds

    def within(self, window: float) -> int:
        """How many changes fit in ``window`` seconds at this pace (1 while unknown)."""
        average = self._average
        if average is None:
            return 1
        return int(window / max(average, 1e-6))


def _unrecorded(result: ActionResult, exc: ActionFailed) -> ActionResult:
    """``result``, failed because its record could not be made durable (``exc``)."""
    if not result.ok:
        return result
    return dataclasses.replace(result, ok=False, error=str(exc), note=exc.note)


__all__ = ["Action", "ActionFailed", "AdapterFactory", "Executor", "explicitly_gone"]
