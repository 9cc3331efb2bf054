"""The executor against a real plugin (the seed-API test plugin) and a real state file."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deployctl.executor import AdapterFactory, Executor
from deployctl.executor.console import CaptureConsole
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec, Lifecycle
from deployctl.model.live import LiveView
from deployctl.planner import Action, DesiredTarget, Plan, make_plan
from deployctl.state.local import LocalStateBackend
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target
from deployctl.targets.pool import TargetPool
from deployctl.targets.refresh import refresh


@pytest.fixture
def target_dir(tmp_path: Path, test_plugins: ModuleType) -> Path:
    return tmp_path / "target"


def write_faults(directory: Path, faults: dict[str, object]) -> None:
    from dtp_common import write_faults

    write_faults(directory, faults)


def read_calls(directory: Path) -> list[dict[str, Any]]:
    from dtp_common import read_calls

    return read_calls(directory)


def uri(target_dir: Path, scheme: str = "seedtest") -> str:
    return f"{scheme}:{target_dir}"


def plan_for(
    target_dir: Path,
    backend: LocalStateBackend,
    specs: dict[str, DeploymentSpec],
    scheme: str = "seedtest",
) -> Plan:
    state = backend.read()
    desired = [
        DesiredTarget(DesiredDeployment("t", name, spec), uri(target_dir, scheme))
        for name, spec in specs.items()
    ]
    adapter = load_target(uri(target_dir, scheme), key="t")
    wanted = {"t": set(specs) | {r.name for r in state.records.values()}}
    live: LiveView = refresh({"t": adapter}, wanted)
    return make_plan("dev", desired, state, live)


def apply(  # type: ignore[no-untyped-def]
    backend: LocalStateBackend,
    plan: Plan,
    parallelism: int = 4,
    *,
    adapters: AdapterFactory | None = None,
    debug: bool = False,
):
    console = CaptureConsole()
    with backend.lock(operation="apply") as session:
        executor = Executor(
            adapters or TargetPool().get, session, console, parallelism=parallelism, debug=debug
        )
        report = executor.execute(plan)
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
    assert "Traceback" not in (report.failed[0].error or "")  # only with debug
    assert "--debug" not in (report.failed[0].error or "")  # a plugin's failure is explained
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


def test_delete_of_something_the_plugin_says_is_gone_by_error_code_succeeds_and_forgets_it(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    mlflow2 = "mlflow2test"  # says RESOURCE_DOES_NOT_EXIST for a missing name
    apply(backend, plan_for(target_dir, backend, {"a": spec(1), "b": spec(1)}, mlflow2))
    plan = plan_for(target_dir, backend, {"a": spec(1)}, mlflow2)  # b is to be deleted
    assert [(c.address, c.action, c.state_only) for c in plan.actionable()] == [
        ("t/b", Action.DELETE, False)
    ]
    load_target(uri(target_dir, mlflow2), key="t").client.delete_deployment("b")  # behind our back
    write_faults(target_dir, {"fail": {"delete_deployment": ["b"]}})  # not idempotent
    report, _ = apply(backend, plan)
    assert report.ok, report.failed
    assert "already gone" in (report.results[0].note or "")
    assert sorted(backend.read().records) == ["t/a"]
    assert backend.read().intents == {}


def test_a_failed_delete_keeps_the_record_when_only_the_message_says_not_found(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1), "b": spec(1)}))
    plan = plan_for(target_dir, backend, {"a": spec(1)})  # b is to be deleted
    # The seed plugin raises ValueError("deployment b not found"): words, not a code.
    load_target(uri(target_dir), key="t").client.delete_deployment("b")
    report, _ = apply(backend, plan)
    [failed] = report.failed
    assert failed.address == "t/b" and "not found" in (failed.error or "")
    assert "kept in state" in (failed.note or "")
    assert sorted(backend.read().records) == ["t/a", "t/b"]
    # Its intent stays open: the next plan asks the target, whose refresh decides.
    assert list(backend.read().intents) == ["t/b"]


def test_failed_delete_keeps_the_record(tmp_path: Path, target_dir: Path) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1)}))
    write_faults(target_dir, {"fail": {"delete_deployment": True}})
    report, _ = apply(backend, plan_for(target_dir, backend, {}))
    assert not report.ok
    assert "it still exists on the target; kept in state" in (report.failed[0].note or "")
    assert sorted(backend.read().records) == ["t/a"]
    assert backend.read().intents == {}  # the target said it is there: nothing is unknown


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


def _broken_adapters(key: str, uri: str) -> TargetAdapter:
    raise RuntimeError(f"no adapter for {key}")


def test_an_unexpected_failure_says_type_and_message_and_how_to_see_more(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    plan = plan_for(target_dir, backend, {"a": spec(1)})
    report, _ = apply(backend, plan, adapters=_broken_adapters)
    assert [r.error for r in report.results] == [
        "RuntimeError: no adapter for t (a bug in deployctl or the target's plugin; "
        "rerun with --debug for the traceback)"
    ]


def test_with_debug_an_unexpected_failure_keeps_its_traceback(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    plan = plan_for(target_dir, backend, {"a": spec(1)})
    report, _ = apply(backend, plan, adapters=_broken_adapters, debug=True)
    error = report.results[0].error or ""
    first, second, *rest = error.splitlines()
    assert (first, second) == (
        "RuntimeError: no adapter for t",
        "Traceback (most recent call last):",
    )
    assert "in _broken_adapters" in error
    assert rest[-1] == "RuntimeError: no adapter for t"
    assert "--debug" not in error


def test_with_debug_a_plugin_failure_keeps_the_plugin_traceback(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    # The create fails, and so does the read-back that checks whether it happened anyway.
    write_faults(target_dir, {"fail": {"create_deployment": ["b"]}})
    plan = plan_for(target_dir, backend, {"a": spec(1), "b": spec(1)})
    report, _ = apply(backend, plan, debug=True)
    [failed] = report.failed
    lines = (failed.error or "").splitlines()
    assert lines[0].startswith("target 't', create_deployment for t/b: InjectedFault: ")
    assert "Traceback (most recent call last):" in lines
    assert lines[-1] == "dtp_common.InjectedFault: injected failure: create_deployment b"
    assert [r.error for r in report.results if r.ok] == [None]


def test_each_action_start_and_finish_is_logged_at_debug(
    tmp_path: Path, target_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    write_faults(target_dir, {"fail": {"create_deployment": ["b"]}})
    plan = plan_for(target_dir, backend, {"a": spec(1), "b": spec(1)})
    with caplog.at_level(logging.DEBUG, logger="deployctl.executor"):
        apply(backend, plan)
    messages = [r.getMessage() for r in caplog.records if r.name == "deployctl.executor.executor"]
    assert messages[0] == "applying 2 change(s), 4 at a time"
    assert messages[-1].startswith("apply finished in ")
    assert messages[-1].endswith(": 1 ok, 1 failed")
    for address in ("t/a", "t/b"):
        assert f"{address}: create started" in messages
    assert "t/a: recorded in state" in messages
    assert any(m.startswith("t/a: create done in ") for m in messages)
    failed = [m for m in messages if m.startswith("t/b: create failed in ")]
    assert len(failed) == 1 and failed[0].endswith(
        "InjectedFault: injected failure: create_deployment b"
    )


# -- config on delete --


def deletes(target_dir: Path) -> list[dict[str, Any]]:
    return [c for c in read_calls(target_dir) if c["method"] == "delete_deployment"]


def test_a_delete_hands_the_plugin_the_last_applied_config(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    kept = DeploymentSpec("models:/m/1", None, {"archive": True, "region_name": "eu-west-1"})
    apply(backend, plan_for(target_dir, backend, {"a": kept}, "mlflowtest"))
    report, _ = apply(backend, plan_for(target_dir, backend, {}, "mlflowtest"))
    assert report.ok, report.failed
    (delete,) = deletes(target_dir)
    assert delete["kwargs"]["config"] == {"archive": True, "region_name": "eu-west-1"}


def test_a_replace_deletes_with_the_config_of_the_deployment_it_replaces(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1, workers=1)}, "mlflowtest"))
    desired = DesiredDeployment(
        "t", "a", spec(1, workers=2), lifecycle=Lifecycle(replace_on=("config.workers",))
    )
    adapter = load_target(uri(target_dir, "mlflowtest"), key="t")
    live = refresh({"t": adapter}, {"t": {"a"}})
    plan = make_plan(
        "dev", [DesiredTarget(desired, uri(target_dir, "mlflowtest"))], backend.read(), live
    )
    assert [c.action for c in plan.actionable()] == [Action.REPLACE]
    report, _ = apply(backend, plan)
    assert report.ok, report.failed
    (delete,) = deletes(target_dir)
    assert delete["kwargs"]["config"] == {"workers": 1}


def test_a_delete_leaves_out_config_keys_whose_secret_this_run_cannot_read(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    secret = DeploymentSpec("models:/m/1", None, {"archive": True, "token": "s3cret"})
    apply(backend, plan_for(target_dir, backend, {"a": secret}, "mlflowtest"))
    # The state keeps a marker in place of a sensitive value.
    text = (tmp_path / "state.json").read_text()
    marker = '{"$sensitive": "hmac-sha256:' + "0" * 64 + '"}'
    (tmp_path / "state.json").write_text(text.replace('"s3cret"', marker))
    report, _ = apply(backend, plan_for(target_dir, backend, {}, "mlflowtest"))
    assert report.ok, report.failed
    (delete,) = deletes(target_dir)
    assert delete["kwargs"]["config"] == {"archive": True}


def test_a_delete_without_a_config_parameter_is_called_without_one(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    apply(backend, plan_for(target_dir, backend, {"a": spec(1)}))  # the seed: delete(name)
    report, _ = apply(backend, plan_for(target_dir, backend, {}))
    assert report.ok, report.failed
    (delete,) = deletes(target_dir)
    assert delete["args"] == ["a"] and delete["kwargs"] == {}
