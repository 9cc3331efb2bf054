"""Measuring one command: each run a fresh child process, its wall time and its peak memory.

The wall time runs from just before the child starts to its exit; the peak memory is the child's
own ``ru_maxrss`` from ``os.wait4`` (the harness's memory is not in it). Each run starts after
``os.sync()``, untimed: what the previous command wrote (an apply's thousands of files) is on
disk, so the kernel's writeback of it does not take this run's CPU. A command that exits
with a code it should not, or runs past the timeout, stops the benchmark with its stderr: a
figure of a failed command would be a wrong figure.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BenchError(Exception):
    """The benchmark cannot go on; the message says what failed and how to fix it."""


@dataclass(frozen=True)
class Run:
    """One run of a command: wall seconds, peak RSS in MiB, and what it printed on stdout."""

    seconds: float
    peak_rss_mib: float
    stdout: str


@dataclass(frozen=True)
class Measurement:
    """The runs of one command: the median wall time and the highest peak RSS of them."""

    runs: tuple[Run, ...]

    @property
    def seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def peak_rss_mib(self) -> float:
        return max(run.peak_rss_mib for run in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": round(self.seconds, 4),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "runs_s": [round(run.seconds, 4) for run in self.runs],
        }


@dataclass(frozen=True)
class Runner:
    """Runs commands in ``env`` with a per-run ``timeout`` in seconds, ``runs`` times each."""

    env: Mapping[str, str]
    runs: int = 3
    timeout: float = 1800.0

    def once(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        ok: tuple[int, ...] = (0,),
        keep_stdout: bool = False,
    ) -> Run:
        """Run ``argv`` once in ``cwd``; its exit code must be one of ``ok``."""
        os.sync()  # the previous command's writes on disk before this one is timed
        with (
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
        ):
            started = time.perf_counter()
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=out if keep_stdout else subprocess.DEVNULL,
                stderr=err,
            )
            timer = threading.Timer(self.timeout, proc.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            elapsed = time.perf_counter() - started
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            if code not in ok:
                err.seek(0)
                tail = err.read().decode(errors="replace")[-3000:]
                why = f"was killed after {self.timeout:.0f} s" if code == -9 else f"exited {code}"
                raise BenchError(
                    f"{' '.join(argv)} (in {cwd}) {why}, expected exit {ok}:\n{tail}\n"
                    "Fix the command or the workload; rerun with --keep to look at its files."
                )
            out.seek(0)
            stdout = out.read().decode(errors="replace") if keep_stdout else ""
        # ru_maxrss is in KiB on Linux.
        return Run(elapsed, usage.ru_maxrss / 1024, stdout)

    def measure(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        ok: tuple[int, ...] = (0,),
        before_each: Callable[[int], None] | None = None,
        check: Callable[[Run], None] | None = None,
        runs: int | None = None,
    ) -> Measurement:
        """Run ``argv`` ``runs`` times; ``before_each(i)`` prepares run ``i`` (not timed) and
        ``check`` inspects each run (its stdout kept)."""
        done = []
        for i in range(self.runs if runs is None else runs):
            if before_each is not None:
                before_each(i)
            run = self.once(argv, cwd=cwd, ok=ok, keep_stdout=check is not None)
            if check is not None:
                check(run)
            done.append(run)
        return Measurement(tuple(done))
