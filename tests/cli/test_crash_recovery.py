"""An apply killed at any point (kill -9) loses track of nothing: a plain ``deployctl apply``
afterwards converges, with no force-unlock and no import, and the state matches the target.

Real processes with the seed test plugin: ``exit_after`` kills the process right after a call's
effect (before deployctl can record its result), and ``sleep`` holds a call open while the test
kills the process with SIGKILL (before the call has had any effect). What is left is read and
converged in-process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType

import pytest
from support import (
    CLI_ENV,
    deployctl_script,
    deployments,
    manifest,
    run_cli,
    run_process,
    write_manifest,
)

APPLY = ("apply", "-f", "dev.yaml", "--auto-approve")


def write_environment(tmp_path: Path, count: int, model: str = "models:/m/{i}") -> Path:
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(
            targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(count, model)}}
        ),
    )
    return target


def live_records(target: Path) -> dict[str, str]:
    """What the target holds: name -> model URI."""
    records = target / "records"
    found = sorted(records.glob("*.json")) if records.exists() else []
    return {p.stem: json.loads(p.read_text())["model_uri"] for p in found}


def recorded(tmp_path: Path) -> dict[str, str]:
    """What the state holds: name -> applied model URI."""
    listed = run_cli("state", "list", "-e", "dev", "--json", cwd=tmp_path)
    return {r["name"]: r["model_uri"] for r in json.loads(listed.out)}


def converge(tmp_path: Path, target: Path, test_plugins: ModuleType) -> str:
    """A plain apply converges: the targets match the manifest and the state matches them.

    Returns what the apply wrote on stderr (its warnings)."""
    test_plugins.write_faults(target, {})
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert "not managed" not in applied.err and "import" not in applied.err
    again = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.out + again.err
    assert recorded(tmp_path) == live_records(target)
    state = json.loads((tmp_path / "state" / "dev.json").read_text())
    assert "pending_intents" not in state
    return applied.err


def test_a_create_made_just_before_the_crash_is_recorded_as_managed(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = write_environment(tmp_path, 4)
    test_plugins.write_faults(target, {"exit_after": {"create_deployment": ["d2"]}})
    crashed = run_process(*APPLY, "--parallelism", "1", cwd=tmp_path)
    assert crashed.code == 137
    assert sorted(recorded(tmp_path)) == ["d0", "d1"]  # d2 was created, its result never recorded
    assert sorted(live_records(target)) == ["d0", "d1", "d2"]
    # plan shows how the open intent resolves, and plans only what is left (it writes nothing).
    test_plugins.write_faults(target, {})
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert plan.code == 0, plan.err
    assert "the create of t/d2 started at" in plan.err
    assert "it exists on the target; recorded as managed (apply records this" in plan.err
    assert "Plan: 1 to create, 0 to update, 0 to delete, 3 unchanged." in plan.out
    assert sorted(recorded(tmp_path)) == ["d0", "d1"]
    # The dead run's lock is taken over at once, its intent recorded, the rest created.
    err = converge(tmp_path, target, test_plugins)
    assert "no longer running" in err
    assert "the create of t/d2" in err and "recorded as managed" in err


@pytest.mark.parametrize("method", ["update_deployment", "delete_deployment"])
def test_an_update_or_delete_made_just_before_the_crash_is_resolved_from_the_target(
    tmp_path: Path, test_plugins: ModuleType, method: str
) -> None:
    target = write_environment(tmp_path, 3)
    assert run_cli(*APPLY, cwd=tmp_path).code == 0
    if method == "update_deployment":
        write_environment(tmp_path, 3, model="models:/m/{i}-v2")
    else:
        write_environment(tmp_path, 1)  # d1 and d2 are to be deleted
    test_plugins.write_faults(target, {"exit_after": {method: ["d1"]}})
    crashed = run_process(*APPLY, "--parallelism", "1", cwd=tmp_path)
    assert crashed.code == 137
    err = converge(tmp_path, target, test_plugins)
    assert "of t/d1 started at" in err
    expected = (
        {f"d{i}": f"models:/m/{i}-v2" for i in range(3)}
        if method == "update_deployment"
        else {"d0": "models:/m/0"}
    )
    assert live_records(target) == expected


def _journal_intends(tmp_path: Path, name: str) -> bool:
    try:
        text = (tmp_path / "state" / "dev.json.journal").read_text()
    except FileNotFoundError:
        return False
    return f'"address":"t/{name}"' in text and '"op":"intend"' in text


@pytest.mark.parametrize("method", ["create_deployment", "update_deployment", "delete_deployment"])
def test_kill_9_while_calls_are_running_converges_with_a_plain_apply(
    tmp_path: Path, test_plugins: ModuleType, method: str
) -> None:
    target = write_environment(tmp_path, 4)
    if method != "create_deployment":
        assert run_cli(*APPLY, cwd=tmp_path).code == 0
        write_environment(tmp_path, 4 if method == "update_deployment" else 0, "models:/m/{i}-v2")
    test_plugins.write_faults(target, {"sleep": {method: 0.5}})
    proc = subprocess.Popen(
        [deployctl_script(), *APPLY, "--parallelism", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CLI_ENV},
    )
    deadline = time.monotonic() + 30
    # Once d2's intent is written, d0 and d1 are done (or nearly) and d2 and d3 are running.
    while not _journal_intends(tmp_path, "d2") and time.monotonic() < deadline:
        assert proc.poll() is None, "the apply ended before it could be killed"
        time.sleep(0.02)
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    # The running calls' intents are open, and the dead run still holds the lock.
    assert (tmp_path / "state" / "dev.json.lock").exists()
    err = converge(tmp_path, target, test_plugins)
    assert "t/d2 started at" in err and "never recorded its outcome" in err


def test_a_run_that_loses_its_lock_starts_nothing_more_and_names_what_it_did_not_record(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = write_environment(tmp_path, 5)
    test_plugins.write_faults(target, {"sleep": {"create_deployment": 0.6}})
    with open(tmp_path / "err.txt", "w") as err_file:
        proc = subprocess.Popen(
            [deployctl_script(), *APPLY, "--parallelism", "1"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            env={**os.environ, **CLI_ENV},
        )
    deadline = time.monotonic() + 30
    while not _journal_intends(tmp_path, "d0") and time.monotonic() < deadline:
        time.sleep(0.02)
    # While d0's create runs, someone removes the lock: its result can no longer be recorded.
    assert run_cli("force-unlock", "-e", "dev", cwd=tmp_path).code == 0
    assert proc.wait(timeout=30) == 1
    err = (tmp_path / "err.txt").read_text()
    assert "this run lost the lock" in err
    assert "1 deployment(s) changed on their targets but their results are not recorded" in err
    assert "in state: t/d0." in err
    assert "4 change(s) were not started: t/d1, t/d2, t/d3, t/d4" in err
    assert live_records(target) == {"d0": "models:/m/0"}
    converge(tmp_path, target, test_plugins)


def test_a_timed_out_call_still_running_keeps_the_lock_until_the_process_exits(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    (tmp_path / "dev.yaml").write_text(
        "version: 1\nenvironment: dev\ntargets:\n  t:\n"
        f"    uri: seedtest:{target}\n    timeout: {{read: 5m, write: 300ms}}\n"
        "    deployments:\n      d0: {model_uri: 'models:/m/0'}\n"
    )
    test_plugins.write_faults(target, {"sleep": {"create_deployment": 3}})
    started = time.monotonic()
    timed_out = run_process(*APPLY, cwd=tmp_path)
    assert time.monotonic() - started < 3  # it did not wait for the call
    assert timed_out.code == 1, timed_out.err
    assert "1 plugin call(s) that timed out are still running" in timed_out.err
    # What was recorded is committed (the open intent too); the lock is left to the dead process.
    state = json.loads((tmp_path / "state" / "dev.json").read_text())
    assert [i["address"] for i in state["pending_intents"]] == ["t/d0"]
    assert json.loads((tmp_path / "state" / "dev.json.lock").read_text())["pid"] != os.getpid()
    err = converge(tmp_path, target, test_plugins)
    assert "no longer running" in err and "nothing was created" in err


def test_a_saved_plan_made_after_a_crash_records_the_open_intents_when_applied(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = write_environment(tmp_path, 3)
    test_plugins.write_faults(target, {"exit_after": {"create_deployment": ["d1"]}})
    assert run_process(*APPLY, "--parallelism", "1", cwd=tmp_path).code == 137
    test_plugins.write_faults(target, {})
    planned = run_cli("plan", "-f", "dev.yaml", "--out", "p.json", cwd=tmp_path)
    assert planned.code == 0, planned.err
    applied = run_cli("apply", "p.json", cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert "the create of t/d1" in applied.err and "recorded as managed" in applied.err
    assert (
        recorded(tmp_path) == live_records(target) == {f"d{i}": f"models:/m/{i}" for i in range(3)}
    )
    assert run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path).code == 0
