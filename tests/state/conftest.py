from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.state.local import LocalStateBackend


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "dev.json"


@pytest.fixture
def backend(state_path: Path) -> LocalStateBackend:
    return LocalStateBackend(state_path)
