"""Resolving intents: what became of a call whose outcome was never recorded.

The executor records an intent before each mutating call (``model.intent``). One still open
when a run starts means the call's outcome is unknown: the run that made it was killed, lost
its state, or stopped waiting. Refresh has just asked the target about the address, and
``resolve`` decides from what it reports, as if the outcome had been recorded then:

========  ========  ==============================================================
intent    live      outcome
========  ========  ==============================================================
create    yes       recorded as managed, as applied with the intent's desired spec
create    no        nothing was created: the intent is closed
update    yes       recorded as applied if the target reports every field the update
replace             changed with its new value; else the record is kept and the plan
                    compares the manifest with it (and re-applies what differs)
update    no        the record is kept (the plan creates it again if still desired)
replace
delete    yes       the record is kept (the plan deletes it again if still undesired)
delete    no        removed from state
========  ========  ==============================================================

An address refresh did not ask about (outside a ``--target`` selection) stays open. ``plan``
shows the resolutions without writing them; under the lock (``apply``, ``destroy``) they are
recorded before planning (``record``), and the executor applies the same rule to a call that
failed, once it has asked the target (``Executor``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from deployctl.executor.readback import changed_fields
from deployctl.model import DeploymentSpec, canonical_json
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord

if TYPE_CHECKING:
    from deployctl.executor.stopping import StopRequests
    from deployctl.state.protocol import StateSession

RECORDED = "recorded"
FORGOTTEN = "forgotten"
CLOSED = "closed"


@dataclass(frozen=True)
class Resolution:
    """What to record for one open intent: a new record, the address's removal, or only the
    intent's closing (``outcome``: ``recorded``, ``forgotten`` or ``closed``)."""

    intent: Intent
    outcome: str
    record: StateRecord | None
    why: str

    @property
    def address(self) -> str:
        return self.intent.address

    def message(self, *, recorded: bool) -> str:
        """One line for the user; ``recorded`` False says that ``plan`` only shows it."""
        intent = self.intent
        head = (
            f"the {intent.action} of {intent.address} started at {intent.started_at} never "
            f"recorded its outcome (its run ended first, or could not tell): {self.why}"
        )
        if recorded or self.outcome == CLOSED:
            return head
        return f"{head} (apply records this; plan changes nothing)"

    def apply_to(self, document: StateDocument) -> StateDocument:
        """``document`` with this resolution applied (in memory)."""
        if self.record is not None:
            return document.with_record(self.record)
        if self.outcome == FORGOTTEN:
            return document.without(self.address)
        intents = {a: i for a, i in document.intents.items() if a != self.address}
        return replace(document, intents=intents)

    def write(self, session: StateSession) -> None:
        """Record this resolution through ``session`` (durably, closing the intent)."""
        if self.record is not None:
            session.record(self.record)
        elif self.outcome == FORGOTTEN:
            session.forget(self.address)
        else:
            session.resolve(self.address)


def shows(desired: DeploymentSpec, before: DeploymentSpec | None, live: LiveRecord | None) -> bool:
    """Whether ``live`` shows ``desired`` took effect: the target reports every field the
    change sets (differs between ``before`` and ``desired``; every field the target reports
    when none does) with its desired value.

    Fields the change leaves alone are not compared: the target may report its own value for
    them (a default flavor where the manifest sets none), which says nothing about whether this
    change happened. A field the change unsets (desired ``None``) cannot be verified the same
    way (the plugin may fall back to a default), so it is not compared either.
    """
    if live is None:
        return False
    # Only some config keys reported: the others cannot tell, so the desired ones stand in.
    reported = live.reported_over(desired.config)
    if not reported:
        return False
    want = desired.to_json()
    changed = changed_fields(desired, before)
    checked = [f for f in (changed or list(reported)) if want[f] is not None]
    if any(f not in reported for f in checked):
        return False
    return all(canonical_json(reported[f]) == canonical_json(want[f]) for f in checked)


def applied_record(
    intent: Intent, previous: StateRecord | None, live: LiveRecord | None
) -> StateRecord:
    """The record saying ``intent.desired`` was applied (superseding ``previous``, if any)."""
    assert intent.desired is not None
    return StateRecord.applied_now(
        previous,
        target=intent.target,
        name=intent.name,
        target_uri=intent.target_uri,
        applied=intent.desired,
        live=live,
        prevent_destroy=intent.prevent_destroy,
    )


def resolve(intent: Intent, record: StateRecord | None, live: LiveStatus) -> Resolution:
    """The outcome of ``intent`` given what the target reports now (the module's table);
    ``record`` is the address's record in state."""
    if intent.action == "delete":
        if live.exists:
            return Resolution(intent, CLOSED, None, "it still exists on the target; kept in state")
        return Resolution(intent, FORGOTTEN, None, "it is gone from the target; removed from state")
    if intent.action == "create" or record is None:
        if live.exists:
            return Resolution(
                intent,
                RECORDED,
                applied_record(intent, record, live.record),
                "it exists on the target; recorded as managed",
            )
        return Resolution(intent, CLOSED, None, "it is not on the target; nothing was created")
    if not live.exists:
        return Resolution(intent, CLOSED, None, "it is not on the target; its record is kept")
    assert intent.desired is not None
    if shows(intent.desired, intent.before or record.applied, live.record):
        return Resolution(
            intent,
            RECORDED,
            applied_record(intent, record, live.record),
            "the target shows the new version; recorded as applied",
        )
    return Resolution(
        intent,
        CLOSED,
        None,
        "the target does not show whether it took effect; the plan compares the manifest "
        "with the version recorded before it",
    )


def resolve_all(state: StateDocument, live: LiveView) -> list[Resolution]:
    """A resolution for every open intent of ``state`` whose address ``live`` has a status for."""
    resolutions = []
    for address in sorted(state.intents):
        status = live.get(address)
        if status is not None:
            resolutions.append(resolve(state.intents[address], state.get(address), status))
    return resolutions


def applied(state: StateDocument, resolutions: Iterable[Resolution]) -> StateDocument:
    """``state`` with ``resolutions`` applied in memory (what ``plan`` plans from)."""
    for resolution in resolutions:
        state = resolution.apply_to(state)
    return state


def record(
    session: StateSession, resolutions: Iterable[Resolution], stop: StopRequests | None = None
) -> None:
    """Write ``resolutions`` through a locked ``session``, uninterruptibly (each is one O(1)
    journal entry, so a signal waits for them)."""
    if stop is None:
        for resolution in resolutions:
            resolution.write(session)
        return
    with stop.uninterruptible():
        for resolution in resolutions:
            resolution.write(session)


__all__ = [
    "CLOSED",
    "FORGOTTEN",
    "RECORDED",
    "Resolution",
    "applied",
    "applied_record",
    "record",
    "resolve",
    "resolve_all",
    "shows",
]
