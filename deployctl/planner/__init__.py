"""Planning: the pure reconciler and the Plan it produces."""

from __future__ import annotations

from deployctl.planner.plan import Action, FieldChange, Plan, ResourceChange, UnmanagedDeployment
from deployctl.planner.planner import DesiredTarget, make_plan

__all__ = [
    "Action",
    "DesiredTarget",
    "FieldChange",
    "Plan",
    "ResourceChange",
    "UnmanagedDeployment",
    "make_plan",
]
