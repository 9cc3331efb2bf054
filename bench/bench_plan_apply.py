"""Benchmark: plan, apply and re-plan N deployments on the built-in local target.

Runs the real console script (as CI would) on a generated manifest in a temporary directory and
prints wall time and peak memory (max RSS of the child) per step:

    python bench/bench_plan_apply.py --deployments 10000 --parallelism 8
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def manifest(count: int) -> str:
    lines = [
        "version: 1",
        "environment: bench",
        "targets:",
        "  local:",
        "    uri: local:.deployctl/bench",
        "    defaults:",
        "      flavor: python_function",
        "      config: {workers: 1, memory_mb: 512}",
        "    deployments:",
    ]
    for i in range(count):
        lines.append(f"      model-{i:05d}:")
        lines.append(f"        model_uri: models:/model-{i:05d}/{1 + i % 7}")
    return "\n".join(lines) + "\n"


def step(name: str, args: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> None:
    script = shutil.which("deployctl", path=str(Path(sys.executable).parent)) or "deployctl"
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([script, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak memory
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            err.seek(0)
            sys.exit(f"{name} failed ({code}):\n{err.read().decode()[-2000:]}")
    print(f"{name:<24} {elapsed:8.2f} s   peak RSS {usage.ru_maxrss / 1024:6.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--parallelism", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deployctl-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "bench.yaml").write_text(manifest(args.deployments))
        par = ["--parallelism", str(args.parallelism)]
        print(f"{args.deployments} deployments, parallelism {args.parallelism}")
        step("validate", ["validate", "-f", "bench.yaml"], cwd)
        step("plan (all creates)", ["plan", "-f", "bench.yaml", "--json", *par], cwd)
        step("apply (all creates)", ["apply", "-f", "bench.yaml", "--auto-approve", *par], cwd)
        step("re-plan (no changes)", ["plan", "-f", "bench.yaml", "--detailed-exitcode", *par], cwd)
        state = cwd / "state" / "bench.json"
        print(f"state file: {state.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
