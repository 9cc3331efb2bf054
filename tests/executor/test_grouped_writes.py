"""Quick changes share their state writes: intents written ahead together, results made durable
together, and neither guarantee weakened.

A worker takes a few quick changes at once, writes their intents with one journal sync, and
makes their results durable with one more before it reports them. These tests run the executor
on the real ``local`` target and a real local state (the journal's fdatasync instrumented), and
a killed apply (SIGKILL) in a child process with the seed test plugin.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support import (
    JournalSyncs,
    deployments,
    manifest,
    run_cli,
    run_process,
    write_manifest,
)

from deployctl import atomic
from deployctl.executor import Executor, StopRequests
from deployctl.executor.console import CaptureConsole
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.planner import DesiredTarget, Plan, ResourceChange, make_plan
from deployctl.state import journal as journal_module
from deployctl.state.journal import JournalWriter
from deployctl.state.local import LocalStateBackend
from deployctl.state.local_session import LocalStateSession
from deployctl.targets.loading import load_target
from deployctl.targets.pool import TargetPool
from deployctl.targets.refresh import refresh

SPEC = DeploymentSpec("models:/m/1", "python_function", {"workers": 1})


def plan_for(uri: str, names: list[str]) -> Plan:
    desired = [DesiredTarget(DesiredDeployment("t", n, SPEC), uri) for n in names]
    live = refresh({"t": load_target(uri, key="t")}, {"t": set(names)})
    return make_plan("dev", desired, LocalStateBackend(Path("/nonexistent/x.json")).read(), live)


def apply_creates(
    tmp_path: Path, names: list[str], *, parallelism: int, console: CaptureConsole | None = None
) -> tuple[LocalStateBackend, ApplyReport]:
    """Create ``names`` on a local target in ``tmp_path``, recorded in a new local state there."""
    backend = LocalStateBackend(tmp_path / "state.json")
    with backend.lock(operation="apply") as session:
        plan = plan_for(f"local:{tmp_path / 'target'}", names)
        executor = Executor(
            TargetPool().get, session, console or CaptureConsole(), parallelism=parallelism
        )
        report = executor.execute(plan)
    return backend, report


def test_quick_creates_share_journal_syncs_and_leave_no_intent_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = JournalSyncs(monkeypatch)
    names = [f"d{i:03d}" for i in range(200)]
    backend, report = apply_creates(tmp_path, names, parallelism=1)
    assert report.ok
    # One sync per intent and one per record would be 400; batches share them.
    assert len(syncs.sizes) < len(names)
    state = backend.read()
    assert sorted(state.records) == [f"t/{n}" for n in names] and state.intents == {}


class DurableFirstConsole(CaptureConsole):
    """Checks, as each result is reported, that its record line is on disk already."""

    def __init__(self, journal: Path, syncs: JournalSyncs) -> None:
        super().__init__()
        self.journal, self.syncs = journal, syncs
        self.early: list[str] = []

    def action_finished(self, result: ActionResult) -> None:
        durable = self.syncs.durable(self.journal).split(b"\n")[1:-1]  # whole lines only
        entries = [json.loads(line) for line in durable]
        recorded = {e["record"]["address"] for e in entries if e["op"] == "record"}
        if result.address not in recorded:
            self.early.append(result.address)
        super().action_finished(result)


def test_no_result_is_reported_before_its_record_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = JournalSyncs(monkeypatch)
    names = [f"d{i:03d}" for i in range(120)]
    console = DurableFirstConsole(LocalStateBackend(tmp_path / "state.json").journal_path, syncs)
    _, report = apply_creates(tmp_path, names, parallelism=4, console=console)
    assert report.ok
    assert len(console.events) >= len(names) and console.early == []


def test_a_batch_on_the_local_target_syncs_its_directory_once_before_recording_its_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []  # in order: ("named", name), ("dir synced", directory),
    lock = threading.Lock()  # ("journal", record address)
    real_link, real_fsync_dir, real_append = os.link, atomic.fsync_dir, JournalWriter.append

    def link(src: str, dst: str, **kwargs: Any) -> None:
        real_link(src, dst, **kwargs)
        with lock:
            events.append(("named", Path(dst).stem))

    def fsync_dir(directory: Path) -> None:
        with lock:
            started = len(events)
        real_fsync_dir(directory)
        with lock:
            events.insert(started, ("dir synced", os.fspath(directory)))  # where it started

    def append(self: JournalWriter, line: bytes, count: int = 1) -> int:
        with lock:
            for text in line.splitlines():
                entry = json.loads(text)
                if entry["op"] == "record":
                    events.append(("journal", entry["record"]["name"]))
        return real_append(self, line, count)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(atomic, "fsync_dir", fsync_dir)
    monkeypatch.setattr(JournalWriter, "append", append)
    names = [f"d{i:03d}" for i in range(120)]
    _, report = apply_creates(tmp_path, names, parallelism=2)
    assert report.ok
    records = os.fspath(tmp_path / "target" / "deployments")
    syncs = [i for i, (what, path) in enumerate(events) if what == "dir synced" and path == records]
    assert len(syncs) < len(names) / 2  # one per batch, not one per create
    for name in names:
        named = events.index(("named", name))
        journaled = events.index(("journal", name))
        # The record's name was made durable (a directory fsync started after it) before its
        # result reached the journal.
        assert any(named < sync < journaled for sync in syncs), name


def test_with_a_state_that_records_outcomes_at_once_each_local_change_is_synced_on_return(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync_dir = atomic.fsync_dir

    def fsync_dir(directory: Path) -> None:
        real_fsync_dir(directory)
        synced.append(os.fspath(directory))

    monkeypatch.setattr(atomic, "fsync_dir", fsync_dir)
    # As a state backend whose outcomes are durable when each returns (PostgreSQL, S3).
    monkeypatch.setattr(LocalStateSession, "holds_grouped_outcomes", False)
    names = [f"d{i:03d}" for i in range(40)]
    _, report = apply_creates(tmp_path, names, parallelism=1)
    assert report.ok
    records = os.fspath(tmp_path / "target" / "deployments")
    assert synced.count(records) == len(names)  # no change waited for the end of its batch


def test_results_whose_records_cannot_be_made_durable_fail_as_unrecorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"d{i:03d}" for i in range(60)]
    backend = LocalStateBackend(tmp_path / "state.json")
    real = journal_module._datasync
    calls: list[int] = []

    def failing_later(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", failing_later)
    console = CaptureConsole()
    with backend.lock(operation="apply") as session:
        plan = plan_for(f"local:{tmp_path / 'target'}", names)
        report = Executor(TargetPool().get, session, console, parallelism=1).execute(plan)
    assert not report.ok and report.unrecorded
    created = {p.stem for p in (tmp_path / "target" / "deployments").glob("*.json")}
    ok = {r.address for r in report.results if r.ok}
    # Every change made on the target is either reported done (and durable) or unrecorded.
    assert {f"t/{n}" for n in created} == ok | set(report.unrecorded)
    for result in report.results:
        if result.address in report.unrecorded:
            assert not result.ok
            assert "recording it in state failed" in (result.error or "")
    assert set(report.not_started) | {r.address for r in report.results} == {
        f"t/{n}" for n in names
    }


class StopAt(CaptureConsole):
    """Requests a stop as the ``at``-th change starts."""

    def __init__(self, stop: StopRequests, at: int) -> None:
        super().__init__()
        self.stop, self.at, self.started = stop, at, 0

    def action_started(self, change: ResourceChange) -> None:
        self.started += 1
        if self.started == self.at:
            self.stop.request()
        super().action_started(change)


@pytest.fixture
def ahead(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch of intents written ahead (``LocalStateSession.intend_all``)."""
    sizes: list[int] = []
    real = LocalStateSession.intend_all

    def counted(self: LocalStateSession, intents: list[object]) -> None:
        sizes.append(len(intents))
        real(self, intents)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStateSession, "intend_all", counted)
    return sizes


def test_changes_taken_but_not_started_after_a_stop_keep_no_intent_open(
    tmp_path: Path, ahead: list[int]
) -> None:
    names = [f"d{i:03d}" for i in range(100)]
    backend = LocalStateBackend(tmp_path / "state.json")
    stop = StopRequests()
    with backend.lock(operation="apply") as session:
        plan = plan_for(f"local:{tmp_path / 'target'}", names)
        console = StopAt(stop, at=20)
        executor = Executor(TargetPool().get, session, console, parallelism=1, stop=stop)
        report = executor.execute(plan)
    assert ahead and max(ahead) > 1  # intents were written ahead
    assert report.interrupted and report.not_started
    done = {r.address for r in report.results}
    assert len(done) == 20
    created = {f"t/{p.stem}" for p in (tmp_path / "target" / "deployments").glob("*.json")}
    state = backend.read()
    assert set(state.records) == done == created
    assert state.intents == {}  # the intents written ahead for changes not started are closed


def test_a_kill_9_after_intents_were_written_ahead_loses_nothing(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    count = 80
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(count)}}),
    )
    test_plugins.write_faults(target, {"exit_after": {"create_deployment": ["d40"]}})
    apply = ("apply", "-f", "dev.yaml", "--auto-approve")
    crashed = run_process(*apply, "--parallelism", "1", cwd=tmp_path)
    assert crashed.code == 137
    live = {p.stem for p in (target / "records").glob("*.json")}
    journal = (tmp_path / "state" / "dev.json.journal").read_text()
    intended = {
        json.loads(line)["intent"]["name"] for line in journal.splitlines() if '"intend"' in line
    }
    # Intents were written ahead of calls never made ...
    assert intended - live
    # ... and recovery asks the target: nothing was created for them; the rest is recorded.
    test_plugins.write_faults(target, {})
    converged = run_cli(*apply, cwd=tmp_path)
    assert converged.code == 0, converged.err
    assert "it is not on the target; nothing was created" in converged.err
    assert "recorded as managed" in converged.err  # d40, created just before the crash
    listed = run_cli("state", "list", "-e", "dev", "--json", cwd=tmp_path)
    recorded = {r["name"] for r in json.loads(listed.out)}
    assert recorded == {p.stem for p in (target / "records").glob("*.json")}
    assert len(recorded) == count
    again = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.out + again.err


def test_intents_are_not_written_ahead_of_slow_calls(
    tmp_path: Path, test_plugins: ModuleType, ahead: list[int]
) -> None:
    target = tmp_path / "target"
    test_plugins.write_faults(target, {"sleep": {"create_deployment": 0.06}})
    backend = LocalStateBackend(tmp_path / "state.json")
    with backend.lock(operation="apply") as session:
        plan = plan_for(f"seedtest:{target}", [f"d{i}" for i in range(8)])
        report = Executor(TargetPool().get, session, CaptureConsole(), parallelism=1).execute(plan)
    assert report.ok
    # Each call takes longer than the window a batch may take: one change at a time.
    assert ahead == []
