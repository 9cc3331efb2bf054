"""The built wheel carries every module and schema (an editable install would hide a gap)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from support import REPO


def test_wheel_contains_every_package_module_and_schema(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
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
    assert "deployctl = deployctl.cli.main:main" in text
    assert "local = deployctl.targets.mlflow_local" in text
    assert "deployctl = deployctl.testing.plugin" in text  # the conformance kit's pytest plugin
