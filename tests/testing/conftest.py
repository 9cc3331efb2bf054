"""Fixtures for the conformance kit's tests: pytest run as a plugin author runs it.

``run_pytest(*args)`` runs ``python -m pytest *args`` in a subprocess, in a fresh directory that
holds no configuration or conftest; ``run_kit(*args)`` adds ``--pyargs deployctl.testing``.
"""

from __future__ import annotations

from importlib import metadata

import pytest
from kit_runs import KitRunner, PytestRunner


@pytest.fixture(autouse=True)
def _no_target_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kit reads DEPLOYCTL_TARGET when --deployctl-target is not given.
    monkeypatch.delenv("DEPLOYCTL_TARGET", raising=False)


@pytest.fixture
def run_pytest(tmp_path_factory: pytest.TempPathFactory) -> PytestRunner:
    """``python -m pytest ARGS`` from an empty directory (``run_pytest.directory``)."""
    entry_points = metadata.entry_points(group="pytest11", name="deployctl")
    if not entry_points:
        pytest.fail(
            "deployctl's pytest11 entry point is not installed (an install older than the "
            "conformance kit): reinstall with `pip install -e .`"
        )
    return PytestRunner(tmp_path_factory.mktemp("run"))


@pytest.fixture
def run_kit(run_pytest: PytestRunner) -> KitRunner:
    """``python -m pytest --pyargs deployctl.testing ARGS`` from an empty directory."""
    return KitRunner(run_pytest.directory)
