"""Every module imports on its own (no import cycles), and the CLI starts without heavy imports."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import REPO

MODULES = sorted(
    ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
    for path in (REPO / "deployctl").rglob("*.py")
    if "__pycache__" not in path.parts and path.name != "__main__.py"
)
HEAVY = ("pandas", "numpy", "deepdiff", "mlflow", "rich", "jsonschema", "yaml")


def _import_alone(module: str) -> tuple[str, int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120
    )
    return module, proc.returncode, proc.stderr[-800:]


def test_every_module_imports_on_its_own() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [r for r in pool.map(_import_alone, MODULES) if r[1] != 0]
    assert failures == []


@pytest.mark.parametrize("layer", ["deployctl.planner", "deployctl.executor", "deployctl.state"])
def test_the_core_never_imports_rich_or_argparse(layer: str) -> None:
    code = (
        f"import sys, {layer}; print(sorted(m for m in ('rich', 'argparse') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys; from deployctl.cli.main import build_parser; build_parser(); "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
