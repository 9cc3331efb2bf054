"""The state lock as a user meets it: a second apply, --lock-timeout, force-unlock."""

from __future__ import annotations

import os
from pathlib import Path

from support import ONE_DEPLOYMENT, run_cli, run_process, write_manifest

MANIFEST = ONE_DEPLOYMENT


def hold_lock(tmp_path: Path) -> dict[str, object]:
    """A lock as a running apply on this host leaves it (pid: this test process).

    The deployctl that meets it runs in a process of its own (``run_process``): in this one it
    would be told the lock is its own.
    """
    from deployctl.state.local import LocalStateBackend

    backend = LocalStateBackend(tmp_path / "state" / "dev.json")
    session = backend.lock(operation="apply")
    session.__enter__()
    info = backend.lock_info()
    assert info is not None
    return info.to_json()


def test_second_apply_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    info = hold_lock(tmp_path)
    result = run_process("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 1
    assert f"pid {os.getpid()}" in result.err
    assert str(info["id"]) in result.err
    assert "force-unlock" in result.err


def test_lock_timeout_waits_then_fails(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    hold_lock(tmp_path)
    result = run_process(
        "apply", "-f", "dev.yaml", "--auto-approve", "--lock-timeout", "1s", cwd=tmp_path
    )
    assert result.code == 1
    assert "locked" in result.err


def test_force_unlock_removes_the_lock_so_apply_can_run(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    info = hold_lock(tmp_path)
    wrong = run_cli("force-unlock", "not-the-id", "-f", "dev.yaml", cwd=tmp_path)
    assert wrong.code == 1
    unlocked = run_cli("force-unlock", str(info["id"]), "-f", "dev.yaml", cwd=tmp_path)
    assert unlocked.code == 0, unlocked.err
    assert "Removed the lock" in unlocked.out
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    nothing = run_cli("force-unlock", "-f", "dev.yaml", cwd=tmp_path)
    assert nothing.code == 1
    assert "not locked" in nothing.err


def test_bad_lock_timeout_is_a_usage_error(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    result = run_cli("apply", "-f", "dev.yaml", "--lock-timeout", "soon", cwd=tmp_path)
    assert result.code == 1
    assert "'soon' is not a duration" in result.err
