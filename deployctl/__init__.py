"""deployctl: declarative, Terraform-style deployment management for ML models.

The package is layered; imports flow one way:
``cli -> {manifest, planner, executor, targets, state, console} -> model, errors``.
"""

from __future__ import annotations

__version__ = "0.1.0"
