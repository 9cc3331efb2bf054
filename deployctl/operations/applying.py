"""Applying: executing a reviewed plan through the targets, recording each result in state.

The caller holds the state lock for the whole apply (``session``) and has made or checked the
plan (``operations.planning``); the executor is the only code that changes a target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.executor.console import Console
from deployctl.model.secrets import NO_SECRETS, Secrets
from deployctl.operations.secrets import RedactingConsole, check_resolvable
from deployctl.planner.plan import Plan

if TYPE_CHECKING:
    from deployctl.executor.results import ApplyReport
    from deployctl.executor.stopping import StopRequests
    from deployctl.state.protocol import StateSession
    from deployctl.targets.pool import TargetPool


def apply(
    plan: Plan,
    session: StateSession,
    pool: TargetPool,
    console: Console,
    *,
    parallelism: int = 4,
    debug: bool = False,
    stop: StopRequests | None = None,
    secrets: Secrets | None = None,
    strict: bool = False,
    skip_smoke_tests: bool = False,
) -> ApplyReport:
    """Execute a reviewed plan under a held state lock (``debug``, ``stop``, ``strict``,
    ``skip_smoke_tests``: see ``Executor``).

    ``secrets`` (``operations.secrets``: the manifest's, or those read again for a saved plan)
    give each plugin call the real values behind the plan's markers, and mask what the targets
    report before it is recorded; a plan with a value they cannot give is refused before
    anything changes, and every secret they know is ``(sensitive)`` in the console's events.
    """
    from deployctl.executor.executor import Executor

    check_resolvable(plan, secrets)
    if secrets is not None:
        secrets = secrets.with_fields({c.address: c.sensitive for c in plan.changes if c.sensitive})
        console = RedactingConsole(console, secrets)
    # Each retried call is a warning (with its attempt and delay) as it happens.
    reporter = console
    previous = pool.on_retry
    pool.on_retry = lambda retry: reporter.warning(retry.describe())
    try:
        executor = Executor(
            pool.get,
            session,
            console,
            parallelism=parallelism,
            debug=debug,
            stop=stop,
            secrets=NO_SECRETS if secrets is None else secrets,
            strict=strict,
            skip_smoke_tests=skip_smoke_tests,
        )
        return executor.execute(plan)
    finally:
        pool.on_retry = previous
