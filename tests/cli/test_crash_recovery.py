"""An apply that dies midway loses nothing that succeeded, and says how to continue."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from support import run_cli, write_manifest


def manifest(target_dir: Path) -> str:
    deployments = "".join(f"      d{i}:\n        model_uri: models:/m/{i}\n" for i in range(4))
    return (
        "version: 1\nenvironment: dev\ntargets:\n  t:\n"
        f"    uri: seedtest:{target_dir}\n    deployments:\n{deployments}"
    )


def test_a_crash_midway_keeps_every_recorded_success(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    write_faults = test_plugins.write_faults
    target_dir = tmp_path / "target"
    write_manifest(tmp_path / "dev.yaml", manifest(target_dir))
    write_faults(target_dir, {"exit_after": {"create_deployment": ["d2"]}})
    crashed = run_cli(
        "apply", "-f", "dev.yaml", "--auto-approve", "--parallelism", "1", cwd=tmp_path
    )
    assert crashed.code == 137  # the plugin killed the process right after creating d2
    listed = run_cli("state", "list", "-f", "dev.yaml", "--json", cwd=tmp_path)
    assert [r["address"] for r in json.loads(listed.out)] == ["t/d0", "t/d1"]
    # The dead apply's lock is still there: the next apply says so and how to remove it.
    blocked = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert blocked.code == 1
    assert "no longer running" in blocked.err
    lock = json.loads((tmp_path / "state" / "dev.json.lock").read_text())
    assert run_cli("force-unlock", lock["id"], "-f", "dev.yaml", cwd=tmp_path).code == 0
    # d2 was created but never recorded: deployctl refuses to take it over silently.
    write_faults(target_dir, {})
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert plan.code == 1
    assert "t/d2 already exists on target 't' but is not managed" in plan.err
