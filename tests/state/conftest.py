from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.state.local import LocalStateBackend


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "dev.json"


@pytest.fixture
def warned() -> list[str]:
    """The warnings ``backend`` delivered (a lock taken over, a lease not renewed)."""
    return []


@pytest.fixture
def backend(state_path: Path, warned: list[str]) -> LocalStateBackend:
    return LocalStateBackend(state_path, on_warning=warned.append)
