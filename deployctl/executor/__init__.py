"""Execution: applies a Plan through target clients, recording each intent and result in state."""

from __future__ import annotations

from deployctl.executor.executor import AdapterFactory, Executor
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.executor.stopping import StopRequests

__all__ = ["ActionResult", "AdapterFactory", "ApplyReport", "Executor", "StopRequests"]
