"""Fixtures of the orchestration tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace in a temporary directory."""
    return Workspace(tmp_path)
