"""Helpers shared by the tests: the installed console script, optional components.

Optional components skip locally when missing, but FAIL in CI (env ``CI`` set):
``require_mlflow()`` for tests that need mlflow-skinny; ``require_test_plugins()`` for tests that
use the ``deployctl-test-plugins`` distribution (``pip install ./tests/plugins``), which also
fails when the installed copy differs from ``tests/plugins/src`` (reinstall after edits).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PLUGINS_SRC = REPO / "tests" / "plugins" / "src"
INSTALL_PLUGINS = "pip install ./tests/plugins"

# The smallest useful manifest: one deployment on a local target next to the manifest.
ONE_DEPLOYMENT = """\
version: 1
environment: dev
targets:
  local:
    uri: local:.deployctl/dev
    deployments:
      churn:
        model_uri: models:/churn/3
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


def require_mlflow() -> ModuleType:
    """The ``mlflow`` module; skips without it, except in CI where that is a failure."""
    try:
        import mlflow
    except ImportError:
        _missing("mlflow is not installed (pip install 'deployctl[test]')")
        raise  # unreachable: skip/fail raise
    return mlflow


def require_test_plugins() -> None:
    """Skip (fail in CI) without the test plugins; fail when the installed copy is stale."""
    problem = _test_plugins_problem()
    if problem is None:
        return
    if problem.startswith("stale:"):
        pytest.fail(f"{problem[6:]}: reinstall with `{INSTALL_PLUGINS}`")
    _missing(f"{problem}: install with `{INSTALL_PLUGINS}`")


@functools.cache
def _test_plugins_problem() -> str | None:
    try:
        metadata.distribution("deployctl-test-plugins")
    except metadata.PackageNotFoundError:
        return "deployctl-test-plugins is not installed"
    for source in sorted(PLUGINS_SRC.rglob("*.py")):
        module = ".".join(source.relative_to(PLUGINS_SRC).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        spec = importlib.util.find_spec(module)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None or not origin.exists():
            return f"stale:the installed test plugins have no module {module}"
        if origin.resolve() != source.resolve() and origin.read_bytes() != source.read_bytes():
            return f"stale:the installed {module} differs from {source}"
    return None


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
