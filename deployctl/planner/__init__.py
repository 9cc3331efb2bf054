"""Planning: the pure reconciler and the Plan it produces.

Everything here is pure except ``planfile``, which reads and writes saved plan files.
"""

from __future__ import annotations

from deployctl.planner.plan import (
    Action,
    FieldChange,
    Plan,
    PlanContext,
    ResourceChange,
    UnmanagedDeployment,
)
from deployctl.planner.planner import DesiredTarget, make_plan

__all__ = [
    "Action",
    "DesiredTarget",
    "FieldChange",
    "Plan",
    "PlanContext",
    "ResourceChange",
    "UnmanagedDeployment",
    "make_plan",
]
