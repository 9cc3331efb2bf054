"""A large apply on the terminal: counts, progress and failures, not a line per change.

Above ``summarised.LIST_LIMIT`` (50) changes, ``deployctl apply`` shows the plan as a count per
action, a progress line per tenth of the changes finished, every failure and warning in full, and
ends with each failure as an ``Error:`` block and the summary (``--table``: the results table of
every change instead). ``--json`` still reports every change, and ``deployctl plan`` still lists
every change. Through the CLI, in-process (stderr is not a terminal: event lines start with their
time).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from support import deployments, manifest, run_cli, write_manifest

from deployctl.console import summarised
from deployctl.executor.results import ActionResult
from deployctl.planner.plan import Action

APPLY = ("apply", "-f", "dev.yaml", "--auto-approve")
LARGE = summarised.LIST_LIMIT + 10


def local_manifest(tmp_path: Path, count: int) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest(deployments(count)))


# Without a terminal each event line starts with its UTC time.
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def progress_lines(err: str) -> list[str]:
    """The progress lines of ``err``, without their times (each must have one)."""
    lines = [line for line in err.splitlines() if " changes done (" in line]
    assert all(STAMP.match(line) for line in lines), lines
    return [STAMP.sub("", line, count=1) for line in lines]


def test_a_large_apply_shows_counts_progress_and_the_summary_not_a_line_per_change(
    tmp_path: Path,
) -> None:
    local_manifest(tmp_path, LARGE)
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert applied.out.splitlines() == [
        "deployctl will perform the following actions in environment dev:",
        "",
        f"  + create  {LARGE}",
        f"  ({LARGE} changes, more than {summarised.LIST_LIMIT}: not listed one by one; "
        "'deployctl plan' lists them)",
        "",
        f"Plan: {LARGE} to create, 0 to update, 0 to delete, 0 unchanged.",
        f"Apply complete! {LARGE} created, 0 updated, 0 deleted, 0 failed (environment dev).",
    ]
    assert "local/d0" not in applied.err
    lines = progress_lines(applied.err)
    assert [re.sub(r", [0-9.]+s$", "", line) for line in lines] == [
        f"{LARGE * step // 10} of {LARGE} changes done ({step * 10}%), 0 failed"
        for step in range(1, 11)
    ]
    assert f"Applying {LARGE} change(s)..." in applied.err
    # Nothing was skipped: every deployment is on the target and in state.
    listed = run_cli("state", "list", "-e", "dev", "--json", cwd=tmp_path)
    assert len(json.loads(listed.out)) == LARGE


def test_a_large_apply_shows_each_failure_in_full(tmp_path: Path, test_plugins: ModuleType) -> None:
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(LARGE)}}),
    )
    test_plugins.write_faults(target, {"fail": {"create_deployment": ["d7", "d42"]}})
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 1
    assert " t/d7: create failed (" in applied.err
    assert " t/d42: create failed (" in applied.err
    assert "t/d1: create" not in applied.err and "started" not in applied.err
    assert progress_lines(applied.err)[-1].startswith(
        f"{LARGE} of {LARGE} changes done (100%), 2 failed"
    )
    # No table: each failure in full, then the summary.
    assert "│" not in applied.out
    lines = applied.out.splitlines()
    blocks = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    assert [lines[i].split(" failed")[0] for i in blocks] == [
        "Error: t/d42: create",
        "Error: t/d7: create",
    ]
    assert lines[blocks[1] + 1].startswith("  target 't', create_deployment for t/d7: ")
    assert lines[blocks[1] + 1].endswith("injected failure: create_deployment d7")
    assert lines[-1] == (
        f"Apply failed! {LARGE - 2} created, 0 updated, 0 deleted, 2 failed (environment dev)."
    )


def test_table_shows_every_result_of_a_large_apply(tmp_path: Path) -> None:
    local_manifest(tmp_path, LARGE)
    applied = run_cli(*APPLY, "--table", cwd=tmp_path)
    assert applied.code == 0, applied.err
    rows = [line for line in applied.out.splitlines() if line.startswith("│ local/d")]
    assert len(rows) == LARGE
    assert "Error:" not in applied.out


def test_json_events_of_a_large_apply_report_every_change(tmp_path: Path) -> None:
    local_manifest(tmp_path, LARGE)
    applied = run_cli(*APPLY, "--json", cwd=tmp_path)
    assert applied.code == 0, applied.err
    events = [json.loads(line) for line in applied.out.splitlines()]
    types = [e["type"] for e in events]
    assert types.count("planned_change") == LARGE
    assert types.count("apply_start") == LARGE
    assert types.count("apply_complete") == LARGE
    assert types[-1] == "change_summary" and events[-1]["create"] == LARGE
    assert not any("changes done" in e["@message"] for e in events)


@pytest.mark.parametrize(
    ("count", "listed"), [(summarised.LIST_LIMIT, True), (summarised.LIST_LIMIT + 1, False)]
)
def test_up_to_the_limit_each_change_is_listed_and_above_it_they_are_counted(
    tmp_path: Path, count: int, listed: bool
) -> None:
    local_manifest(tmp_path, count)
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert ("+ create local/d0" in applied.out) is listed
    assert (" local/d0: create done (" in applied.err) is listed
    assert ("│ local/d0" in applied.out) is listed
    assert bool(progress_lines(applied.err)) is not listed


def test_plan_lists_every_change_however_many(tmp_path: Path) -> None:
    local_manifest(tmp_path, LARGE)
    planned = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert planned.code == 0, planned.err
    assert sum(1 for line in planned.out.splitlines() if "+ create local/d" in line) == LARGE


def test_progress_has_one_line_per_tenth_whatever_the_total() -> None:
    for total in (51, 55, 99, 1000, 10_007):
        progress = summarised.Progress(total)
        ok = ActionResult("t/d", Action.CREATE, True, 0.0)
        shown = [progress.finished(ok) for _ in range(total)]
        lines = [line.plain.strip() for line in shown if line is not None]
        assert len(lines) == 10, total
        assert lines[-1].startswith(f"{total} of {total} changes done (100%), 0 failed")
        first = -(-total // 10)  # the first count that is a tenth or more
        assert lines[0].startswith(f"{first} of {total} changes done ({first * 100 // total}%)")
