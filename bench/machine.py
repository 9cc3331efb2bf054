"""The machine a benchmark ran on: CPU, cores, memory, Python, OS and deployctl's commit.

Figures mean little without it: the README's table names the machine it was measured on.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any


def describe(work_dir: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The machine, and the deployctl that the measured processes (started with ``env``) run."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": _os_name(),
        "deployctl": _deployctl(env, work_dir),
        "work_dir": str(work_dir),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        release = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        release = ""
    names = (line.split("=", 1)[1] for line in release.splitlines() if "PRETTY_NAME=" in line)
    pretty = next(names, platform.system()).strip('"')
    return f"{pretty}, kernel {platform.release()}"


def _deployctl(env: Mapping[str, str], work_dir: Path) -> dict[str, str]:
    """Where the measured processes import deployctl from, its version, and its git commit."""
    done = subprocess.run(
        [sys.executable, "-c", "import deployctl; print(deployctl.__file__)"],
        env=dict(env),
        cwd=work_dir,  # not this directory: `python -c` imports from its working directory
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"version": "not importable", "commit": "unknown", "path": ""}
    package = Path(done.stdout.strip()).parent
    return {
        "version": metadata.version("deployctl"),
        "commit": _git_commit(package),
        "path": str(package),
    }


def _git_commit(package: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    # Uncommitted changes to the package change what was measured.
    return f"{commit}+uncommitted" if git("status", "--porcelain", "--", ".") else commit
