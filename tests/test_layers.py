"""The package keeps its shape: no module over 500 lines, no private names borrowed across
modules, and the import-linter contracts (the layers in CONTRIBUTING.md) hold."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, in_ci

PACKAGE = REPO / "deployctl"
MAX_LINES = 500


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by concept: {long}"


def test_no_module_imports_a_private_name_of_another() -> None:
    borrowed = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deployctl"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and node.module != "deployctl":
                    borrowed.append(f"{path.relative_to(REPO)}: {node.module} {private}")
    assert borrowed == []


def test_the_import_layers_hold() -> None:
    script = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if script is None:
        if in_ci():
            pytest.fail("import-linter is not installed (required in CI)")
        pytest.skip("import-linter is not installed (pip install 'deployctl[test]')")
    result = subprocess.run(
        [script, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:]
