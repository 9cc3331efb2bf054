"""The soak: seeded random manifest changes, applied under faults and signals, then converged.

Each cycle of ``run_soak``:

1. changes the manifest at random (``Desired.mutate``: add, remove and update deployments,
   change their config or flavor, change a target's defaults, drop a whole target or bring it
   back);
2. turns the faults of the ``chaostest`` plugin on (``dtp_chaos``: failures, latency, hangs,
   a list that lags behind creates), runs ``deployctl apply -f dev.yaml --auto-approve`` as a
   real process and, at a random moment, sends it ``kill -9``, SIGTERM or SIGINT (once or
   twice), or nothing. A process still running after ``Settings.deadline`` is stopped as a
   person would stop it: SIGTERM, then SIGTERM again, then ``kill -9``;
3. turns the faults off and runs a plain ``deployctl apply -f dev.yaml --auto-approve``: no
   ``force-unlock``, no ``import``, no ``--lock-timeout``. If it fails, that is a manual step: the
   harness takes the step the error names (``force-unlock ID``, ``import ADDRESS``, or running
   apply again), counts it, and tries again, so that the soak can go on;
4. checks the invariants: the plan shows no change, the targets hold exactly what the manifest
   asks for (live == desired), the state records every live deployment and nothing else
   (state == live, no lost record), nothing live is unknown to both state and manifest (no
   orphan), no intent is left open, the lock is released; and no run printed a traceback or
   exited 3.

Every random choice comes from ``Random(f"{seed}:{cycle}")``: a seed and a cycle number name
what was done (the manifest, the faults, the signal and when it was sent). When a signal lands
depends on timing, so a failure is reproduced by the seed and cycle, not to the millisecond.
``Figures`` holds what happened; ``Figures.summary()`` prints it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import CLI_ENV, deployctl_script

ENVIRONMENT = "dev"
MANIFEST = "dev.yaml"
APPLY = ("apply", "-f", MANIFEST, "--auto-approve")
TARGET_KEYS = ("t0", "t1")
# Deployment names a target draws from: few enough that names come back after a delete.
NAMES = tuple(f"d{i}" for i in range(12))
WRITES = ("create_deployment", "update_deployment", "delete_deployment")
READS = ("get_deployment", "list_deployments")

# How a faulted apply is interrupted, and how often (weights).
INTERRUPTIONS = {
    "none": 3,
    "kill9": 4,
    "sigterm": 3,
    "sigint": 3,
    "sigterm-twice": 1,
    "sigint-twice": 1,
}
# When a signal is sent: during start-up, at any moment, or while changes are being made.
MOMENTS = ("start-up", "any", "mid-actions")
SIGNALS = {"kill9": signal.SIGKILL, "sigterm": signal.SIGTERM, "sigint": signal.SIGINT}
# A second SIGTERM stops the waiting: the process must then exit promptly.
AFTER_SECOND_SIGNAL = 10.0
CONVERGE_TIMEOUT = 120.0
# What the plain apply says it recovered (counted for the figures).
RECOVERY_NOTES = {
    "locks taken over": r"no longer running|lease expired",
    "open intents resolved": r"started at",
}
_TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class Backend:
    """Where the soak keeps its state: ``location`` (``None``: the default file next to the
    manifest) and the environment a ``deployctl`` process needs to reach it."""

    kind: str = "local"
    location: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def block(self) -> str:
        if self.location is None:
            return ""
        key = "path" if self.kind == "local" else "url"
        return f"state:\n  {key}: {json.dumps(self.location)}\n"


@dataclass(frozen=True)
class Settings:
    """One soak: ``cycles`` from ``seed`` in ``workdir``; a faulted apply still running after
    ``deadline`` seconds is stopped (SIGTERM, SIGTERM, kill -9)."""

    seed: int
    cycles: int
    workdir: Path
    backend: Backend = Backend()
    deadline: float = 20.0


@dataclass(frozen=True)
class Failure:
    """An invariant that did not hold, or a run that misbehaved, at ``cycle`` of ``seed``."""

    seed: int
    cycle: int
    check: str
    detail: str

    def __str__(self) -> str:
        return f"seed {self.seed} cycle {self.cycle}: {self.check}: {self.detail}"


@dataclass
class Figures:
    """What a soak did and found."""

    seed: int
    backend: str
    cycles_wanted: int
    cycles: int = 0
    elapsed: float = 0.0
    interruptions: Counter[str] = field(default_factory=Counter)
    exit_codes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    manual_steps: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)

    @property
    def manual_step_count(self) -> int:
        return sum(self.manual_steps.values())

    def summary(self) -> str:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"

        lines = [
            f"soak: seed {self.seed}, backend {self.backend}, {self.cycles} of "
            f"{self.cycles_wanted} cycles in {self.elapsed:.1f}s "
            f"({self.elapsed / max(self.cycles, 1):.2f}s a cycle)",
            f"  interruptions: {counts(self.interruptions)}",
            f"  exit codes of the faulted applies: {counts(self.exit_codes)}",
            f"  faults injected: {sum(self.faults.values())} ({counts(self.faults)})",
            f"  manifest changes: {sum(self.changes.values())} ({counts(self.changes)})",
            f"  manual steps: {self.manual_step_count} ({counts(self.manual_steps)})",
            f"  notes: {counts(self.notes)}",
            f"  failures: {len(self.failures)}",
        ]
        lines.extend(f"    {failure}" for failure in self.failures[:20])
        if len(self.failures) > 20:
            lines.append(f"    ... and {len(self.failures) - 20} more")
        return "\n".join(lines)


# -- the desired deployments and the manifest ------------------------------------------------------


@dataclass
class Deployment:
    model_uri: str
    config: dict[str, Any] = field(default_factory=dict)
    flavor: str | None = None


@dataclass
class Target:
    deployments: dict[str, Deployment] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    present: bool = True  # in the manifest at all
    timeout: bool = False  # a short timeout (a hang then ends in a timed-out call)

    def wanted(self) -> dict[str, Deployment]:
        """What the target should hold: deployments with the defaults merged under them."""
        if not self.present:
            return {}
        return {
            name: Deployment(d.model_uri, {**self.defaults, **d.config}, d.flavor)
            for name, d in self.deployments.items()
        }


@dataclass
class Desired:
    """The manifest the soak keeps changing, as data."""

    targets: dict[str, Target]
    versions: Counter[str] = field(default_factory=Counter)

    @classmethod
    def initial(cls) -> Desired:
        desired = cls({key: Target() for key in TARGET_KEYS})
        for key, count in zip(TARGET_KEYS, (3, 2), strict=True):
            for name in NAMES[:count]:
                desired.targets[key].deployments[name] = Deployment(desired._model(name))
        desired.targets["t0"].defaults = {"workers": 2}
        return desired

    def _model(self, name: str) -> str:
        self.versions[name] += 1
        return f"models:/{name}/{self.versions[name]}"

    def mutate(self, rng: random.Random) -> list[str]:
        """Change one to three things at random; returns what changed (for the figures)."""
        done: list[str] = []
        for _ in range(rng.randint(1, 5)):
            done.append(self._mutate_once(rng))
        return done

    def _mutate_once(self, rng: random.Random) -> str:
        present = [k for k, t in self.targets.items() if t.present]
        absent = [k for k, t in self.targets.items() if not t.present]
        if absent and rng.random() < 0.3:
            self.targets[rng.choice(absent)].present = True
            return "restore-target"
        if len(present) > 1 and rng.random() < 0.03:
            self.targets[rng.choice(present)].present = False
            return "drop-target"
        target = self.targets[rng.choice(present)]
        names = sorted(target.deployments)
        kinds = ["add"] * (3 if len(names) < 4 else 1 if len(names) < 8 else 0)
        if names:
            kinds += ["remove"] * (2 if len(names) > 2 else 1)
            kinds += ["model"] * 3 + ["config"] * 2 + ["flavor"]
        kinds += ["defaults", "timeout"]
        kind = rng.choice(kinds)
        if kind == "add":
            name = rng.choice([n for n in NAMES if n not in target.deployments])
            config = {"tier": rng.choice(("gold", "silver"))} if rng.random() < 0.5 else {}
            target.deployments[name] = Deployment(self._model(name), config)
        elif kind == "remove":
            del target.deployments[rng.choice(names)]
        elif kind == "model":
            name = rng.choice(names)
            target.deployments[name].model_uri = self._model(name)
        elif kind == "config":
            settings = target.deployments[rng.choice(names)].config
            key = rng.choice(("tier", "batch", "region"))
            if key in settings and rng.random() < 0.4:
                del settings[key]
            else:
                settings[key] = rng.choice(("gold", "silver", 8, 16, "eu", "us"))
        elif kind == "flavor":
            deployment = target.deployments[rng.choice(names)]
            deployment.flavor = None if deployment.flavor else "python_function"
        elif kind == "defaults":
            if "workers" in target.defaults and rng.random() < 0.3:
                del target.defaults["workers"]
            else:
                target.defaults["workers"] = rng.randint(1, 8)
        else:
            target.timeout = not target.timeout
        return kind

    def manifest(self, directories: Mapping[str, Path], backend: Backend) -> str:
        lines = ["version: 1", f"environment: {ENVIRONMENT}", "targets:"]
        for key, target in self.targets.items():
            if not target.present:
                continue
            lines += [
                f"  {key}:",
                f"    uri: {json.dumps(f'chaostest:{directories[key]}')}",
                "    retry: {attempts: 3, backoff: 50ms}",
            ]
            if target.timeout:
                lines.append("    timeout: {read: 2s, write: 2s}")
            if target.defaults:
                lines.append(f"    defaults: {{config: {json.dumps(target.defaults)}}}")
            if not target.deployments:
                lines.append("    deployments: {}")
                continue
            lines.append("    deployments:")
            for name, d in sorted(target.deployments.items()):
                lines += [f"      {name}:", f"        model_uri: {json.dumps(d.model_uri)}"]
                if d.config:
                    lines.append(f"        config: {json.dumps(d.config)}")
                if d.flavor:
                    lines.append(f"        flavor: {json.dumps(d.flavor)}")
        return "\n".join(lines) + "\n" + backend.block()


def actions(before: Desired, after: Desired) -> list[tuple[str, str]]:
    """The plugin calls that take ``before`` to ``after``: (method, name), in name order."""
    calls = []
    for key in TARGET_KEYS:
        old, new = before.targets[key].wanted(), after.targets[key].wanted()
        for name in sorted(set(old) | set(new)):
            if name not in old:
                calls.append(("create_deployment", name))
            elif name not in new:
                calls.append(("delete_deployment", name))
            elif old[name] != new[name]:
                calls.append(("update_deployment", name))
    return calls


def chaos_profile(rng: random.Random, planned: list[tuple[str, str]]) -> dict[str, Any]:
    """The faults of one faulted apply (the same for each target, each with its own seed).

    Changes fail more often than reads: a read that fails ends the apply before it changes
    anything, and the soak is about what happens while changes are being made. A hang, when
    there is one, is on a call the apply will make (a change it plans, or the list)."""
    reads = rng.choice((0.0, 0.02, 0.05))
    writes = rng.choice((0.0, 0.1, 0.2, 0.4))
    config: dict[str, Any] = {
        "seed": rng.randrange(2**32),
        "fail": {
            "rate": {"get_deployment": reads, "list_deployments": reads}
            | dict.fromkeys(WRITES, writes),
            "unavailable": 0.5,
            "after_effect": 0.5,
        },
        "latency": {"fixed": rng.choice((0.0, 0.01, 0.05)), "jitter": rng.choice((0.05, 0.2))},
    }
    if rng.random() < 0.5:
        config["lag"] = {"list_calls": rng.randint(1, 3), "seconds": round(rng.random(), 2)}
    if rng.random() < 0.15:
        call, name = rng.choice([*planned, ("list_deployments", None)])
        config["hang"] = [{"call": call, "name": name, "after_effect": rng.random() < 0.5}]
    return config


# -- running deployctl -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    seconds: float


class Soak:
    """The soak's files and processes: ``workdir`` holds the manifest, the targets' folders
    (``targets/t0``...), the state (by default), ``soak.log`` and, for each cycle that failed,
    the output of its runs under ``cycles/NNN`` (also for a cycle whose apply died of a signal
    it should have handled)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.work = settings.workdir
        self.directories = {key: self.work / "targets" / key for key in TARGET_KEYS}
        self.figures = Figures(settings.seed, settings.backend.kind, settings.cycles)
        self.desired = Desired.initial()
        # What the last cycle converged to (what is live, if it did).
        self.converged = Desired({key: Target() for key in TARGET_KEYS})
        self.estimate = 1.0  # seconds an uninterrupted faulted apply takes (moving average)
        self.runs: list[tuple[str, Run]] = []
        self.cycle_number = 0
        self.remarkable = False
        self.aborted = False

    # -- processes --

    def env(self) -> dict[str, str]:
        return {**os.environ, **CLI_ENV, **self.settings.backend.env}

    def start(self, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
        out, err = self.work / "run.out", self.work / "run.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen(
                [deployctl_script(), *args],
                cwd=self.work,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self.env(),
            )
        return proc, out, err

    def finish(
        self, label: str, proc: subprocess.Popen[bytes], out: Path, err: Path, t0: float
    ) -> Run:
        run = Run(
            proc.returncode,
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"),
            time.monotonic() - t0,
        )
        self.runs.append((label, run))
        return run

    def deployctl(self, *args: str, timeout: float = CONVERGE_TIMEOUT) -> Run:
        t0 = time.monotonic()
        proc, out, err = self.start(*args)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("timeout", f"deployctl {' '.join(args)} ran over {timeout:.0f}s; killed")
        return self.finish(" ".join(args[:1]), proc, out, err, t0)

    # -- the soak --

    def run(self) -> Figures:
        started = time.monotonic()
        self.work.mkdir(parents=True, exist_ok=True)
        self.log(f"seed {self.settings.seed}, backend {self.settings.backend.kind}")
        for cycle in range(1, self.settings.cycles + 1):
            self.cycle_number = cycle
            self.runs = []
            self.remarkable = False  # keep its evidence, although nothing failed
            failures_before = len(self.figures.failures)
            self.cycle(cycle, random.Random(f"{self.settings.seed}:{cycle}"))
            self.figures.cycles = cycle
            if len(self.figures.failures) > failures_before or self.remarkable:
                self.keep_evidence(cycle)
            if self.aborted:
                break
        self.figures.elapsed = time.monotonic() - started
        for directory in self.directories.values():
            self.figures.faults.update(
                e["kind"] for e in _chaos().read_events(directory) if "kind" in e
            )
        self.log(self.figures.summary())
        return self.figures

    def cycle(self, cycle: int, rng: random.Random) -> None:
        chaos = _chaos()
        changes = self.desired.mutate(rng) if cycle > 1 else ["initial"]
        self.figures.changes.update(changes)
        (self.work / MANIFEST).write_text(
            self.desired.manifest(self.directories, self.settings.backend), encoding="utf-8"
        )
        planned = actions(self.converged, self.desired)
        profile = chaos_profile(rng, planned)
        for key, directory in self.directories.items():
            chaos.write_chaos(directory, {**profile, "seed": f"{profile['seed']}:{key}"})
        interruption = rng.choices(list(INTERRUPTIONS), weights=list(INTERRUPTIONS.values()))[0]
        moment = rng.choices(MOMENTS, weights=(1, 4, 5))[0]
        k = rng.randint(1, max(len(planned), 1))
        self.log(
            f"cycle {cycle}: changes {changes}; planned {len(planned)} changes; "
            f"faults {json.dumps(profile, sort_keys=True)}; {interruption} {moment}"
        )
        faulted = self.faulted_apply(rng, interruption, moment, k)
        self.check_tracked(faulted)
        for directory in self.directories.values():
            chaos.write_chaos(directory, {})
        self.converge()
        self.check()
        self.converged = copy.deepcopy(self.desired)
        self.log(f"cycle {cycle}: faulted apply exit {faulted.code} in {faulted.seconds:.2f}s")

    def faulted_apply(self, rng: random.Random, interruption: str, moment: str, k: int) -> Run:
        """Run the apply under faults; interrupt it at ``moment``: during ``start-up``, at
        ``any`` time of a run as long as an uninterrupted one takes, or ``mid-actions`` (soon
        after the ``k``-th create, update or delete returned)."""
        delay = rng.uniform(0.0, 0.25) if moment == "start-up" else rng.uniform(0.05, 1.2)
        if moment == "any":
            delay *= self.estimate
        second = rng.uniform(0.05, 0.5)
        offsets = {d: _size(d / "calls.jsonl") for d in self.directories.values()}
        t0 = time.monotonic()
        proc, out, err = self.start(*APPLY)
        sent = interruption
        if interruption != "none":
            if moment == "mid-actions":
                self.wait_for_writes(proc, offsets, k, t0)
                time.sleep(rng.uniform(0.0, 0.1))
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=delay)
            kind = interruption.removesuffix("-twice")
            if proc.poll() is None:
                proc.send_signal(SIGNALS[kind])
                self.figures.notes[f"signals sent {moment}"] += 1
                if interruption.endswith("-twice"):
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=second)
                    if proc.poll() is None:
                        proc.send_signal(SIGNALS[kind])
                    else:
                        sent = kind  # it exited after the first
            else:
                sent = "none (finished first)"
        if interruption != "none":
            self.log(f"  {sent} ({moment}) after {time.monotonic() - t0:.2f}s")
        self.figures.interruptions[sent] += 1
        remaining = self.settings.deadline - (time.monotonic() - t0)
        try:
            proc.wait(timeout=max(remaining, 0.1))
        except subprocess.TimeoutExpired:
            self.stop_stuck(proc)
        run = self.finish("faulted apply", proc, out, err, t0)
        self.figures.exit_codes[str(run.code)] += 1
        if sent == "none" and run.code in (0, 1):
            self.estimate = 0.7 * self.estimate + 0.3 * run.seconds
        self.check_run("faulted apply", run, allowed=(0, 1, 130, -9, -15, -2))
        return run

    def wait_for_writes(
        self, proc: subprocess.Popen[bytes], offsets: Mapping[Path, int], k: int, t0: float
    ) -> None:
        """Wait until ``k`` creates, updates or deletes returned (or the process ended, or
        the deadline is near)."""
        while proc.poll() is None and time.monotonic() - t0 < self.settings.deadline - 1:
            logged = 0
            for directory, offset in offsets.items():
                with contextlib.suppress(FileNotFoundError), open(directory / "calls.jsonl") as f:
                    f.seek(offset)
                    text = f.read()
                    logged += sum(text.count(f'"method": "{m}"') for m in WRITES)
            if logged >= k:
                break
            time.sleep(0.01)

    def stop_stuck(self, proc: subprocess.Popen[bytes]) -> None:
        """A faulted apply that outlived the deadline (a hung call): stop it as a person
        would. The first SIGTERM waits for the running calls; the second must end it."""
        self.figures.notes["stuck applies stopped"] += 1
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=AFTER_SECOND_SIGNAL)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail(
                "second signal",
                f"a stuck apply did not exit within {AFTER_SECOND_SIGNAL:.0f}s of a second "
                "SIGTERM; killed with SIGKILL",
            )

    def check_run(self, label: str, run: Run, allowed: tuple[int, ...]) -> None:
        if _TRACEBACK in run.err or _TRACEBACK in run.out:
            self.fail("traceback", f"{label} printed a traceback: {_tail(run.err)}")
        if run.code == 3:
            self.fail("exit 3", f"{label} exited 3 (a bug): {_tail(run.err)}")
        elif run.code not in allowed:
            self.fail("exit code", f"{label} exited {run.code}: {_tail(run.err)}")
        if run.code in (-signal.SIGTERM, -signal.SIGINT):
            self.figures.notes[f"died of signal {-run.code} (not handled)"] += 1
            self.remarkable = True

    def converge(self) -> None:
        """A plain apply with the faults off; each failure is a manual step, taken here."""
        for attempt in range(4):
            run = self.deployctl(*APPLY)
            self.check_run("plain apply", run, allowed=(0, 1))
            for note, pattern in RECOVERY_NOTES.items():
                self.figures.notes[note] += len(re.findall(pattern, run.err))
            if run.code == 0:
                return
            step, argv = manual_step(run.err)
            self.figures.manual_steps[step] += 1
            self.fail("manual step", f"plain apply exited {run.code}; {step}: {_tail(run.err)}")
            if attempt == 3:
                break
            if argv:
                self.check_run(step, self.deployctl(*argv, "-f", MANIFEST), allowed=(0, 1))
        self.fail("not converged", "the plain apply still fails after 3 manual steps; stopping")
        self.aborted = True

    # -- invariants --

    def state_document(self) -> dict[str, Any] | None:
        """The state as ``deployctl state pull`` prints it (a crashed run's journal folded in)."""
        pulled = self.deployctl("state", "pull", "-f", MANIFEST)
        if pulled.code != 0 and "there is no state" in pulled.err:
            return {}  # nothing has been recorded yet (a first apply stopped early)
        if pulled.code != 0:
            self.fail("state pull", _tail(pulled.err))
            return None
        document: dict[str, Any] = json.loads(pulled.out)
        return document

    def live(self) -> dict[tuple[str, str], dict[str, Any]]:
        """What every target holds, by (target URI, name), read from its files."""
        return {
            (f"chaostest:{directory}", name): record
            for directory in self.directories.values()
            for name, record in _chaos().live_records(directory).items()
        }

    def check_tracked(self, faulted: Run) -> None:
        """Right after the faulted apply, however it ended (kill -9 included): every live
        deployment is recorded in state or has an open intent, every record is live or has an
        open intent, and a live deployment that differs from its record has an open intent.
        Anything else was lost track of, whatever a later apply repairs. An apply that exited 0
        made every change."""
        document = self.state_document()
        if document is None:
            return
        state = {(r["target_uri"], r["name"]): r for r in document.get("deployments", [])}
        intents = {(i["target_uri"], i["name"]) for i in document.get("pending_intents", [])}
        live = self.live()
        untracked = sorted(f"{u}/{n}" for (u, n) in set(live) - set(state) - intents)
        if untracked:
            self.fail("tracked", f"live, not in state, no open intent: {untracked}")
        vanished = sorted(f"{u}/{n}" for (u, n) in set(state) - set(live) - intents)
        if vanished:
            self.fail("tracked", f"in state, not live, no open intent: {vanished}")
        for address in sorted((set(state) & set(live)) - intents):
            difference = _differs(_applied(state[address]), live[address])
            if difference:
                self.fail("tracked", f"{'/'.join(address)} changed, no open intent: {difference}")
        if faulted.code == 0:
            self.check_desired(live, "an apply that exited 0")

    def check_desired(self, live: Mapping[tuple[str, str], dict[str, Any]], when: str) -> None:
        for key, directory in self.directories.items():
            uri = f"chaostest:{directory}"
            wanted = self.desired.targets[key].wanted()
            here = {n for (u, n) in live if u == uri}
            missing, extra = sorted(set(wanted) - here), sorted(here - set(wanted))
            if missing or extra:
                self.fail("live == desired", f"{when}: {key}: missing {missing}, extra {extra}")
            for name in sorted(set(wanted) & here):
                difference = _differs(wanted[name], live[(uri, name)])
                if difference:
                    self.fail("live == desired", f"{when}: {key}/{name}: {difference}")

    def check(self) -> None:
        """After the plain apply: nothing left to change, live == desired, state == live."""
        if self.aborted:
            return
        plan = self.deployctl("plan", "-f", MANIFEST, "--detailed-exitcode")
        self.check_run("plan", plan, allowed=(0, 2))
        if plan.code == 2:
            self.fail("plan after apply", f"shows changes: {_tail(plan.out, 600)}")
        document = self.state_document()
        if document is None:
            return
        if document.get("pending_intents"):
            open_ = [i.get("address") for i in document["pending_intents"]]
            self.fail("open intents", f"left open after a successful apply: {open_}")
        state = {(r["target_uri"], r["name"]): r for r in document.get("deployments", [])}
        live = self.live()
        self.check_desired(live, "after the plain apply")
        unrecorded = sorted(f"{u}/{n}" for (u, n) in set(live) - set(state))
        if unrecorded:
            self.fail("state == live", f"live but not in state (lost records): {unrecorded}")
        phantom = sorted(f"{u}/{n}" for (u, n) in set(state) - set(live))
        if phantom:
            self.fail("state == live", f"in state but not live: {phantom}")
        for address in sorted(set(state) & set(live)):
            difference = _differs(_applied(state[address]), live[address])
            if difference:
                self.fail("state == live", f"{'/'.join(address)}: {difference}")
        self.check_orphans(state)
        lock = self.work / "state" / f"{ENVIRONMENT}.json.lock"
        if self.settings.backend.location is None and lock.exists():
            self.fail("lock", f"{lock} is left behind after the plain apply")

    def check_orphans(self, state: Mapping[tuple[str, str], Any]) -> None:
        """Nothing live that neither state nor manifest knows of; one found is deleted by hand
        (a manual step), so that the next cycles start clean."""
        for key, directory in self.directories.items():
            uri = f"chaostest:{directory}"
            wanted = self.desired.targets[key].wanted()
            for name in _chaos().live_records(directory):
                if (uri, name) not in state and name not in wanted:
                    self.fail("orphan", f"{key}/{name} is live, unknown to state and manifest")
                    self.figures.manual_steps["delete orphan"] += 1
                    (directory / "records" / f"{name}.json").unlink()

    # -- reporting --

    def fail(self, check: str, detail: str) -> None:
        failure = Failure(self.settings.seed, self.cycle_number, check, detail)
        self.figures.failures.append(failure)
        self.log(f"FAILED {failure}")

    def log(self, line: str) -> None:
        with open(self.work / "soak.log", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def keep_evidence(self, cycle: int) -> None:
        """The manifest and every run's output of a cycle that failed, under ``cycles/NNN``."""
        folder = self.work / "cycles" / f"{cycle:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.work / MANIFEST, folder / MANIFEST)
        for i, (label, run) in enumerate(self.runs):
            name = f"{i:02d}-{label.replace(' ', '-')}"
            (folder / f"{name}.out").write_text(run.out, encoding="utf-8")
            (folder / f"{name}.err").write_text(f"exit {run.code}\n{run.err}", encoding="utf-8")


def manual_step(err: str) -> tuple[str, tuple[str, ...] | None]:
    """The manual step a failed plain apply asks for: its name and the command taking it."""
    unlock = re.search(r"deployctl force-unlock ([^'\s]+)", err)
    if unlock:
        return "force-unlock", ("force-unlock", unlock.group(1))
    adopt = re.search(r"deployctl import ([^'\s]+)", err)
    if adopt:
        return "import", ("import", adopt.group(1))
    return "apply again", None


def _applied(record: Mapping[str, Any]) -> Deployment:
    """What a state record says was applied."""
    return Deployment(record["model_uri"], record.get("config") or {}, record.get("flavor"))


def _differs(wanted: Deployment, record: Mapping[str, Any]) -> str | None:
    """How a live record differs from ``wanted`` (a flavor only when one is wanted)."""
    problems = []
    if record.get("model_uri") != wanted.model_uri:
        problems.append(f"model_uri {record.get('model_uri')!r}, wanted {wanted.model_uri!r}")
    if (record.get("config") or {}) != wanted.config:
        problems.append(f"config {record.get('config')!r}, wanted {wanted.config!r}")
    if wanted.flavor is not None and record.get("flavor") != wanted.flavor:
        problems.append(f"flavor {record.get('flavor')!r}, wanted {wanted.flavor!r}")
    return "; ".join(problems) or None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tail(text: str, limit: int = 400) -> str:
    text = " | ".join(line for line in text.strip().splitlines() if line.strip())
    return text if len(text) <= limit else "…" + text[-limit:]


def _chaos() -> Any:
    import dtp_chaos

    return dtp_chaos


def run_soak(settings: Settings) -> Figures:
    """Run a soak (see the module docstring); its figures, failures included."""
    return Soak(settings).run()
