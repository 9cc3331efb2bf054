"""One module per command; each ``run(args)`` returns an exit code."""

from __future__ import annotations

from deployctl.cli.commands import apply, plan, predict, state, targets, validate

__all__ = ["apply", "plan", "predict", "state", "targets", "validate"]
