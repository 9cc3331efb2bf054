"""Progress while targets are slow, and output for logs: CI, pipes and real terminals.

Without a terminal (every ``run_cli``) or in CI, event lines start with their UTC time, nothing
is coloured or animated, and each long action gets a heartbeat line
(``DEPLOYCTL_HEARTBEAT_SECONDS`` makes them come in tenths of a second here). On a terminal the
same run shows a live display of what is in flight (a real process on a pseudo-terminal).
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from support import CLI_ENV, deployctl_script, deployments, manifest, run_cli, write_manifest

from deployctl.console import progress, terminal
from deployctl.console.rich_console import RichConsole
from deployctl.executor.console import CaptureConsole
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.manifest import load_manifest
from deployctl.model.state import StateDocument
from deployctl.operations import planning
from deployctl.operations.refresh import refresh
from deployctl.planner.plan import Action, Plan
from deployctl.targets.pool import TargetPool

APPLY = ("apply", "-f", "dev.yaml", "--auto-approve")
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
ANSI = "\x1b["


def slow_target(tmp_path: Path, test_plugins: ModuleType, sleeps: dict[str, float]) -> Path:
    """``dev.yaml`` with one deployment on a seed test target whose calls sleep ``sleeps``."""
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(1)}}),
    )
    test_plugins.write_faults(target, {"sleep": sleeps})
    return target


# -- without a terminal ---------------------------------------------------------------------------
def test_without_a_terminal_event_lines_start_with_their_utc_time(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest())
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 0, applied.err
    lines = applied.err.splitlines()
    for event in (
        "Reading 1 target(s): local",
        "Applying 1 change(s)...",
        "local/churn: create started",
    ):
        assert any(re.fullmatch(f"{STAMP} {re.escape(event)}", line) for line in lines), event
    assert any(re.fullmatch(rf"{STAMP} local/churn: create done \([0-9.]+s\)", x) for x in lines)
    assert "still" not in applied.err  # a quick action gets no heartbeat
    assert ANSI not in applied.err + applied.out
    # The plan and the summary are the product, not events: no time there.
    assert applied.out.splitlines()[0] == (
        "deployctl will perform the following actions in environment dev:"
    )
    assert applied.out.splitlines()[-1] == (
        "Apply complete! 1 created, 0 updated, 0 deleted, 0 failed (environment dev)."
    )


def test_a_long_action_gets_a_heartbeat_line_each_interval(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    slow_target(tmp_path, test_plugins, {"create_deployment": 1.0})
    applied = run_cli(*APPLY, cwd=tmp_path, env={progress.HEARTBEAT_VARIABLE: "0.3"})
    assert applied.code == 0, applied.err
    beats = [line for line in applied.err.splitlines() if "still" in line]
    # At 0.3, 0.6 and 0.9 s (the elapsed time is the heartbeat's, not the clock's).
    assert [re.sub(f"^{STAMP} ", "", line) for line in beats] == [
        "t/d0: still creating… [0.3s elapsed]",
        "t/d0: still creating… [0.6s elapsed]",
        "t/d0: still creating… [0.9s elapsed]",
    ]
    assert all(re.match(STAMP, line) for line in beats)
    started = applied.err.index("t/d0: create started")
    assert started < applied.err.index("still creating") < applied.err.index("t/d0: create done")


def test_a_slow_refresh_gets_heartbeats_too(tmp_path: Path, test_plugins: ModuleType) -> None:
    slow_target(tmp_path, test_plugins, {"list_deployments": 0.7})
    planned = run_cli(
        "plan", "-f", "dev.yaml", cwd=tmp_path, env={"DEPLOYCTL_HEARTBEAT_SECONDS": "0.3"}
    )
    assert planned.code == 0, planned.err
    beats = [re.sub(f"^{STAMP} ", "", x) for x in planned.err.splitlines() if "still" in x]
    assert beats == [
        "targets t: still reading… [0.3s elapsed]",
        "targets t: still reading… [0.6s elapsed]",
    ]


def test_no_heartbeat_is_written_after_the_apply_ends(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest())
    err = io.StringIO()
    console = RichConsole(
        stdout=io.StringIO(), stderr=err, environ={progress.HEARTBEAT_VARIABLE: "0.1"}
    )
    planned = local_plan(tmp_path)
    console.apply_started(planned)
    console.action_started(next(planned.actionable()))
    time.sleep(0.35)
    console.apply_finished(ApplyReport(results=(), elapsed=0.35))
    written = err.getvalue()
    time.sleep(0.3)
    assert err.getvalue() == written
    assert "local/churn: still creating… [0.1s elapsed]" in written


def local_plan(tmp_path: Path) -> Plan:
    """The plan of ``tmp_path/dev.yaml`` against an empty state."""
    loaded = load_manifest(str(tmp_path / "dev.yaml"))
    pool = TargetPool.for_manifest(loaded)
    return planning.plan(
        loaded, StateDocument.empty("dev"), pool, CaptureConsole(), state_path="state/dev.json"
    )


def test_the_console_hears_that_a_failed_refresh_is_over(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = slow_target(tmp_path, test_plugins, {})
    test_plugins.write_faults(target, {"fail": {"list_deployments": True}})
    loaded = load_manifest(str(tmp_path / "dev.yaml"))
    console = CaptureConsole()
    with pytest.raises(Exception, match="injected failure: list_deployments"):
        refresh(loaded, StateDocument.empty("dev"), TargetPool.for_manifest(loaded), console)
    assert console.events == [("refresh_started", ["t"]), ("refresh_finished", None)]


def test_ci_means_no_colour_and_no_animation_even_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for environ, coloured in (({}, True), ({"CI": "true"}, False), ({"CI": "false"}, True)):
        out, err = Terminal(), Terminal()
        console = RichConsole(stdout=out, stderr=err, environ=environ)
        assert console.live is coloured, environ
        console.warning("careful")
        assert (ANSI in err.getvalue()) is coloured, environ
    assert terminal.in_ci({"CI": "1"}) and not terminal.in_ci({})


# -- a large apply's ending ------------------------------------------------------------------------
def test_a_large_apply_with_failures_ends_with_error_blocks_and_the_summary(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(60)}}),
    )
    test_plugins.write_faults(target, {"fail": {"create_deployment": ["d3"]}})
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 1
    tail = applied.out.splitlines()[-7:]
    assert re.fullmatch(r"Error: t/d3: create failed after [0-9.]+s", tail[2])
    assert tail[4].startswith("  whether it took effect is unknown")  # the result's note
    assert [*tail[:2], tail[3], *tail[5:]] == [
        "Plan: 60 to create, 0 to update, 0 to delete, 0 unchanged.",
        "",
        "  target 't', create_deployment for t/d3: InjectedFault: injected failure: "
        "create_deployment d3",
        "",
        "Apply failed! 59 created, 0 updated, 0 deleted, 1 failed (environment dev).",
    ]


def test_destroy_summary_counts_deletes_and_names_the_environment(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest())
    out = io.StringIO()
    console = RichConsole(stdout=out, stderr=io.StringIO(), color=False)
    console.apply_started(replace(local_plan(tmp_path), destroy=True, environment="prod"))
    results = (ActionResult("sm/a", Action.DELETE, True, 1.0),)
    console.apply_finished(ApplyReport(results=results, elapsed=1.0, interrupted=True))
    assert out.getvalue().splitlines()[-1] == (
        "Destroy interrupted! 1 deleted, 0 failed (environment prod)."
    )


# -- what is in flight -----------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_live_display_shows_counts_elapsed_time_and_the_longest_running_first() -> None:
    clock = Clock()
    in_flight = progress.InFlight("Applying in environment prod", 5, clock=clock)
    in_flight.start("sm/churn", "updating", symbol="~")
    clock.now = 5
    for name in ("local/a", "local/b", "local/c"):
        in_flight.start(name, "creating", symbol="+")
    in_flight.finish("local/a", ok=False)
    clock.now = 65
    lines = [line.plain for line in progress.LiveStatus(in_flight, limit=2).lines()]
    assert lines == [
        "Applying in environment prod: 1 of 5 done, 1 failed, 3 in flight [1m5s elapsed]",
        "  ~ sm/churn: updating… 1m5s",
        "  + local/b: creating… 1m",
        "  … and 1 more",
    ]


def test_heartbeats_are_due_once_per_interval_of_each_action() -> None:
    clock = Clock()
    in_flight = progress.InFlight("Applying", 2, clock=clock)
    in_flight.start("sm/churn", "creating")
    clock.now = 9.9
    assert in_flight.due_heartbeats(10) == []
    clock.now = 10.0
    assert in_flight.due_heartbeats(10) == ["sm/churn: still creating… [10s elapsed]"]
    assert in_flight.due_heartbeats(10) == []
    clock.now = 125
    assert in_flight.due_heartbeats(10) == ["sm/churn: still creating… [2m elapsed]"]
    in_flight.finish("sm/churn")
    clock.now = 500
    assert in_flight.due_heartbeats(10) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "0.2s"), (1, "1s"), (59.6, "1m"), (80, "1m20s"), (3600, "1h"), (3900, "1h5m")],
)
def test_elapsed_times_are_written_as_terraform_writes_them(seconds: float, text: str) -> None:
    assert progress.duration_text(seconds) == text


def test_the_heartbeat_interval_comes_from_the_environment_else_ten_seconds() -> None:
    assert progress.heartbeat_interval({}) == 10
    assert progress.heartbeat_interval({progress.HEARTBEAT_VARIABLE: "0.5"}) == 0.5
    for wrong in ("0", "-1", "soon", "inf"):
        assert progress.heartbeat_interval({progress.HEARTBEAT_VARIABLE: wrong}) == 10


# -- on a real terminal ----------------------------------------------------------------------------
def run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the console script with a pseudo-terminal as stdout and stderr, outside CI."""
    primary, secondary = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.Popen(
        [deployctl_script(), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env={**environ, **CLI_ENV},
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed: the process exited
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    return proc.wait(timeout=60), output.decode(errors="replace")


def test_on_a_terminal_a_live_display_shows_what_is_in_flight(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    slow_target(tmp_path, test_plugins, {"create_deployment": 1.5})
    code, output = run_on_terminal(list(APPLY), tmp_path)
    assert code == 0, output
    assert "Applying in environment dev: 0 of 1 done, 0 failed, 1 in flight" in output
    assert "t/d0: creating…" in output
    assert "still creating" not in output  # the display replaces the heartbeats
    assert not re.search(STAMP, output)  # and a person needs no time stamps
    assert "Apply complete! 1 created, 0 updated, 0 deleted, 0 failed (environment dev)." in output


def test_brackets_and_colons_in_a_path_are_printed_as_written(tmp_path: Path) -> None:
    # rich would read "[abc]" as markup and ":fire:" as an emoji code; a path is neither.
    folder = tmp_path / "[abc] :fire:"
    path = write_manifest(folder / "dev.yaml", manifest())
    result = run_cli("plan", "-f", str(path), cwd=tmp_path)
    assert result.code == 0, result.err
    assert "State: [abc] :fire:/state/dev.json (the default)" in result.err
