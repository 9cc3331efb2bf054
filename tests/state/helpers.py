"""Builders and subprocess helpers shared by the state tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from deployctl.model import DeploymentSpec
from deployctl.state.document import StateRecord
from deployctl.targets.protocol import LiveRecord

# The snippet subprocesses use to build the same records as make_record (keep them in sync).
RECORD_SNIPPET = """
from deployctl.model import DeploymentSpec
from deployctl.state.document import StateRecord

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
