"""Intents: recorded before every call, resolved from what the target shows, and what happens when
the state cannot be written or a stop is requested mid-apply.

The resolution rule is a pure function, tested row by row; the executor runs against the seed
test plugin and a real state file, through a thin session wrapper where a write must fail.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from deployctl.errors import StateError
from deployctl.executor import Executor, StopRequests
from deployctl.executor.console import CaptureConsole
from deployctl.executor.intents import CLOSED, FORGOTTEN, RECORDED, resolve, shows
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.intent import Intent
from deployctl.model.live import LiveRecord, LiveStatus
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import DesiredTarget, Plan, make_plan
from deployctl.state.local import LocalStateBackend
from deployctl.state.protocol import StateSession
from deployctl.targets.loading import load_target
from deployctl.targets.pool import TargetPool
from deployctl.targets.refresh import refresh

OLD = DeploymentSpec("models:/m/1", "python_function", {"workers": 1})
NEW = DeploymentSpec("models:/m/2", "python_function", {"workers": 1})


def make_intent(action: str, desired: DeploymentSpec | None = NEW) -> Intent:
    return Intent(
        target="t",
        name="a",
        target_uri="seedtest:/x",
        action=action,
        desired=None if action == "delete" else desired,
        before=None if action == "create" else OLD,
        started_at="2025-01-31T12:00:00.000000Z",
    )


def record(spec: DeploymentSpec = OLD) -> StateRecord:
    return StateRecord("t", "a", "seedtest:/x", spec, None, "2025-01-30T12:00:00.000000Z")


def live(spec: DeploymentSpec | None, **reported: Any) -> LiveStatus:
    if spec is None:
        return LiveStatus("t", "a", exists=False, reason="not found")
    fields = {"model_uri": spec.model_uri, "flavor": spec.flavor, "config": spec.config}
    fields.update(reported)
    return LiveStatus("t", "a", exists=True, record=LiveRecord(name="a", raw={}, **fields))


# -- the resolution table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "state", "target", "outcome", "applied"),
    [
        ("create", None, NEW, RECORDED, NEW),
        ("create", None, None, CLOSED, None),
        ("create", record(), NEW, RECORDED, NEW),  # re-created after it vanished
        ("update", record(), NEW, RECORDED, NEW),
        ("update", record(), OLD, CLOSED, OLD),
        ("update", record(), None, CLOSED, OLD),
        ("replace", record(), NEW, RECORDED, NEW),
        ("replace", record(), None, CLOSED, OLD),
        ("delete", record(), OLD, CLOSED, OLD),
        ("delete", record(), None, FORGOTTEN, None),
    ],
)
def test_an_open_intent_is_resolved_from_what_the_target_shows(
    action: str,
    state: StateRecord | None,
    target: DeploymentSpec | None,
    outcome: str,
    applied: DeploymentSpec | None,
) -> None:
    resolution = resolve(make_intent(action), state, live(target))
    assert resolution.outcome == outcome
    document = StateDocument("l", 1, "dev", {"t/a": state} if state else {})
    document = resolution.apply_to(document)
    after = document.get("t/a")
    assert (after.applied if after else None) == applied
    assert document.intents == {}


def test_an_update_counts_as_done_only_when_the_target_reports_every_changed_field() -> None:
    new = DeploymentSpec("models:/m/2", "python_function", {"workers": 3})
    assert shows(new, OLD, live(new).record)
    # The target does not report config, which the update changed: unknown, so not done.
    assert not shows(new, OLD, live(new, config=None).record)
    # It reports another model than the update sent: not done.
    assert not shows(new, OLD, live(OLD).record)
    # A record that reports nothing shows nothing.
    assert not shows(new, OLD, live(new, model_uri=None, flavor=None, config=None).record)


def test_fields_the_update_leaves_alone_may_report_the_targets_own_values() -> None:
    # Found by the soak (seed 1, cycle 16): the manifest sets no flavor, the target reports its
    # default; an update that only changed config did take effect.
    before = DeploymentSpec("models:/m/1", None, {"workers": 2, "batch": 8})
    after = DeploymentSpec("models:/m/1", None, {"batch": 8})
    reported = live(DeploymentSpec("models:/m/1", "python_function", {"batch": 8})).record
    assert shows(after, before, reported)
    still_old = live(DeploymentSpec("models:/m/1", "python_function", before.config)).record
    assert not shows(after, before, still_old)


def test_a_created_deployment_is_recorded_with_the_intent_spec_and_the_live_record() -> None:
    resolution = resolve(make_intent("create"), None, live(NEW))
    assert resolution.record is not None
    assert resolution.record.applied == NEW
    assert resolution.record.live is not None and resolution.record.live.model_uri == NEW.model_uri
    assert "recorded as managed" in resolution.message(recorded=True)
    assert "plan changes nothing" in resolution.message(recorded=False)


# -- the executor --------------------------------------------------------------------------------


@pytest.fixture
def target_dir(tmp_path: Path, test_plugins: ModuleType) -> Path:
    return tmp_path / "target"


def plan_for(target_dir: Path, state: StateDocument, names: list[str]) -> Plan:
    uri = f"seedtest:{target_dir}"
    desired = [DesiredTarget(DesiredDeployment("t", n, NEW), uri) for n in names]
    adapter = load_target(uri, key="t")
    live_view = refresh(
        {"t": adapter}, {"t": set(names) | {r.name for r in state.records.values()}}
    )
    return make_plan("dev", desired, state, live_view)


class FailingSession:
    """A real locked session whose writes start failing at a given kind of call (a full disk, a
    lost lock), and which checks the target before each write: an intent must come before its
    call, a record after it."""

    def __init__(
        self, session: StateSession, target_dir: Path, *, fail: str, after: int = 0
    ) -> None:
        self._session = session
        self._target_dir = target_dir
        self._fail = fail
        self._left = after
        self.intended: list[str] = []

    @property
    def document(self) -> StateDocument:
        return self._session.document

    def _maybe_fail(self, kind: str) -> None:
        if kind == self._fail:
            if self._left <= 0:
                raise StateError("cannot write the state journal: No space left on device")
            self._left -= 1

    def intend(self, intent: Intent) -> None:
        created = (self._target_dir / "records" / f"{intent.name}.json").exists()
        assert not created, f"{intent.address} was created before its intent was recorded"
        self._maybe_fail("intend")
        self._session.intend(intent)
        self.intended.append(intent.address)

    def record(self, record: StateRecord) -> None:
        assert record.address in self.intended
        self._maybe_fail("record")
        self._session.record(record)

    def forget(self, address: str) -> None:
        self._session.forget(address)

    def resolve(self, address: str) -> None:
        self._session.resolve(address)


def created(target_dir: Path) -> list[str]:
    from dtp_common import read_calls

    return sorted(
        c["name"]
        for c in read_calls(target_dir)
        if c["method"] == "create_deployment" and c["outcome"] == "ok"
    )


def test_every_call_is_preceded_by_its_intent_and_followed_by_its_record(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    with backend.lock(operation="apply") as inner:
        session = FailingSession(inner, target_dir, fail="nothing")
        plan = plan_for(target_dir, inner.document, ["a", "b", "c"])
        report = Executor(TargetPool().get, session, CaptureConsole()).execute(plan)  # type: ignore[arg-type]
    assert report.ok
    assert sorted(session.intended) == ["t/a", "t/b", "t/c"]
    state = backend.read()
    assert sorted(state.records) == ["t/a", "t/b", "t/c"] and state.intents == {}


def test_a_state_that_cannot_be_written_at_the_first_intent_makes_no_change(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    console = CaptureConsole()
    with backend.lock(operation="apply") as inner:
        session = FailingSession(inner, target_dir, fail="intend")
        plan = plan_for(target_dir, inner.document, ["a", "b", "c", "d"])
        report = Executor(TargetPool().get, session, console, parallelism=2).execute(plan)  # type: ignore[arg-type]
    assert created(target_dir) == []
    assert not report.ok and report.unrecorded == ()
    # The changes that tried are failed ("not started"), the others were never started.
    assert all("not started" in (r.error or "") for r in report.results)
    assert len(report.results) + len(report.not_started) == 4
    warnings = [m for kind, m in console.events if kind == "warning"]
    assert any("the state cannot be written" in str(m) for m in warnings)


def test_a_result_that_cannot_be_recorded_stops_the_apply_and_is_named(
    tmp_path: Path, target_dir: Path
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    console = CaptureConsole()
    names = ["a", "b", "c", "d", "e"]
    with backend.lock(operation="apply") as inner:
        session = FailingSession(inner, target_dir, fail="record", after=1)
        plan = plan_for(target_dir, inner.document, names)
        report = Executor(TargetPool().get, session, console, parallelism=1).execute(plan)  # type: ignore[arg-type]
    # a was recorded; b was created but could not be recorded; nothing more was started.
    assert created(target_dir) == ["a", "b"]
    assert report.unrecorded == ("t/b",)
    assert report.not_started == ("t/c", "t/d", "t/e")
    [failed] = report.failed
    assert failed.address == "t/b"
    assert "applied on the target, but recording it in state failed" in (failed.error or "")
    warnings = " ".join(str(m) for kind, m in console.events if kind == "warning")
    assert "changed on their targets but their results are not recorded in state: t/b" in warnings
    # b's intent was durable: the next plan finds it and records b as managed (no import).
    state = backend.read()
    assert sorted(state.records) == ["t/a"] and list(state.intents) == ["t/b"]


def test_a_stop_request_starts_nothing_new_and_records_what_was_running(
    tmp_path: Path, target_dir: Path
) -> None:
    from dtp_common import write_faults

    write_faults(target_dir, {"sleep": {"create_deployment": 0.4}})
    backend = LocalStateBackend(tmp_path / "state.json")
    stop = StopRequests()
    names = [f"d{i}" for i in range(6)]

    def request_once_running() -> None:
        deadline = time.monotonic() + 10
        while stop.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.request()

    with backend.lock(operation="apply") as session:
        plan = plan_for(target_dir, session.document, names)
        helper = threading.Thread(target=request_once_running)
        helper.start()
        executor = Executor(TargetPool().get, session, CaptureConsole(), parallelism=2, stop=stop)
        report = executor.execute(plan)
        helper.join()
    assert report.interrupted and not report.ok
    assert [r.address for r in report.results] == ["t/d0", "t/d1"]
    assert all(r.ok for r in report.results)
    assert report.not_started == ("t/d2", "t/d3", "t/d4", "t/d5")
    assert created(target_dir) == ["d0", "d1"]
    state = backend.read()
    assert sorted(state.records) == ["t/d0", "t/d1"] and state.intents == {}
    assert stop.in_flight == 0
