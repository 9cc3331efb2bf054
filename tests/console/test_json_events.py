"""JsonEventConsole: one whole JSON object per line, from many threads, and never a raise."""

from __future__ import annotations

import io
import json
import threading
import time

from deployctl.console.json_events import JsonEventConsole
from deployctl.executor.console import Console
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.model import DeploymentSpec
from deployctl.planner.plan import (
    Action,
    ActionReason,
    FieldChange,
    Plan,
    ResourceChange,
    UnmanagedDeployment,
)

REQUIRED = {
    "diagnostic": {"severity", "message"},
    "planned_change": {"address", "action", "reason", "action_reason", "state_only", "diff"},
    "plan_summary": {"create", "update", "delete", "unchanged", "unmanaged", "destroy"},
    "apply_start": {"address", "action", "timestamp"},
    "apply_complete": {"address", "action", "elapsed_seconds", "note"},
    "apply_errored": {"address", "action", "elapsed_seconds", "error"},
    "change_summary": {"create", "update", "delete", "failed", "elapsed_seconds", "interrupted"},
}


class SlowStream(io.StringIO):
    """Writes a few characters at a time, yielding in between, and counts flushes."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def write(self, text: str) -> int:
        for i in range(0, len(text), 16):
            super().write(text[i : i + 16])
            time.sleep(0)
        return len(text)

    def flush(self) -> None:
        self.flushes += 1


class BrokenStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def write(self, text: str) -> int:
        self.attempts += 1
        raise BrokenPipeError(32, "Broken pipe")


def events(text: str) -> list[dict[str, object]]:
    lines = text.splitlines()
    assert text.endswith("\n")
    parsed = [json.loads(line) for line in lines]
    for event in parsed:
        assert isinstance(event, dict)
        assert {"@level", "@message", "type"} <= set(event)
        assert REQUIRED[str(event["type"])] <= set(event), event
    return parsed


def change(name: str, action: Action = Action.CREATE) -> ResourceChange:
    return ResourceChange(
        target="t",
        name=name,
        target_uri="local:/x",
        action=action,
        reason="not yet on the target",
        action_reason=ActionReason.from_text(action, "not yet on the target"),
        after=DeploymentSpec("m:/1"),
        diff=(FieldChange("model_uri", None, "m:/1", "added"),),
    )


def test_it_satisfies_the_console_protocol() -> None:
    console: Console = JsonEventConsole(io.StringIO())
    console.warning("typed")


def test_lines_from_many_threads_stay_whole_and_each_is_flushed() -> None:
    stream = SlowStream()
    console = JsonEventConsole(stream)
    per_thread = 50

    def work(i: int) -> None:
        for j in range(per_thread):
            item = change(f"d{i}-{j}")
            console.action_started(item)
            console.action_finished(ActionResult(item.address, Action.CREATE, True, 0.01))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parsed = events(stream.getvalue())
    assert len(parsed) == 8 * per_thread * 2
    assert stream.flushes == len(parsed)
    starts = [str(e["address"]) for e in parsed if e["type"] == "apply_start"]
    completes = [str(e["address"]) for e in parsed if e["type"] == "apply_complete"]
    assert sorted(starts) == sorted(completes)
    assert len(set(starts)) == 8 * per_thread


def test_a_broken_pipe_never_raises_and_stops_output() -> None:
    stream = BrokenStream()
    console = JsonEventConsole(stream)
    console.action_started(change("a"))
    console.action_finished(ActionResult("t/a", Action.CREATE, False, 0.1, error="x"))
    console.apply_finished(ApplyReport((), 0.0))
    assert stream.attempts == 1


def test_plan_events_and_summary() -> None:
    out = io.StringIO()
    plan = Plan(
        environment="dev",
        changes=(
            change("a"),
            ResourceChange(
                "t",
                "b",
                "local:/x",
                Action.NOOP,
                "up to date",
                ActionReason.NO_OP_BECAUSE_UP_TO_DATE,
            ),
            ResourceChange(
                "t",
                "c",
                "local:/x",
                Action.DELETE,
                "gone",
                ActionReason.DELETE_BECAUSE_GONE,
                state_only=True,
                diff=(),
            ),
        ),
        unmanaged=(UnmanagedDeployment("t", "stray"),),
    )
    JsonEventConsole(out).show_plan(plan)
    parsed = events(out.getvalue())
    assert [(e["type"], e.get("address")) for e in parsed] == [
        ("planned_change", "t/a"),
        ("planned_change", "t/c"),
        ("plan_summary", None),
    ]
    assert parsed[0]["diff"] == [
        {"path": "model_uri", "before": None, "after": "m:/1", "kind": "added"}
    ]
    assert parsed[1]["state_only"] is True
    summary = parsed[2]
    assert (summary["create"], summary["update"], summary["delete"]) == (1, 0, 1)
    assert summary["unchanged"] == 1
    assert summary["unmanaged"] == ["t/stray"]
    assert summary["@message"] == "Plan: 1 to create, 0 to update, 1 to delete, 1 unchanged."


def test_apply_events_carry_address_action_elapsed_and_the_summary_counts() -> None:
    out = io.StringIO()
    console = JsonEventConsole(out, clock=lambda: "T")
    console.action_started(change("a"))
    ok = ActionResult("t/a", Action.CREATE, True, 1.23456, note="read back failed")
    bad = ActionResult("t/b", Action.UPDATE, False, 0.5, error="boom")
    console.action_finished(ok)
    console.action_finished(bad)
    console.apply_finished(ApplyReport((ok, bad), 2.0004))
    start, complete, errored, summary = events(out.getvalue())
    assert start == {
        "@level": "info",
        "@message": "t/a: create started",
        "type": "apply_start",
        "address": "t/a",
        "action": "create",
        "timestamp": "T",
    }
    assert complete["elapsed_seconds"] == 1.235
    assert complete["note"] == "read back failed"
    assert errored["@level"] == "error"
    assert (errored["address"], errored["action"], errored["error"]) == ("t/b", "update", "boom")
    assert summary["type"] == "change_summary"
    assert (summary["create"], summary["update"], summary["delete"], summary["failed"]) == (
        1,
        0,
        0,
        1,
    )
    assert summary["elapsed_seconds"] == 2.0
    assert summary["interrupted"] is False
    assert summary["@level"] == "error"


def test_warnings_and_progress_are_diagnostics() -> None:
    out = io.StringIO()
    console = JsonEventConsole(out)
    console.refresh_started(["a", "b"])
    console.warning("careful | now")
    console.diagnostic("error", "it broke")
    info, warn, error = events(out.getvalue())
    assert (info["@level"], info["severity"]) == ("info", "info")
    assert (warn["@level"], warn["severity"]) == ("warn", "warning")
    assert warn["message"] == "careful | now"
    assert (error["@level"], error["@message"]) == ("error", "Error: it broke")


def test_the_default_stream_is_stdout_and_lines_are_ascii(
    capsys: object,
) -> None:
    import pytest

    assert isinstance(capsys, pytest.CaptureFixture)
    JsonEventConsole().warning("ünïcode → ok")
    out = capsys.readouterr().out
    assert out.isascii()
    assert json.loads(out)["message"] == "ünïcode → ok"
