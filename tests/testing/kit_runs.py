"""Running pytest as a plugin author runs it: ``python -m pytest`` in a subprocess.

Subprocesses rather than pytester's in-process runs: pytester's ``sys.modules``/``sys.meta_path``
snapshots break ``importlib.metadata`` for the rest of the session when MLflow (whose
``importlib_metadata`` backport removes the standard finder's ``find_distributions``) is first
imported inside one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PytestRun:
    """The outcome of one ``python -m pytest`` subprocess."""

    ret: int
    stdout: pytest.LineMatcher
    stderr: pytest.LineMatcher

    @property
    def output(self) -> str:
        return f"{self.stdout.str()}\n{self.stderr.str()}"


# Installed for this project's own tests, not part of a plugin author's set-up, and slow to
# import (Hypothesis: about a second per run): kept out of the runs.
NOT_THEIRS = ("hypothesispytest",)


class PytestRunner:
    """Runs ``python -m pytest`` in ``directory`` (empty unless a test writes to it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self, *args: str) -> PytestRun:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        blocked = [option for name in NOT_THEIRS for option in ("-p", f"no:{name}")]
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *blocked, *args],
            cwd=self.directory,
            env={**env, "PY_COLORS": "0", "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        return PytestRun(
            proc.returncode,
            pytest.LineMatcher(proc.stdout.splitlines()),
            pytest.LineMatcher(proc.stderr.splitlines()),
        )


class KitRunner(PytestRunner):
    """Runs ``python -m pytest --pyargs deployctl.testing ARGS``."""

    def __call__(self, *args: str) -> PytestRun:
        return super().__call__("--pyargs", "deployctl.testing", *args)
