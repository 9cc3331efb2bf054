"""The executor against a real plugin (the seed-API test plugin) and a real state file."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deployctl.console import CaptureConsole
from deployctl.executor import Executor
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.planner import Action, DesiredTarget, Plan, make_plan
from deployctl.state.local import LocalStateBackend
from deployctl.targets.live import LiveView
from deployctl.targets.refresh import refresh
from deployctl.targets.registry import load_target
from deployctl.workflow import TargetPool


@pytest.fixture
def target_dir(tmp_path: Path, test_plugins: ModuleType) -> Path:
    return tmp_path / "target"


def write_faults(directory: Path, faults: dict[str, object]) -> None:
    from dtp_common import write_faults

    write_faults(directory, faults)


def read_calls(directory: Path) -> list[dict[str, Any]]:
    from dtp_common import read_calls

    return read_calls(directory)


def uri(target_dir: Path) -> str:
    return f"seedtest:{target_dir}"


def plan_for(
    target_dir: Path, backend: LocalStateBackend, specs: dict[str, DeploymentSpec]
) -> Plan:
    state = backend.read()
    desired = [
        DesiredTarget(DesiredDeployment("t", name, spec), uri(target_dir))
        for name, spec in specs.items()
    ]
    adapter = load_target(uri(target_dir), key="t")
    wanted = {"t": set(specs) | {r.name for r in state.records.values()}}
    live: LiveView = refresh({"t": adapter}, wanted)
    return make_plan("dev", desired, state, live)


def apply(backend: LocalStateBackend, plan: Plan, parallelism: int = 4):  # type: ignore[no-untyped-def]
    console = CaptureConsole()
    with backend.lock(operation="apply") as session:
        report = Executor(TargetPool().get, session, console, parallelism=parallelism).execute(plan)
    return report, console


def spec(version: int, workers: int = 1) -> DeploymentSpec:
    return DeploymentSpec(f"models:/m/{version}", "python_function", {"workers": workers})


def test_a_failed_action_does_not_stop_the_others_and_successes_are_recorded(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    write_faults(target_dir, {"fail": {"create_deployment": ["b"]}})
    plan = plan_for(target_dir, backend, {"a": spec(1), "b": spec(1), "c": spec(1)})
    report, console = apply(backend, plan)
    assert [(r.address, r.ok) for r in report.results] == [
        ("t/a", True),
        ("t/b", False),
        ("t/c", True),
    ]
    assert "InjectedFault" in (report.failed[0].error or "")
    assert "create_deployment for t/b" in (report.failed[0].error or "")
    assert sorted(backend.read().records) == ["t/a", "t/c"]
    names = [e[0] for e in console.events]
    assert names[0] == "apply_started" and names[-1] == "apply_finished"
    # The next plan only has the failed one left to do.
    write_faults(target_dir, {})
    again = plan_for(target_dir, backend, {"a": spec(1), "b": spec(1), "c": spec(1)})
    assert [(c.address, c.action) for c in again.actionable()] == [("t/b", Action.CREATE)]


def test_updates_go_through_the_seed_signature_and_keep_history(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1)}))
    plan = plan_for(target_dir, backend, {"a": spec(2, workers=3)})
    assert [c.action for c in plan.actionable()] == [Action.UPDATE]
    report, _ = apply(backend, plan)
    assert report.ok
    record = backend.read().records["t/a"]
    assert record.applied == spec(2, workers=3)
    assert record.live is not None and record.live.model_uri == "models:/m/2"
    assert record.previous is not None and record.previous["model_uri"] == "models:/m/1"
    update = [c for c in read_calls(target_dir) if c["method"] == "update_deployment"]
    assert update[0]["args"][0] == uri(target_dir)  # the seed's leading `target`


def test_parallelism_bounds_concurrent_calls(tmp_path: Path, target_dir: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    write_faults(target_dir, {"sleep": {"create_deployment": 0.2}})
    names = {f"d{i}": spec(1) for i in range(6)}
    report, _ = apply(backend, plan_for(target_dir, backend, names), parallelism=2)
    assert report.ok
    creates = [c for c in read_calls(target_dir) if c["method"] == "create_deployment"]
    from dtp_common import max_concurrent_calls

    assert max_concurrent_calls(creates) == 2


def test_delete_of_something_already_gone_succeeds_and_forgets_it(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1), "b": spec(1)}))
    plan = plan_for(target_dir, backend, {"a": spec(1)})  # b is to be deleted
    assert [(c.address, c.action, c.state_only) for c in plan.actionable()] == [
        ("t/b", Action.DELETE, False)
    ]
    load_target(uri(target_dir), key="t").client.delete_deployment("b")  # behind our back
    report, _ = apply(backend, plan)
    assert report.ok, report.failed
    assert "already gone" in (report.results[0].note or "")
    assert sorted(backend.read().records) == ["t/a"]


def test_failed_delete_keeps_the_record(tmp_path: Path, target_dir: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1)}))
    write_faults(target_dir, {"fail": {"delete_deployment": True}})
    report, _ = apply(backend, plan_for(target_dir, backend, {}))
    assert not report.ok
    assert sorted(backend.read().records) == ["t/a"]


def test_state_only_delete_calls_nothing(tmp_path: Path, target_dir: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1)}))
    load_target(uri(target_dir), key="t").client.delete_deployment("a")
    plan = plan_for(target_dir, backend, {})
    assert [c.state_only for c in plan.actionable()] == [True]
    before = len(read_calls(target_dir))
    report, _ = apply(backend, plan)
    assert report.ok
    assert backend.read().records == {}
    assert [c["method"] for c in read_calls(target_dir)[before:]] == []
