"""Helpers shared by the tests: the installed console script, optional components."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(module: str, why: str) -> ModuleType:
    """Import an optional component, or skip — except in CI, where it must be installed."""
    try:
        return __import__(module)
    except ImportError:
        if in_ci():
            pytest.fail(f"{module} is required in CI ({why}) but is not installed")
        pytest.skip(f"{module} is not installed ({why})")


def deployctl_script() -> str:
    """The installed ``deployctl`` console script next to this interpreter."""
    script = Path(sys.executable).parent / "deployctl"
    if script.exists():
        return str(script)
    found = shutil.which("deployctl")
    if found is None:
        pytest.fail("the deployctl console script is not installed (pip install -e .)")
    return found


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [deployctl_script(), *args],
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def write_manifest(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
