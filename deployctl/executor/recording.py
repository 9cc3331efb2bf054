"""Recording an apply in state: intents before calls, results after them, and the first failure.

Before each create, update, delete or replace call the executor durably records an **intent**
(``intend``); a change whose intent cannot be written is not started. After the call it records
the result the moment it happens (``record``, ``forget``, or an intent's resolution: ``write``).
When the state cannot be written, the recorder remembers why (``failure``: no further change may
start) and which addresses changed on their targets without their results being recorded
(``unrecorded``). Every failure to write becomes an ``ActionFailed`` saying what it left behind.

The intents of the next few changes a worker will carry out can be written **ahead**, together,
with one durable write (``intend_ahead``, where the session has ``intend_all``); each change's
``intend`` then finds its intent already recorded. An intent whose call is never made (the
change failed before its call, or was not started after a stop) is closed (``withdraw``); one
left open by a crash costs the next run a look at the target, which shows nothing was done
(``intents.resolve``: a create not on the target, an update or delete whose record is kept).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from deployctl.errors import DeployctlError
from deployctl.executor import intents
from deployctl.executor.failures import NEXT_PLAN_RECORDS, ActionFailed
from deployctl.model import DeploymentSpec
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord
from deployctl.model.pins import ModelPin
from deployctl.model.state import StateDocument, StateRecord, utc_now
from deployctl.planner.plan import Action, ResourceChange

if TYPE_CHECKING:
    from deployctl.state.protocol import StateSession

# One log for the whole apply: what is recorded is logged where the actions are.
logger = logging.getLogger("deployctl.executor.executor")


class StateRecorder:
    """Writes one apply's intents and results through a locked state session; thread-safe."""

    def __init__(self, session: StateSession) -> None:
        self._session = session
        self._before: StateDocument = session.document
        self._mutex = threading.Lock()
        self._failure: str | None = None
        self._unrecorded: set[str] = set()
        self._ahead: dict[str, Intent] = {}  # intents written ahead, not yet taken by ``intend``
        intend_all: Callable[[Sequence[Intent]], None] | None = getattr(session, "intend_all", None)
        self._intend_all = intend_all
        self._grouping = threading.local()  # per thread inside ``grouped``: what it recorded

    def begin(self) -> None:
        """Take the state as the apply begins: each address appears once in a plan, so its
        previous record is the one in this document; reading it from there keeps recording
        O(1) per action."""
        self._before = self._session.document

    def current(self, address: str) -> StateRecord | None:
        """``address``'s record as recorded now (after what this apply changed)."""
        return self._session.document.get(address)

    def previous(self, address: str) -> StateRecord | None:
        """``address``'s record as the apply began."""
        return self._before.get(address)

    @property
    def failure(self) -> str | None:
        """Why the state could not be written (``None`` while it can)."""
        return self._failure

    @property
    def unrecorded(self) -> tuple[str, ...]:
        """The addresses changed on their targets whose results are not recorded, sorted."""
        with self._mutex:
            return tuple(sorted(self._unrecorded))

    def failed(self, exc: Exception, address: str | None = None) -> None:
        """Writing the state failed: start nothing more; ``address`` changed but is unrecorded."""
        with self._mutex:
            if self._failure is None:  # the reason, without the advice of its hint
                self._failure = exc.message if isinstance(exc, DeployctlError) else str(exc)
            if address is not None:
                self._unrecorded.add(address)
        logger.debug("writing the state failed (no further change starts): %s", exc)

    def intend(
        self,
        change: ResourceChange,
        action: str,
        desired: DeploymentSpec | None,
        before: DeploymentSpec | None = None,
    ) -> Intent:
        """Durably record that a call is about to be made; ``ActionFailed`` (nothing is called)
        when the state cannot be written. ``before`` defaults to the recorded spec."""
        if self._ahead:
            with self._mutex:
                ahead = self._ahead.pop(change.address, None)
            if (
                ahead is not None
                and before is None
                and ahead.action == action
                and ahead.desired == desired
            ):
                return ahead
        intent = self._intent(change, action, desired, before)
        try:
            self._session.intend(intent)
        except Exception as exc:
            self.failed(exc)
            raise ActionFailed(
                f"not started: recording its intent in state failed: {exc}",
                note="nothing was changed on the target; no further change is started",
            ) from exc
        logger.debug("%s: %s intent recorded", change.address, action)
        return intent

    def _intent(
        self,
        change: ResourceChange,
        action: str,
        desired: DeploymentSpec | None,
        before: DeploymentSpec | None = None,
    ) -> Intent:
        if before is None:
            previous = self.previous(change.address)
            before = previous.applied if previous is not None else None
        return Intent(
            target=change.target,
            name=change.name,
            target_uri=change.target_uri,
            action=action,
            desired=desired,
            before=before,
            started_at=utc_now(),
            prevent_destroy=change.prevent_destroy,
        )

    def intend_ahead(self, changes: Sequence[ResourceChange]) -> None:
        """Durably record, together, the intents of those of ``changes`` whose call is known
        before they start (creates, updates, replaces, deletes that call their target), for
        their ``intend`` to take. Only an optimisation: when the session cannot write several
        at once, or the write fails, nothing is ahead and each ``intend`` writes its own (and
        fails as it does)."""
        if self._intend_all is None or len(changes) < 2:
            return
        batch = [i for c in changes if (i := self._planned_intent(c)) is not None]
        if len(batch) < 2:
            return
        try:
            self._intend_all(batch)
        except Exception as exc:  # each change's own intend says it (and halts the apply)
            logger.debug("writing %d intents ahead failed: %s", len(batch), exc)
            return
        with self._mutex:
            self._ahead.update((i.address, i) for i in batch)

    def _planned_intent(self, change: ResourceChange) -> Intent | None:
        """The intent ``change``'s visit records before its first call, when that is known
        before it starts (an import's depends on what it adopts)."""
        action = change.action
        if action in (Action.CREATE, Action.REPLACE) or (
            action is Action.UPDATE and not change.state_only
        ):
            return self._intent(change, action.value, change.desired)
        if action is Action.DELETE and not change.state_only:
            return self._intent(change, "delete", None)
        return None

    def withdraw(self, address: str) -> None:
        """Close ``address``'s intent written ahead if its change never took it (it failed
        before its call, or was not started): nothing was called. Left open when the state
        cannot be written (the next run finds nothing done on the target)."""
        if not self._ahead:
            return
        with self._mutex:
            ahead = self._ahead.pop(address, None)
        if ahead is None or self._failure is not None:
            return
        try:
            self._session.resolve(address)
        except Exception as exc:
            self.failed(exc)

    @property
    def holds_outcomes(self) -> bool:
        """Whether ``grouped`` writes nothing of its outcomes before the block ends (the
        session holds them until then: ``LocalStateSession.grouped``), so that what the block
        waits for at its end happens before any of them is recorded."""
        return getattr(self._session, "holds_grouped_outcomes", False) is True

    @contextlib.contextmanager
    def grouped(self) -> Iterator[set[str]]:
        """A block whose outcomes (this thread's) are made durable together at its end, where
        the session can (``JournaledSession.grouped``); yields the addresses whose changes
        were recorded in it. Their results must not be reported before the block ends: when
        making them durable fails, it raises ``ActionFailed`` saying so, and they are
        unrecorded (``failed``)."""
        grouped: Callable[[], AbstractContextManager[None]] | None = getattr(
            self._session, "grouped", None
        )
        written: set[str] = set()
        if grouped is None:
            yield written
            return
        self._grouping.written = written
        try:
            with grouped():
                yield written
        except Exception as exc:
            for address in written:
                self.failed(exc, address)
            raise ActionFailed(
                f"applied on the target, but recording it in state failed: {exc}",
                note=NEXT_PLAN_RECORDS,
            ) from exc
        finally:
            self._grouping.written = None

    def _recorded(self, address: str) -> None:
        """``address``'s change was recorded (inside ``grouped``: durable at its end)."""
        written: set[str] | None = getattr(self._grouping, "written", None)
        if written is not None:
            written.add(address)

    def record(
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
        previous = previous or self.previous(change.address)
        applied = spec if spec is not None else change.desired
        record = StateRecord.applied_now(
            previous,
            target=change.target,
            name=change.name,
            target_uri=change.target_uri,
            applied=applied,
            live=live,
            prevent_destroy=change.prevent_destroy,
            model_pin=_pin_of(applied, change, previous),
        )
        return self._write(record, change, changed=changed)

    def restore(
        self,
        change: ResourceChange,
        restored: StateRecord,
        live: LiveRecord | None,
        previous: StateRecord | None,
    ) -> StateRecord:
        """Record ``restored``'s spec (with its registry pin and protection) as applied again:
        a rollback put it back on the target, superseding ``previous``."""
        record = StateRecord.applied_now(
            previous,
            target=change.target,
            name=change.name,
            target_uri=change.target_uri,
            applied=restored.applied,
            live=live,
            prevent_destroy=restored.prevent_destroy,
            model_pin=restored.model_pin,
        )
        return self._write(record, change, changed=True)

    def _write(self, record: StateRecord, change: ResourceChange, *, changed: bool) -> StateRecord:
        try:
            self._session.record(record)
        except Exception as exc:
            self.failed(exc, change.address if changed else None)
            raise ActionFailed(
                f"applied on the target, but recording it in state failed: {exc}"
                if changed
                else f"recording it in state failed: {exc}",
                note=NEXT_PLAN_RECORDS if changed else None,
            ) from exc
        if changed:
            self._recorded(change.address)
        logger.debug("%s: recorded in state", change.address)
        return record

    def forget(self, address: str, *, changed: bool = True) -> None:
        """Remove ``address`` from state (its deployment was deleted, if ``changed``)."""
        try:
            self._session.forget(address)
        except Exception as exc:
            self.failed(exc, address if changed else None)
            raise ActionFailed(
                f"deleted, but removing it from state failed: {exc}"
                if changed
                else f"removing it from state failed: {exc}",
                note=NEXT_PLAN_RECORDS if changed else None,
            ) from exc
        if changed:
            self._recorded(address)
        logger.debug("%s: removed from state", address)

    def write(self, change: ResourceChange, resolution: intents.Resolution) -> None:
        """Record what a failed call was found to have done (the intent's resolution)."""
        try:
            resolution.write(self._session)
        except Exception as exc:
            changed = resolution.outcome != intents.CLOSED
            self.failed(exc, change.address if changed else None)
            raise ActionFailed(
                f"{resolution.why}, but recording that in state failed: {exc}",
                note=NEXT_PLAN_RECORDS,
            ) from exc
        if resolution.outcome != intents.CLOSED:
            self._recorded(change.address)
        logger.debug("%s: %s (%s)", change.address, resolution.why, resolution.outcome)


def _pin_of(
    applied: DeploymentSpec, change: ResourceChange, previous: StateRecord | None
) -> ModelPin | None:
    """The registry reference ``applied.model_uri`` was pinned from: the plan's, when that URI
    is what was applied (a target that did not take it keeps its own); else the previous
    record's, when the model did not change (a state-only update)."""
    pin = change.model_pin
    if pin is not None and applied.model_uri == pin.pinned_uri:
        return pin
    if previous is not None and previous.applied.model_uri == applied.model_uri:
        return previous.model_pin
    return None


__all__ = ["StateRecorder"]
