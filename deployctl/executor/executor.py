"""The executor: the only code that calls mutating plugin methods.

It runs a Plan's changes concurrently (bounded), dispatching each to a ``visit_<action>``
method, and records every success in state the moment it happens, so a failure or a crash
midway loses nothing that succeeded. A failed change does not stop the others.

A failure deployctl explains (a ``TargetError``, an ``ActionFailed``) becomes the result's error
as it is. Anything else is a bug in deployctl or in a plugin: the result says ``Type: message``
and how to see more; with ``debug`` (``--debug``) it keeps the full traceback instead, as it
does for a plugin exception behind a ``TargetError``. Each action's start and finish, and each
state write, are logged at DEBUG.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from deployctl.concurrency import CompletionQueue
from deployctl.errors import TargetError
from deployctl.executor.console import Console
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord
from deployctl.model.state import StateRecord, utc_now
from deployctl.planner.plan import Action, Plan, ResourceChange

if TYPE_CHECKING:
    from deployctl.state.protocol import StateSession
    from deployctl.targets.adapter import TargetAdapter

AdapterFactory = Callable[[str, str], "TargetAdapter"]
"""``(target key, target URI) -> TargetAdapter``; called once per target, lazily."""

logger = logging.getLogger(__name__)

RERUN_WITH_DEBUG = "a bug in deployctl or the target's plugin; rerun with --debug for the traceback"


class ActionFailed(Exception):
    """A change failed; carries the message shown in the result table."""

    def __init__(self, message: str, note: str | None = None) -> None:
        super().__init__(message)
        self.note = note


class Executor:
    """Applies one Plan through target adapters into a locked state session.

    ``debug`` keeps the traceback of an unexpected failure in the action's result.
    """

    def __init__(
        self,
        adapters: AdapterFactory,
        session: StateSession,
        console: Console,
        *,
        parallelism: int = 4,
        debug: bool = False,
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
        self._before = session.document

    def adapter(self, change: ResourceChange) -> TargetAdapter:
        key = (change.target, change.target_uri)
        with self._adapters_lock:
            if key not in self._adapters:
                self._adapters[key] = self._adapter_factory(change.target, change.target_uri)
            return self._adapters[key]

    def execute(self, plan: Plan) -> ApplyReport:
        """Run every actionable change; returns the report (interrupted on Ctrl-C)."""
        started = time.monotonic()
        changes = list(plan.actionable())
        # Each address appears once in a plan, so its previous record is the one in the state
        # as the apply began; reading it from there keeps recording O(1) per action.
        self._before = self._session.document
        self._console.apply_started(plan)
        logger.debug("applying %d change(s), %d at a time", len(changes), self._parallelism)
        interrupted = False
        pool = ThreadPoolExecutor(max_workers=self._parallelism, thread_name_prefix="apply")
        futures: list[Future[ActionResult]] = []
        completions = CompletionQueue()
        try:
            for change in changes:
                future = pool.submit(self._run, change)
                futures.append(future)
                completions.add(future)
            while len(completions):
                completions.next(timeout=0.5)  # a timeout keeps Ctrl-C responsive
        except KeyboardInterrupt:
            # Changes already running cannot be stopped safely; let them finish (each records
            # its own result in state) and drop the ones that have not started.
            interrupted = True
            for future in futures:
                future.cancel()
        finally:
            pool.shutdown(wait=True)
        results = [f.result() for f in futures if f.done() and not f.cancelled()]
        report = ApplyReport(
            results=tuple(sorted(results, key=lambda r: r.address)),
            elapsed=time.monotonic() - started,
            interrupted=interrupted,
        )
        logger.debug(
            "apply finished in %.3fs: %d ok, %d failed%s",
            report.elapsed,
            len(report.results) - len(report.failed),
            len(report.failed),
            ", interrupted" if interrupted else "",
        )
        self._console.apply_finished(report)
        return report

    def _run(self, change: ResourceChange) -> ActionResult:
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

    def _read_back(self, change: ResourceChange) -> tuple[LiveRecord | None, str | None]:
        """The live record right after a change; a failed read is a note, not a failure."""
        try:
            return self.adapter(change).get(change.name), None
        except TargetError as exc:
            return None, f"applied, but reading it back failed: {exc}"

    def _record(
        self,
        change: ResourceChange,
        live: LiveRecord | None,
        spec: DeploymentSpec | None = None,
        previous: StateRecord | None = None,
    ) -> StateRecord:
        """Record ``spec`` (default: the desired one) as applied to ``change.address``.

        ``previous`` defaults to the address's record as the apply began.
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
            raise ActionFailed(
                f"applied on the target, but recording it in state failed: {exc}",
                note="run 'deployctl plan' to see the target as it is now",
            ) from exc
        logger.debug("%s: recorded in state", change.address)
        return record

    def visit_create(self, change: ResourceChange) -> str | None:
        adapter = self.adapter(change)
        try:
            adapter.create(change.name, change.desired)
        except TargetError as exc:
            # Some plugins create and then fail (a timeout while waiting for readiness). If the
            # deployment exists now, record it so the next plan manages it instead of losing it.
            try:
                created = adapter.get(change.name)
            except TargetError:
                raise exc from None
            self._record(change, created)
            raise ActionFailed(
                str(exc),
                note="the deployment exists on the target now and was recorded in state; "
                "the next plan reconciles it",
            ) from exc
        live, note = self._read_back(change)
        self._record(change, live)
        return note

    def visit_update(self, change: ResourceChange) -> str | None:
        if change.state_only:
            # Only the recorded lifecycle changed: nothing to ask of the target.
            previous = self._before.get(change.address)
            self._record(change, previous.live if previous else None)
            return "state only: no call to the target"
        self.adapter(change).update(change.name, change.desired)
        live, note = self._read_back(change)
        self._record(change, live)
        return note

    def visit_import(self, change: ResourceChange) -> str | None:
        """Adopt: the live record becomes the last applied one; then converge if it differs."""
        if change.before is None:
            raise ActionFailed("an import needs the adopted record (the plan has no 'before')")
        adopted = change.before
        live, note = self._read_back(change)
        record = self._record(change, live, adopted)
        if adopted.same_as(change.desired):
            return note
        self.adapter(change).update(change.name, change.desired)
        live, note = self._read_back(change)
        self._record(change, live, previous=record)  # the adopted record becomes ``previous``
        return note

    def visit_replace(self, change: ResourceChange) -> str | None:
        note = self._delete_on_target(change)
        created = self.visit_create(change)
        return "; ".join(n for n in (note, created) if n) or None

    def visit_delete(self, change: ResourceChange) -> str | None:
        if change.state_only:
            self._forget(change.address)
            return "removed from state only; it was already gone from the target"
        note = self._delete_on_target(change)
        self._forget(change.address)
        return note

    def _delete_on_target(self, change: ResourceChange) -> str | None:
        adapter = self.adapter(change)
        try:
            adapter.delete(change.name)
        except TargetError as exc:
            # Deletes are often not idempotent: if it is gone anyway (deleted behind our back
            # since the plan was made), the desired outcome holds.
            try:
                adapter.get(change.name)
            except TargetError as probe:
                if probe.not_found:
                    return "it was already gone from the target"
            raise exc from None
        return None

    def _forget(self, address: str) -> None:
        try:
            self._session.forget(address)
        except Exception as exc:
            raise ActionFailed(f"deleted, but removing it from state failed: {exc}") from exc
        logger.debug("%s: removed from state", address)


def _traceback_of(exc: BaseException) -> str | None:
    """The traceback worth showing for a failed action, if any.

    A ``TargetError`` shows the plugin exception it wraps (its ``cause``: kept even where the
    error is re-raised ``from None``); one deployctl raised itself has none, nor has an
    ``ActionFailed`` without a cause. Anything else is shown whole, with what it chains.
    """
    shown: BaseException | None = exc
    if isinstance(exc, TargetError):
        shown = exc.cause
    elif isinstance(exc, ActionFailed) and exc.__cause__ is None:
        shown = None
    if shown is None:
        return None
    return "".join(traceback.format_exception(shown)).rstrip()


__all__ = ["Action", "ActionFailed", "AdapterFactory", "Executor"]
