"""The confirmation prompt on a real terminal, and Ctrl-C in the middle of an apply.

Both need a real process (a pseudo-terminal, a signal); what they leave behind is read in-process.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType

from support import (
    CLI_ENV,
    ONE_DEPLOYMENT,
    deployctl_script,
    deployments,
    manifest,
    run_cli,
    write_manifest,
)

MANIFEST = ONE_DEPLOYMENT


def run_on_terminal(
    args: list[str], cwd: Path, answer: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run the console script with a pseudo-terminal as stdin/stdout and type ``answer``.

    Outside CI (``CI`` removed, whatever runs the tests): in CI deployctl never asks."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [deployctl_script(), *args],
        cwd=cwd,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**{k: v for k, v in os.environ.items() if k != "CI"}, **CLI_ENV, **(env or {})},
    )
    os.close(secondary)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed: the process exited
            break
        output += chunk
        if not answered and b"Enter a value:" in output:
            os.write(primary, answer.encode() + b"\n")
            answered = True
    os.close(primary)
    return proc.wait(timeout=60), output.decode(errors="replace")


def test_apply_asks_on_a_terminal_and_applies_on_yes(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    code, output = run_on_terminal(["apply", "-f", "dev.yaml"], tmp_path, "yes")
    assert "Do you want to perform these actions in environment dev?" in output
    assert code == 0, output
    assert "Apply complete! 1 created, 0 updated, 0 deleted, 0 failed (environment dev)." in output


def test_destroy_asks_about_all_deployments_of_the_environment(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest(deployments(2)))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    code, output = run_on_terminal(["destroy", "-f", "dev.yaml"], tmp_path, "yes")
    assert "Do you really want to destroy all 2 deployments of environment dev?" in output
    assert code == 0, output
    assert "Destroy complete! 2 deleted, 0 failed (environment dev)." in output


def test_in_ci_nothing_is_asked_even_on_a_terminal(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    code, output = run_on_terminal(["apply", "-f", "dev.yaml"], tmp_path, "yes", {"CI": "true"})
    assert code == 1
    assert "Enter a value:" not in output
    assert "Error: CI is set: deployctl asks for no confirmation in CI; pass --auto-approve" in (
        output
    )
    assert not (tmp_path / ".deployctl" / "dev" / "deployments" / "churn.json").exists()


def test_any_other_answer_cancels_without_changes(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    code, output = run_on_terminal(["apply", "-f", "dev.yaml"], tmp_path, "y")
    assert code == 1
    assert "cancelled: nothing was changed" in output
    assert not (tmp_path / ".deployctl" / "dev" / "deployments" / "churn.json").exists()
    # The lock was released on the way out.
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0


def test_ctrl_c_mid_apply_records_finished_work_and_releases_the_lock(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(
            targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(5, "m:/{i}")}}
        ),
    )
    test_plugins.write_faults(target, {"sleep": {"create_deployment": 0.7}})
    proc = subprocess.Popen(
        [deployctl_script(), "apply", "-f", "dev.yaml", "--auto-approve", "--parallelism", "1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **CLI_ENV},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # until the 2nd create runs
        calls = test_plugins.read_calls(target)
        if len([c for c in calls if c["method"] == "create_deployment"]) >= 1 and any(
            c["method"] == "create_deployment" and c.get("args", [None])[0] == "d1" for c in calls
        ):
            break
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    recorded = json.loads(run_cli("state", "list", "-e", "dev", "--json", cwd=tmp_path).out)
    created = {
        c["args"][0] for c in test_plugins.read_calls(target) if c["method"] == "create_deployment"
    }
    # Everything the target created is in state (the running one finished), nothing more.
    assert {r["name"] for r in recorded} == created
    assert 1 <= len(created) < 5
    assert not (tmp_path / "state" / "dev.json.lock").exists()
    assert "Apply interrupted!" in out
