"""The executor: the only code that calls mutating plugin methods.

It runs a Plan's changes concurrently (at most ``parallelism`` at once), dispatching each to a
``visit_<action>`` method, and never loses track of what it did:

- before each create, update, delete or replace call it durably records an **intent** (the
  address, the call, what it sends and what it replaces: ``model.intent``); a change whose
  intent cannot be written is not started. The first intent is thus the check that the state
  can be written, made before the first call;
- after the call it records the result (which closes the intent) the moment it happens, so a
  failure or a crash midway loses nothing that succeeded, and a crash *during* a call leaves an
  intent that the next plan resolves by asking the target (``executor.intents``);
- a call that fails is followed by a ``get``: what the target shows is recorded by the same rule
  (a create that failed after creating is recorded as managed). A delete that failed removes the
  record only when the plugin says explicitly that the deployment does not exist (an error code,
  not the wording of a message); otherwise the record is kept and the action fails. A call whose
  outcome is unknown (a timeout, a ``get`` that fails too) keeps its intent open;
- when the state cannot be written (a full disk, a read-only file, a lost lock), no further
  change starts; the running ones finish; the report names the changes made on their targets
  whose results are not recorded (``ApplyReport.unrecorded``) and the console is warned;
- a stop request (``StopRequests``: the CLI's first Ctrl-C or SIGTERM) starts no new change and
  waits for the running ones, whose results are recorded as usual.

A failed change does not stop the others. A failure deployctl explains (a ``TargetError``, an
``ActionFailed``) becomes the result's error as it is. Anything else is a bug in deployctl or in
a plugin: the result says ``Type: message`` and how to see more; with ``debug`` (``--debug``) it
keeps the full traceback instead, as it does for a plugin exception behind a ``TargetError``.
Each action's start and finish, and each state write, are logged at DEBUG.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from deployctl.errors import (
    DeployctlError,
    DeploymentNotFoundError,
    TargetError,
    TargetRejectedError,
    TargetTimeoutError,
)
from deployctl.executor import intents
from deployctl.executor.console import Console
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.executor.stopping import StopRequests
from deployctl.model import DeploymentSpec
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord, LiveStatus
from deployctl.model.state import StateRecord, utc_now
from deployctl.planner.plan import Action, Plan, ResourceChange

if TYPE_CHECKING:
    from deployctl.state.protocol import StateSession
    from deployctl.targets.adapter import TargetAdapter

AdapterFactory = Callable[[str, str], "TargetAdapter"]
"""``(target key, target URI) -> TargetAdapter``; called once per target, lazily."""

logger = logging.getLogger(__name__)

RERUN_WITH_DEBUG = "a bug in deployctl or the target's plugin; rerun with --debug for the traceback"
OUTCOME_UNKNOWN = (
    "whether it took effect is unknown: its intent stays in the state, and the next plan asks "
    "the target and records what it shows"
)
NEXT_PLAN_RECORDS = (
    "its intent is in the state: the next plan asks the target and records what it shows"
)

_Submitted = tuple[ResourceChange, "Future[ActionResult | None]"]


class ActionFailed(Exception):
    """A change failed; carries the message shown in the result table."""

    def __init__(self, message: str, note: str | None = None) -> None:
        super().__init__(message)
        self.note = note


def explicitly_gone(exc: TargetError) -> bool:
    """Whether a failed call says, by more than the wording of a message, that the deployment
    does not exist: ``DeploymentNotFoundError`` (an MLflow not-found code) or a plugin exception
    the targets layer recognises as not-found by its type or code (``explicitly_not_found``)."""
    if isinstance(exc, DeploymentNotFoundError):
        return True
    from deployctl.targets.plugin_errors import explicitly_not_found

    return exc.cause is not None and explicitly_not_found(exc.cause)


class Executor:
    """Applies one Plan through target adapters into a locked state session.

    ``debug`` keeps the traceback of an unexpected failure in the action's result; ``stop``
    receives stop requests (see ``StopRequests``; the executor makes its own without one).
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
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self._debug = debug
        self._adapter_factory = adapters
        self._adapters: dict[tuple[str, str], TargetAdapter] = {}
        self._adapters_lock = threading.Lock()
        self._session = session
        self._console = console
        self._parallelism = parallelism
        self._stop = stop or StopRequests()
        self._before = session.document
        self._mutex = threading.Lock()
        self._state_failure: str | None = None
        self._unrecorded: set[str] = set()
        self._timed_out: set[str] = set()

    def adapter(self, change: ResourceChange) -> TargetAdapter:
        key = (change.target, change.target_uri)
        with self._adapters_lock:
            if key not in self._adapters:
                self._adapters[key] = self._adapter_factory(change.target, change.target_uri)
            return self._adapters[key]

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
        # Each address appears once in a plan, so its previous record is the one in the state
        # as the apply began; reading it from there keeps recording O(1) per action.
        self._before = self._session.document
        self._console.apply_started(plan)
        logger.debug("applying %d change(s), %d at a time", len(changes), self._parallelism)
        results, not_started = self._run_all(changes)
        report = ApplyReport(
            results=tuple(sorted(results, key=lambda r: r.address)),
            elapsed=time.monotonic() - started,
            interrupted=self._stop.requested,
            not_started=tuple(sorted(not_started)),
            unrecorded=tuple(sorted(self._unrecorded)),
            timed_out=tuple(sorted(self._timed_out)),
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
        return self._stop.requested or self._state_failure is not None

    def _run_all(self, changes: list[ResourceChange]) -> tuple[list[ActionResult], list[str]]:
        """Start changes while fewer than ``parallelism`` run and nothing halts the apply; wait
        for every started one. Returns the results and the addresses never started."""
        pending = collections.deque(changes)
        submitted: list[_Submitted] = []
        running: set[Future[ActionResult | None]] = set()
        pool = ThreadPoolExecutor(max_workers=self._parallelism, thread_name_prefix="apply")
        try:
            while True:
                try:
                    self._drive(pool, pending, submitted, running)
                    break
                except KeyboardInterrupt:
                    # No signal handler turned it into a stop request (deployctl embedded in a
                    # program): the first one is one; a second one stops waiting.
                    if self._stop.requested:
                        raise
                    self._stop.request()
        finally:
            pool.shutdown(wait=not running, cancel_futures=True)
        results: list[ActionResult] = []
        not_started = [change.address for change in pending]
        for change, future in submitted:
            if future.cancelled() or not future.done():
                not_started.append(change.address)
                continue
            result = future.result()
            if result is None:
                not_started.append(change.address)
            else:
                results.append(result)
        return results, not_started

    def _drive(
        self,
        pool: ThreadPoolExecutor,
        pending: collections.deque[ResourceChange],
        submitted: list[_Submitted],
        running: set[Future[ActionResult | None]],
    ) -> None:
        while pending or running:
            running.difference_update([f for f in running if f.done()])
            while pending and len(running) < self._parallelism and not self._halted():
                change = pending.popleft()
                future = pool.submit(self._run, change)
                submitted.append((change, future))
                running.add(future)
            if not running:
                return
            # A timeout keeps an embedding program's Ctrl-C responsive; at most ``parallelism``
            # futures are waited on, so each round costs O(parallelism).
            wait(running, timeout=0.5, return_when=FIRST_COMPLETED)

    def _run(self, change: ResourceChange) -> ActionResult | None:
        """Carry out one change (in a worker thread); ``None`` when it must not start any more."""
        if self._halted():
            return None
        with self._stop.action():
            return self._carry_out(change)

    def _carry_out(self, change: ResourceChange) -> ActionResult:
        self._console.action_started(change)
        logger.debug("%s: %s started", change.address, change.action.value)
        started = time.monotonic()
        visit = getattr(self, f"visit_{change.action.name.lower()}")
        error: str | None = None
        note: str | None = None
        try:
            note = visit(change)
        except ActionFailed as exc:
            error, note = self._error(exc), exc.note
        except Exception as exc:  # a bug or an unexpected plugin failure: keep the others going
            error = self._error(exc)
        result = ActionResult(
            change.address, change.action, error is None, time.monotonic() - started, error, note
        )
        logger.debug(
            "%s: %s %s in %.3fs%s",
            result.address,
            result.action.value,
            "done" if result.ok else "failed",
            result.elapsed,
            f": {error.splitlines()[0]}" if error else "",
        )
        self._console.action_finished(result)
        return result

    def _error(self, exc: Exception) -> str:
        """What a failed action's result says about ``exc``.

        ``TargetError`` and ``ActionFailed`` explain themselves; anything else is unexpected:
        ``Type: message``, with a hint to rerun with ``--debug``. With ``debug``, an exception
        that is not deployctl's own explanation (the unexpected one, or the plugin exception
        behind a ``TargetError``) adds its full traceback.
        """
        expected = isinstance(exc, (TargetError, ActionFailed))
        message = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        if not self._debug:
            return message if expected else f"{message} ({RERUN_WITH_DEBUG})"
        detail = _traceback_of(exc)
        return f"{message}\n{detail}" if detail else message

    def _warn_about(self, report: ApplyReport) -> None:
        """Say what the report's summary cannot: unrecorded changes, changes never started."""
        failure = self._state_failure
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

    # -- the state ---------------------------------------------------------------------------

    def _state_failed(self, exc: Exception, address: str | None = None) -> None:
        """Writing the state failed: start nothing more; ``address`` changed but is unrecorded."""
        with self._mutex:
            if self._state_failure is None:  # the reason, without the advice of its hint
                self._state_failure = exc.message if isinstance(exc, DeployctlError) else str(exc)
            if address is not None:
                self._unrecorded.add(address)
        logger.debug("writing the state failed (no further change starts): %s", exc)

    def _intend(
        self,
        change: ResourceChange,
        action: str,
        desired: DeploymentSpec | None,
        before: DeploymentSpec | None = None,
    ) -> Intent:
        """Durably record that a call is about to be made; ``ActionFailed`` (nothing is called)
        when the state cannot be written. ``before`` defaults to the recorded spec."""
        if before is None:
            previous = self._before.get(change.address)
            before = previous.applied if previous is not None else None
        intent = Intent(
            target=change.target,
            name=change.name,
            target_uri=change.target_uri,
            action=action,
            desired=desired,
            before=before,
            started_at=utc_now(),
            prevent_destroy=change.prevent_destroy,
        )
        try:
            self._session.intend(intent)
        except Exception as exc:
            self._state_failed(exc)
            raise ActionFailed(
                f"not started: recording its intent in state failed: {exc}",
                note="nothing was changed on the target; no further change is started",
            ) from exc
        logger.debug("%s: %s intent recorded", change.address, action)
        return intent

    def _record(
        self,
        change: ResourceChange,
        live: LiveRecord | None,
        spec: DeploymentSpec | None = None,
        previous: StateRecord | None = None,
        *,
        changed: bool = True,
    ) -> StateRecord:
        """Record ``spec`` (default: the desired one) as applied to ``change.address``.

        ``previous`` defaults to the address's record as the apply began. ``changed`` says the
        target was changed for it (so a failure to record leaves an unrecorded change).
        """
        previous = previous or self._before.get(change.address)
        applied = spec if spec is not None else change.desired
        if previous is None:
            record = StateRecord(
                target=change.target,
                name=change.name,
                target_uri=change.target_uri,
                applied=applied,
                live=live,
                applied_at=utc_now(),
                prevent_destroy=change.prevent_destroy,
            )
        else:
            record = previous.superseded_by(
                applied, live, utc_now(), change.target_uri, prevent_destroy=change.prevent_destroy
            )
        try:
            self._session.record(record)
        except Exception as exc:
            self._state_failed(exc, change.address if changed else None)
            raise ActionFailed(
                f"applied on the target, but recording it in state failed: {exc}"
                if changed
                else f"recording it in state failed: {exc}",
                note=NEXT_PLAN_RECORDS if changed else None,
            ) from exc
        logger.debug("%s: recorded in state", change.address)
        return record

    def _forget(self, address: str, *, changed: bool = True) -> None:
        try:
            self._session.forget(address)
        except Exception as exc:
            self._state_failed(exc, address if changed else None)
            raise ActionFailed(
                f"deleted, but removing it from state failed: {exc}"
                if changed
                else f"removing it from state failed: {exc}",
                note=NEXT_PLAN_RECORDS if changed else None,
            ) from exc
        logger.debug("%s: removed from state", address)

    def _write(self, change: ResourceChange, resolution: intents.Resolution) -> None:
        """Record what a failed call was found to have done (the intent's resolution)."""
        try:
            resolution.write(self._session)
        except Exception as exc:
            changed = resolution.outcome != intents.CLOSED
            self._state_failed(exc, change.address if changed else None)
            raise ActionFailed(
                f"{resolution.why}, but recording that in state failed: {exc}",
                note=NEXT_PLAN_RECORDS,
            ) from exc
        logger.debug("%s: %s (%s)", change.address, resolution.why, resolution.outcome)

    # -- the target --------------------------------------------------------------------------

    def _read_back(self, change: ResourceChange) -> tuple[LiveRecord | None, str | None]:
        """The live record right after a change; a failed read is a note, not a failure."""
        try:
            return self.adapter(change).get(change.name), None
        except TargetError as exc:
            return None, f"applied, but reading it back failed: {exc}"

    def _probe(self, change: ResourceChange) -> LiveStatus | None:
        """Whether ``change``'s deployment exists now, after a failed call; ``None`` when that
        cannot be told (only an explicit not-found counts as absent)."""
        try:
            record = self.adapter(change).get(change.name)
        except TargetError as exc:
            if explicitly_gone(exc):
                return LiveStatus(change.target, change.name, exists=False, reason=str(exc))
            return None
        return LiveStatus(change.target, change.name, exists=True, record=record)

    def _timed_out_unknown(self, change: ResourceChange, exc: TargetError) -> bool:
        """Whether ``exc`` is a timeout of a call that may still take effect (noted in the
        report: the call may still be running)."""
        if isinstance(exc, TargetTimeoutError) and exc.outcome_unknown:
            with self._mutex:
                self._timed_out.add(change.address)
            return True
        return False

    def _after_failed_call(
        self,
        change: ResourceChange,
        intent: Intent,
        exc: TargetError,
        record: StateRecord | None = None,
    ) -> ActionFailed:
        """Settle ``intent`` after its call failed with ``exc``; returns the failure to raise.

        A call the target refused as invalid changed nothing. Otherwise the target is asked
        (``_probe``) and what it shows is recorded by the rule for a crashed run's intents
        (``intents.resolve``; ``record`` is the address's record, by default as the apply
        began). A call that timed out, or a target that cannot tell, leaves the intent open.
        """
        if self._timed_out_unknown(change, exc):
            return ActionFailed(str(exc), note=OUTCOME_UNKNOWN)
        if isinstance(exc, TargetRejectedError):
            self._write(change, intents.Resolution(intent, intents.CLOSED, None, "refused"))
            return ActionFailed(str(exc))
        status = self._probe(change)
        if status is None:
            return ActionFailed(str(exc), note=OUTCOME_UNKNOWN)
        resolution = intents.resolve(intent, record or self._before.get(change.address), status)
        self._write(change, resolution)
        if resolution.outcome == intents.RECORDED:
            return ActionFailed(
                str(exc),
                note=f"{resolution.why} (the call failed, but the deployment exists); "
                "the next plan reconciles it",
            )
        return ActionFailed(str(exc))

    # -- the actions -------------------------------------------------------------------------

    def visit_create(self, change: ResourceChange) -> str | None:
        adapter = self.adapter(change)
        intent = self._intend(change, "create", change.desired)
        return self._create_on_target(adapter, change, intent)

    def _create_on_target(
        self, adapter: TargetAdapter, change: ResourceChange, intent: Intent
    ) -> str | None:
        try:
            adapter.create(change.name, change.desired)
        except TargetError as exc:
            # Some plugins create and then fail (a timeout while waiting for readiness): what
            # the target shows now is recorded, so the next plan manages it instead of losing it.
            raise self._after_failed_call(change, intent, exc) from exc
        live, note = self._read_back(change)
        self._record(change, live)
        return note

    def visit_update(self, change: ResourceChange) -> str | None:
        if change.state_only:
            # Only the recorded lifecycle changed: nothing to ask of the target.
            previous = self._before.get(change.address)
            self._record(change, previous.live if previous else None, changed=False)
            return "state only: no call to the target"
        adapter = self.adapter(change)
        intent = self._intend(change, "update", change.desired)
        try:
            adapter.update(change.name, change.desired)
        except TargetError as exc:
            raise self._after_failed_call(change, intent, exc) from exc
        live, note = self._read_back(change)
        self._record(change, live)
        return note

    def visit_import(self, change: ResourceChange) -> str | None:
        """Adopt: the live record becomes the last applied one; then converge if it differs."""
        if change.before is None:
            raise ActionFailed("an import needs the adopted record (the plan has no 'before')")
        adopted = change.before
        live, note = self._read_back(change)
        record = self._record(change, live, adopted, changed=False)
        if adopted.same_as(change.desired):
            return note
        adapter = self.adapter(change)
        intent = self._intend(change, "update", change.desired, before=adopted)
        try:
            adapter.update(change.name, change.desired)
        except TargetError as exc:
            raise self._after_failed_call(change, intent, exc, record) from exc
        live, note = self._read_back(change)
        self._record(change, live, previous=record)  # the adopted record becomes ``previous``
        return note

    def visit_replace(self, change: ResourceChange) -> str | None:
        adapter = self.adapter(change)
        intent = self._intend(change, "replace", change.desired)
        note = self._delete_on_target(adapter, change, intent)
        created = self._create_on_target(adapter, change, intent)
        return "; ".join(n for n in (note, created) if n) or None

    def visit_delete(self, change: ResourceChange) -> str | None:
        if change.state_only:
            self._forget(change.address, changed=False)
            return "removed from state only; it was already gone from the target"
        adapter = self.adapter(change)
        intent = self._intend(change, "delete", None)
        note = self._delete_on_target(adapter, change, intent)
        self._forget(change.address)
        return note

    def _delete_on_target(
        self, adapter: TargetAdapter, change: ResourceChange, intent: Intent
    ) -> str | None:
        """Delete on the target; ``None``, or a note when it was already gone.

        Deletes are often not idempotent: if it is gone anyway (deleted behind our back since
        the plan was made), the desired outcome holds, but only an explicit not-found says so.
        A deployment that is still there keeps its record, and the action fails.
        """
        try:
            adapter.delete(change.name)
        except TargetError as exc:
            if self._timed_out_unknown(change, exc):
                raise ActionFailed(str(exc), note=OUTCOME_UNKNOWN) from exc
            status = self._probe(change)
            if status is None:
                raise ActionFailed(
                    str(exc),
                    note="it is kept in state: the target did not say that it is gone. "
                    + OUTCOME_UNKNOWN,
                ) from exc
            if status.exists:
                self._write(
                    change,
                    intents.Resolution(
                        intent, intents.CLOSED, None, "it still exists; kept in state"
                    ),
                )
                raise ActionFailed(
                    str(exc), note="it still exists on the target; kept in state"
                ) from exc
            return "it was already gone from the target"
        return None


def _traceback_of(exc: BaseException) -> str | None:
    """The traceback worth showing for a failed action, if any.

    A ``TargetError`` shows the plugin exception it wraps (its ``cause``: kept even where the
    error is re-raised ``from None``), and so does an ``ActionFailed`` raised from one; one
    deployctl raised itself has none, nor has an ``ActionFailed`` without a cause. Anything else
    is shown whole, with what it chains.
    """
    shown: BaseException | None = exc
    if isinstance(exc, ActionFailed):
        shown = exc.__cause__
    if isinstance(shown, TargetError):
        shown = shown.cause
    if shown is None:
        return None
    return "".join(traceback.format_exception(shown)).rstrip()


__all__ = ["Action", "ActionFailed", "AdapterFactory", "Executor", "explicitly_gone"]
