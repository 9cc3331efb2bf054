"""Builders and subprocess helpers shared by the state tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord
from deployctl.model.state import StateRecord

# The snippet subprocesses use to build the same records as make_record (keep them in sync).
RECORD_SNIPPET = """
from deployctl.model import DeploymentSpec
from deployctl.model.state import StateRecord

def make_record(name, version=1):
    return StateRecord(
        target="local", name=name, target_uri="local:/srv/models",
        applied=DeploymentSpec(model_uri=f"models:/{name}/{version}", flavor="python_function",
                               config={"workers": 2}),
        live=None, applied_at="2025-01-31T12:00:00.000000Z",
    )
"""


def make_record(name: str, version: int = 1, *, live: bool = False) -> StateRecord:
    return StateRecord(
        target="local",
        name=name,
        target_uri="local:/srv/models",
        applied=DeploymentSpec(
            model_uri=f"models:/{name}/{version}", flavor="python_function", config={"workers": 2}
        ),
        live=(
            LiveRecord(
                name=name,
                raw={"name": name, "model_uri": f"models:/{name}/{version}"},
                model_uri=f"models:/{name}/{version}",
                status="ready",
            )
            if live
            else None
        ),
        applied_at="2025-01-31T12:00:00.000000Z",
    )


def run_python(code: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented, with ``make_record`` defined) in a fresh interpreter."""
    script = RECORD_SNIPPET + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
    )


def start_python(code: str) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter with pipes for stdin and stdout."""
    script = RECORD_SNIPPET + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def stamp_in(seconds: float) -> str:
    """A lock time stamp ``seconds`` from now (negative: in the past)."""
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_lock_file(state_path: Path, **fields: Any) -> dict[str, Any]:
    """Write ``<state>.lock`` as another run would (by default: on host ci-7, with no lease);
    ``fields`` override or add keys (``lease_expires``, ``process``); ``None`` drops one."""
    data: dict[str, Any] = {
        "id": "0b4e2c1a-other-run",
        "operation": "apply",
        "who": "runner",
        "host": "ci-7",
        "pid": 4242,
        "created": "2025-01-31T12:00:00.000000Z",
        "path": str(state_path),
    }
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    lock_path = state_path.with_name(state_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data
