"""Refreshing: asking the targets in play what is live, before planning or applying.

Which targets are in play comes from the manifest and, for addresses only the state still
records (or has an open intent for), from the state; a selection narrows both the targets read
and the addresses asked about.
A saved plan is re-checked against the targets before it is applied: the live records it will
touch must be the ones it was planned from (their fingerprints).
Each read is announced to the console and its end too, failed or not (``refresh_started``,
``refresh_finished``): a terminal shows the reads in flight meanwhile, a log their heartbeats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from deployctl.errors import StalePlanError, TargetError
from deployctl.executor.console import Console
from deployctl.manifest.model import Manifest
from deployctl.model import Address
from deployctl.model.live import LiveView
from deployctl.model.secrets import Secrets
from deployctl.model.state import StateDocument
from deployctl.operations.secrets import redacting
from deployctl.planner.plan import Plan, live_fingerprint
from deployctl.planner.selection import Selection

if TYPE_CHECKING:
    from deployctl.targets.pool import TargetPool


def target_uris(manifest: Manifest | None, state: StateDocument) -> dict[str, str]:
    """The URI of every target key in play: the manifest's, else the one recorded in state (a
    record's, else an open intent's)."""
    uris = {i.target: i.target_uri for _, i in sorted(state.intents.items())}
    uris.update({r.target: r.target_uri for _, r in sorted(state.records.items())})
    if manifest is not None:
        uris.update({t.key: t.resolved_uri for t in manifest.targets})
    return uris


def lookup_target_uri(key: str, manifest: Manifest | None, state: StateDocument) -> str:
    """The URI of target ``key`` (``target_uris``); ``TargetError`` naming the known keys."""
    uris = target_uris(manifest, state)
    if key not in uris:
        known = ", ".join(sorted(uris)) or "none"
        raise TargetError(
            "no such target in the manifest or the state",
            target=key,
            call="lookup",
            hint=f"known targets: {known}",
        )
    return uris[key]


def refresh(
    manifest: Manifest | None,
    state: StateDocument,
    pool: TargetPool,
    console: Console,
    *,
    parallelism: int = 8,
    selection: Selection | None = None,
) -> LiveView:
    """Ask every target in play what is live, for desired, recorded and listed names, and the
    names of open intents (``executor.intents`` resolves those from this view).

    With a ``selection``, only its targets are read and only its addresses are looked up; the
    view then holds only selected addresses.
    """
    selection = selection or Selection()
    uris = {k: u for k, u in target_uris(manifest, state).items() if selection.may_touch_target(k)}
    wanted: dict[str, set[str]] = {key: set() for key in uris}
    named = [(r.target, r.name) for r in state.records.values()]
    named += [(i.target, i.name) for i in state.intents.values()]
    if manifest is not None:
        named += [(d.target, d.name) for d in manifest.deployments()]
    for target, name in named:
        names = wanted.get(target)
        # An address is built only to test it against --target/--exclude.
        if names is not None and (
            not selection.partial or selection.matches(str(Address(target, name)))
        ):
            names.add(name)
    live = _reading(console, sorted(uris), lambda: _refresh_all(pool, uris, wanted, parallelism))
    if not selection.partial:
        return live
    return LiveView({a: s for a, s in live.statuses.items() if selection.matches(a)})


def refresh_intents(
    state: StateDocument, pool: TargetPool, console: Console, *, parallelism: int = 8
) -> LiveView:
    """Ask the targets about the addresses of ``state``'s open intents only (before a saved
    plan is applied, which refreshes nothing else it does not touch)."""
    if not state.intents:
        return LiveView()
    uris = {i.target: i.target_uri for _, i in sorted(state.intents.items())}
    wanted: dict[str, set[str]] = {}
    for intent in state.intents.values():
        wanted.setdefault(intent.target, set()).add(intent.name)
    live = _reading(console, sorted(uris), lambda: _refresh_all(pool, uris, wanted, parallelism))
    return LiveView({a: s for a, s in live.statuses.items() if a in state.intents})


def _refresh_all(
    pool: TargetPool, uris: dict[str, str], wanted: dict[str, set[str]], parallelism: int
) -> LiveView:
    from deployctl.targets.refresh import refresh as refresh_targets

    adapters = {key: pool.get(key, uri) for key, uri in sorted(uris.items())}
    return refresh_targets(adapters, wanted, max_workers=parallelism)


def _reading(console: Console, targets: list[str], read: Callable[[], LiveView]) -> LiveView:
    """``read()`` between ``refresh_started`` and ``refresh_finished`` (also when it fails:
    the console stops showing the reads as in flight)."""
    console.refresh_started(targets)
    try:
        return read()
    finally:
        console.refresh_finished()


def check_live_unchanged(
    plan: Plan,
    pool: TargetPool,
    console: Console,
    *,
    parallelism: int = 8,
    secrets: Secrets | None = None,
) -> None:
    """Re-read the live records a saved plan will touch; refuse it if any changed since.

    Terraform only checks its own state serial; this also catches changes made on the target
    behind deployctl's back between review and release. The records are masked with
    ``secrets`` (the plan's) first, as they were when the plan was made.
    """
    from deployctl.targets.refresh import refresh as refresh_targets

    touched = [c for c in plan.actionable() if c.live_fingerprint is not None]
    if not touched:
        return
    adapters = {c.target: pool.get(c.target, c.target_uri) for c in touched}
    wanted: dict[str, set[str]] = {}
    for change in touched:
        wanted.setdefault(change.target, set()).add(change.name)

    def read() -> LiveView:
        if secrets is None:
            return refresh_targets(adapters, wanted, max_workers=parallelism)
        with redacting(secrets):
            return secrets.mask_view(refresh_targets(adapters, wanted, max_workers=parallelism))

    live = _reading(console, sorted(adapters), read)
    changed = [
        c.address for c in touched if live_fingerprint(live.get(c.address)) != c.live_fingerprint
    ]
    if changed:
        raise StalePlanError(
            "the live deployments changed on their targets since the plan was made: "
            + ", ".join(changed),
            hint="run 'deployctl plan --out' again and review the new plan",
        )
