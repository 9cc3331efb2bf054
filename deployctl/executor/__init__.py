"""Execution: applies a Plan through target clients, recording each result in state."""

from __future__ import annotations

from deployctl.executor.executor import AdapterFactory, Executor
from deployctl.executor.results import ActionResult, ApplyReport

__all__ = ["ActionResult", "AdapterFactory", "ApplyReport", "Executor"]
