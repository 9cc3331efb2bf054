"""An apply that dies midway loses nothing that succeeded, and says how to continue."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from support import deployments, manifest, run_cli, run_process, write_manifest


def test_a_crash_midway_keeps_every_recorded_success(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    write_faults = test_plugins.write_faults
    target_dir = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target_dir}", "deployments": deployments(4)}}),
    )
    write_faults(target_dir, {"exit_after": {"create_deployment": ["d2"]}})
    # A real process: the plugin kills it (os._exit) right after creating d2.
    crashed = run_process(
        "apply", "-f", "dev.yaml", "--auto-approve", "--parallelism", "1", cwd=tmp_path
    )
    assert crashed.code == 137
    listed = run_cli("state", "list", "-f", "dev.yaml", "--json", cwd=tmp_path)
    assert [r["address"] for r in json.loads(listed.out)] == ["t/d0", "t/d1"]
    # The dead apply's lock is taken over by the next apply, with a warning (no force-unlock).
    blocked = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert blocked.code == 1
    assert "no longer running" in blocked.err
    assert not (tmp_path / "state" / "dev.json.lock").exists()
    # d2 was created but never recorded: deployctl refuses to take it over silently.
    write_faults(target_dir, {})
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert plan.code == 1
    assert "t/d2 already exists on target 't' but is not managed" in plan.err
