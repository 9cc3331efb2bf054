"""Applying: executing a reviewed plan through the targets, recording each result in state.

The caller holds the state lock for the whole apply (``session``) and has made or checked the
plan (``operations.planning``); the executor is the only code that changes a target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.executor.console import Console
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
) -> ApplyReport:
    """Execute a reviewed plan under a held state lock (``debug``, ``stop``: see ``Executor``)."""
    from deployctl.executor.executor import Executor

    executor = Executor(pool.get, session, console, parallelism=parallelism, debug=debug, stop=stop)
    return executor.execute(plan)
