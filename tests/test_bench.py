"""The benchmark harness (``python -m bench``) in its quick mode: every figure is measured.

Speed is never asserted here (it lives in the benchmark's own report); these tests check that the
harness runs end to end on the real console script and the real benchmark plugin, and that its
JSON holds every measurement the README's table is made of.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO

COMMANDS = (
    "validate",
    "plan_from_empty",
    "apply_creates",
    "noop_plan",
    "apply_1pct_change",
    "state_list",
    "bare_read",
)
QUICK_N = 200


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYCTL_")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_quick_run_reports_every_measurement_as_json_and_markdown(tmp_path: Path) -> None:
    # One run of the harness for every check: it takes seconds, and under pytest-xdist a
    # module-scoped fixture would run it once per worker.
    done = bench("--quick", "--dir", str(tmp_path / "work"), "--json", str(tmp_path / "b.json"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    check_measurements(results)
    check_ratios_and_goals(results, done.stdout)
    check_latency_run(results["latency"])
    check_machine(results["machine"], done.stdout)


def assert_measured(figure: Any, runs: int = 1) -> None:
    assert figure["median_s"] > 0, figure
    assert figure["peak_rss_mib"] > 1, figure
    assert len(figure["runs_s"]) == runs, figure


def check_measurements(results: dict[str, Any]) -> None:
    """Every command on both kinds of target, both floors, Terraform (or why not), start-up."""
    assert results["settings"]["sizes"] == [QUICK_N]
    figures = results["sizes"][str(QUICK_N)]
    for kind in ("local", "benchtarget"):
        assert sorted(figures[kind]) == sorted(COMMANDS)
        for name in COMMANDS:
            assert_measured(figures[kind][name])
    assert_measured(figures["write_floor"])
    terraform = figures["terraform_noop_plan"]
    if terraform != "not installed":
        assert_measured(terraform)
    for key in ("python_pass", "deployctl_version", "deployctl_help"):
        assert_measured(results["startup"][key])


def check_ratios_and_goals(results: dict[str, Any], report: str) -> None:
    """The ratios come from the figures; goals for sizes not measured are not judged."""
    ratios = results["ratios"]["by_size"][str(QUICK_N)]
    figures = results["sizes"][str(QUICK_N)]
    local = figures["local"]
    assert ratios["noop_plan_vs_bare_read"]["local"] == round(
        local["noop_plan"]["median_s"] / local["bare_read"]["median_s"], 2
    )
    assert ratios["apply_vs_write_floor"] == round(
        local["apply_creates"]["median_s"] / figures["write_floor"]["median_s"], 2
    )
    assert results["ratios"]["linearity"] is None  # one size
    goals = {goal["goal"].split(" (")[0]: goal for goal in results["goals"]}
    assert len(goals) == 7
    # Goals stated for 5,000 and 10,000 deployments are not judged on 200.
    assert goals["no-op plan <= 1.5x the bare read"]["met"] is None
    assert "not measured" in goals["no-op plan <= 1.5x the bare read"]["measured"]
    assert goals["no-op plan peak memory <= 200 MiB at 10,000"]["met"] is None
    startup = goals["deployctl --version and --help <= 1.5x python -c pass + 100 ms"]
    assert startup["met"] in (True, False)
    for goal in results["goals"]:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[goal["met"]]
        assert f"- {verdict}: {goal['goal']} -- {goal['measured']}" in report
    assert "| no-op plan / bare read (local) |" in report


def check_latency_run(latency: dict[str, Any]) -> None:
    """The plugin counted the calls that the latency-bound run is compared with."""
    count = latency["deployments"]
    assert latency["latency_s"] == 0.01
    applied = latency["apply_creates"]
    assert applied["calls"]["create_deployment"] == count
    assert applied["calls"]["list_deployments"] >= 20  # one list per target at least
    # What the calls cost at best: the refresh's calls plus one per create, 16 at a time.
    assert applied["needed_calls"] >= count + 20
    assert applied["ideal_extra_s"] >= (count + 20) / 16 * 0.01
    planned = latency["noop_plan"]
    assert "create_deployment" not in planned["calls"]
    assert planned["needed_calls"] == sum(planned["calls"].values())
    for name in ("apply_creates", "noop_plan"):
        assert_measured(latency[name]["zero_latency"])
        assert_measured(latency[name]["with_latency"])


def check_machine(machine: dict[str, Any], report: str) -> None:
    """The machine and the deployctl that was measured."""
    assert machine["cores"] >= 1 and machine["ram_gib"] > 0
    assert machine["python"].endswith(platform.python_version())
    assert machine["deployctl"]["path"].endswith("deployctl")
    assert machine["deployctl"]["commit"]
    assert machine["cpu"] in report


def test_a_size_that_is_not_a_number_is_refused_with_the_fix() -> None:
    done = bench("--sizes", "5q", timeout=30)
    assert done.returncode == 2
    assert "'5q' is not a size: write sizes such as 1k,5k,10k or 200" in done.stderr


def test_benchmark_plugin_reads_its_latency_and_refuses_a_bad_one() -> None:
    sys.path.insert(0, str(Path(REPO) / "bench" / "plugin" / "src"))
    try:
        import deployctl_bench_target as plugin
    finally:
        sys.path.pop(0)
    assert plugin.parse_uri("benchtarget:/d?latency=20ms").latency == 0.02
    assert plugin.parse_uri("benchtarget:/d?latency=1.5s&log_calls=1").log_calls
    assert plugin.parse_uri("benchtarget:/d").latency == 0.0
    with pytest.raises(plugin.BenchTargetError, match=r"write e\.g\. latency=20ms"):
        plugin.parse_uri("benchtarget:/d?latency=20")
    with pytest.raises(plugin.BenchTargetError, match="unknown option 'speed'"):
        plugin.parse_uri("benchtarget:/d?speed=1")
