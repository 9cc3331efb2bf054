"""Execution: applies a Plan through target clients, recording each intent and result in state.

The executor's modules are imported on first use (``Executor``, ``StopRequests``...), so that
commands needing only its console protocol or result types (a plan) do not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.lazy import lazy_exports

if TYPE_CHECKING:
    from deployctl.executor.executor import AdapterFactory, Executor
    from deployctl.executor.results import ActionResult, ApplyReport
    from deployctl.executor.stopping import StopRequests

__all__ = ["ActionResult", "AdapterFactory", "ApplyReport", "Executor", "StopRequests"]

__getattr__ = lazy_exports(
    __name__,
    {
        "AdapterFactory": "executor",
        "Executor": "executor",
        "ActionResult": "results",
        "ApplyReport": "results",
        "StopRequests": "stopping",
    },
)
