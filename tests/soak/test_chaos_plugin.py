"""The soak's instrument, ``chaostest`` (``dtp_chaos``): its faults are what its configuration
says, repeatable under a seed, and its records are never half written."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def chaos(test_plugins: ModuleType) -> ModuleType:
    return importlib.import_module("dtp_chaos")


def client(chaos: ModuleType, directory: Path) -> Any:
    return chaos.ChaosDeploymentClient(f"chaostest:{directory}")


def outcomes(chaos: ModuleType, directory: Path, calls: int) -> list[str]:
    """How each of ``calls`` gets of one name ended, in a fresh count of calls."""
    chaos._counts.clear()
    c = client(chaos, directory)
    ended = []
    for _ in range(calls):
        try:
            c.get_deployment("d0")
            ended.append("ok")
        except Exception as exc:
            ended.append(type(exc).__name__)
    return ended


def test_faults_follow_the_seed_and_the_rate(chaos: ModuleType, tmp_path: Path) -> None:
    c = client(chaos, tmp_path)
    c.create_deployment("d0", "models:/m/1")
    chaos.write_chaos(tmp_path, {"seed": 1, "fail": {"rate": 0.5}})
    first = outcomes(chaos, tmp_path, 40)
    assert outcomes(chaos, tmp_path, 40) == first
    assert {"ok", "ChaosUnavailable", "ChaosError"} <= set(first)
    chaos.write_chaos(tmp_path, {"seed": 2, "fail": {"rate": 0.5}})
    assert outcomes(chaos, tmp_path, 40) != first
    chaos.write_chaos(tmp_path, {"seed": 2, "fail": {"rate": {"list_deployments": 1.0}}})
    assert outcomes(chaos, tmp_path, 5) == ["ok"] * 5
    kinds = {e["kind"] for e in chaos.read_events(tmp_path)}
    assert kinds == {"unavailable", "error"}


def test_an_unavailable_error_carries_the_transient_code(chaos: ModuleType, tmp_path: Path) -> None:
    from deployctl.targets.plugin_errors import explicitly_not_found, transience

    chaos.write_chaos(tmp_path, {"fail": {"rate": 1.0, "unavailable": 1.0}})
    with pytest.raises(chaos.ChaosUnavailable) as refused:
        client(chaos, tmp_path).create_deployment("d0", "models:/m/1")
    assert transience(refused.value) == "refused"
    assert chaos.live_records(tmp_path) == {}
    chaos.write_chaos(tmp_path, {})
    with pytest.raises(chaos.ChaosNotFound) as missing:
        client(chaos, tmp_path).get_deployment("d0")
    assert explicitly_not_found(missing.value)


def test_a_failure_after_the_effect_leaves_the_change_made(
    chaos: ModuleType, tmp_path: Path
) -> None:
    chaos.write_chaos(
        tmp_path,
        {"fail": {"rate": {"create_deployment": 1.0}, "unavailable": 0, "after_effect": 1}},
    )
    with pytest.raises(chaos.ChaosError, match="after its change"):
        client(chaos, tmp_path).create_deployment("d0", "models:/m/1", config={"a": 1})
    assert chaos.live_records(tmp_path)["d0"]["config"] == {"a": 1}


def test_the_list_lags_behind_a_create_that_get_already_sees(
    chaos: ModuleType, tmp_path: Path
) -> None:
    c = client(chaos, tmp_path)
    chaos.write_chaos(tmp_path, {"lag": {"list_calls": 2, "seconds": 0.3}})
    c.create_deployment("d0", "models:/m/1")
    chaos.write_chaos(tmp_path, {})  # the lag belongs to the target, not to the faults
    assert c.get_deployment("d0")["model_uri"] == "models:/m/1"
    assert c.list_deployments() == []
    assert c.list_deployments() == []
    assert c.list_deployments() == []  # two lists left it out, but 0.3 s have not passed
    time.sleep(0.3)
    assert [r["name"] for r in c.list_deployments()] == ["d0"]


def test_a_hang_stops_only_the_matching_call_and_only_as_often_as_asked(
    chaos: ModuleType, tmp_path: Path
) -> None:
    chaos._counts.clear()
    c = client(chaos, tmp_path)
    hang = {"call": "create_deployment", "name": "d1", "seconds": 0.5, "after_effect": True}
    chaos.write_chaos(tmp_path, {"hang": [hang]})
    started = time.monotonic()
    c.create_deployment("d0", "models:/m/1")
    assert time.monotonic() - started < 0.4
    c.create_deployment("d1", "models:/m/1")
    assert time.monotonic() - started >= 0.5
    c.delete_deployment("d1")
    started = time.monotonic()
    c.create_deployment("d1", "models:/m/1")  # times: 1 (the default)
    assert time.monotonic() - started < 0.4
    assert [e["kind"] for e in chaos.read_events(tmp_path)] == ["hang_after_effect"]


def test_a_write_killed_at_any_moment_leaves_a_whole_record(
    chaos: ModuleType, tmp_path: Path
) -> None:
    """A child process updates one record with a large config in a loop; kill -9 at random
    moments never leaves a record that does not parse."""
    code = (
        "import sys, dtp_chaos\n"
        f"c = dtp_chaos.ChaosDeploymentClient('chaostest:{tmp_path}')\n"
        "try:\n"
        "    c.create_deployment('d0', 'models:/m/0', config={'k': '0' * 200000})\n"
        "except dtp_chaos.ChaosExists:\n"
        "    pass\n"
        "print('ready', flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    c.update_deployment('d0', model_uri=f'models:/m/{i}', config={'k': str(i) * 200000})\n"
    )
    for delay in (0.05, 0.13, 0.21):
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, env=dict(os.environ), text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        record = json.loads((tmp_path / "records" / "d0.json").read_text())
        assert record["config"]["k"] == record["model_uri"].rpartition("/")[2] * 200000
        assert list(chaos.live_records(tmp_path)) == ["d0"]
