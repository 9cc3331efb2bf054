"""The built wheel carries every module and schema (an editable install would hide a gap)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from support import REPO


def source_copy(destination: Path) -> Path:
    """The files a wheel is built from, copied: building writes build/ and *.egg-info next to
    them, which must not happen in the working tree (other runs may be building at once)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("deployctl", "schemas"):
        shutil.copytree(REPO / name, destination / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, destination / name)
    return destination


def test_wheel_contains_every_package_module_and_schema(tmp_path: Path) -> None:
    source = source_copy(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("deployctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "deployctl").rglob("*.py")
        if "__pycache__" not in path.parts and "schemas" not in path.parts
    }
    expected |= {f"deployctl/schemas/{p.name}" for p in (REPO / "schemas").glob("*.json")}
    assert expected - names == set()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "deployctl = deployctl.cli.main:run" in text
    assert "local = deployctl.targets.mlflow_local" in text
    assert "deployctl = deployctl.testing.plugin" in text  # the conformance kit's pytest plugin
