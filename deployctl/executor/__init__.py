"""Execution: applies a Plan through target clients, recording each intent and result in state.

The executor's modules are imported on first use (``Executor``, ``StopRequests``...), so that
commands needing only its console protocol or result types (a plan) do not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deployctl.executor.executor import AdapterFactory, Executor
    from deployctl.executor.results import ActionResult, ApplyReport
    from deployctl.executor.stopping import StopRequests

__all__ = ["ActionResult", "AdapterFactory", "ApplyReport", "Executor", "StopRequests"]

_HOMES = {
    "AdapterFactory": "executor",
    "Executor": "executor",
    "ActionResult": "results",
    "ApplyReport": "results",
    "StopRequests": "stopping",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{home}"), name)
