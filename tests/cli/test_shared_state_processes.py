"""State where the team works, proved with real ``deployctl`` processes on each backend.

Fresh checkouts that share only the backend converge; two applies at once never both apply;
a holder killed with ``kill -9`` frees the lock with no ``force-unlock``. Each test runs against
a local file, a PostgreSQL database and an S3 prefix in turn (``state_backends``). The slow apply
is the ``seedtest`` test plugin with a ``sleep`` fault on ``create_deployment``: its
``create started`` line says that it holds the lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import IO, Protocol

import pytest
from state_backends import (  # noqa: F401  (fixtures)
    SharedState,
    pg_server_fixture,
    s3_server_fixture,
    state_backend_fixture,
    team_manifest,
)
from support import CLI_ENV, Result, deployctl_script, run_process, write_manifest

# How long the slow apply's create takes: long enough for another process to meet its lock.
SLOW_CREATE = 2.0
APPLY = ("apply", "-f", "dev.yaml", "--auto-approve")


class Running:
    """A ``deployctl`` process in the background whose output is read as it comes."""

    def __init__(self, args: tuple[str, ...], cwd: Path, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [deployctl_script(), *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **CLI_ENV, **env},
        )
        self.pid = self.proc.pid
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=_read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=_read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Until ``text`` is on its stderr; fails if it exits or the time is up first."""
        deadline = time.monotonic() + timeout
        while text not in "".join(self.err):
            if not self.running or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"deployctl never printed {text!r}:\n{''.join(self.out + self.err)}")
            time.sleep(0.02)

    def finish(self, timeout: float = 120) -> Result:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return Result(code, "".join(self.out), "".join(self.err))

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind runs in the process."""
        if self.running:
            os.kill(self.pid, signal.SIGKILL)
        self.finish()


def _read(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


class Spawn(Protocol):
    def __call__(self, *args: str, cwd: Path, env: Mapping[str, str]) -> Running: ...


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Starts ``deployctl`` processes; any still running when the test ends is killed."""
    started: list[Running] = []

    def start(*args: str, cwd: Path, env: Mapping[str, str]) -> Running:
        started.append(Running(args, cwd, env))
        return started[-1]

    yield start
    for process in started:
        process.kill()


def slow_target(tmp_path: Path, state: SharedState, test_plugins: ModuleType, sleep: float) -> Path:
    """``tmp_path/dev.yaml``: one deployment on a ``seedtest`` target whose create sleeps."""
    target = tmp_path / "target"
    write_manifest(tmp_path / "dev.yaml", team_manifest(state, target, plugin="seedtest"))
    test_plugins.write_faults(target, {"sleep": {"create_deployment": sleep}})
    return target


def creates(test_plugins: ModuleType, target: Path) -> list[str]:
    calls = test_plugins.read_calls(target)
    return [c["outcome"] for c in calls if c["method"] == "create_deployment"]


def test_fresh_checkouts_sharing_only_the_backend_converge(
    tmp_path: Path, state_backend: SharedState
) -> None:
    env = state_backend.env
    text = team_manifest(state_backend, tmp_path / "shared-target")
    pull_request, release = tmp_path / "pr-job", tmp_path / "release-job"
    for checkout in (pull_request, release):
        write_manifest(checkout / "dev.yaml", text)

    planned = run_process("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=pull_request, env=env)
    assert planned.code == 0, planned.err
    (release / "plan.json").write_bytes((pull_request / "plan.json").read_bytes())
    applied = run_process("apply", "plan.json", cwd=release, env=env)
    assert applied.code == 0, applied.err
    assert "1 created" in applied.out

    again = run_process("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=pull_request, env=env)
    assert again.code == 0, again.out + again.err
    assert "No changes" in again.out
    assert "not managed" not in again.err
    assert f"State: {state_backend.shown(pull_request)} (state: in dev.yaml:" in again.err
    # Neither checkout started a state of its own.
    assert not (pull_request / "state").exists() and not (release / "state").exists()


def test_of_two_applies_at_once_one_applies_the_other_fails_or_waits(
    tmp_path: Path, state_backend: SharedState, test_plugins: ModuleType, spawn: Spawn
) -> None:
    env = state_backend.env
    target = slow_target(tmp_path, state_backend, test_plugins, SLOW_CREATE)
    first = spawn(*APPLY, cwd=tmp_path, env=env)
    first.wait_for("create started")  # it holds the lock now
    waiter = spawn(*APPLY, "--lock-timeout", "60s", cwd=tmp_path, env=env)

    refused = run_process(*APPLY, cwd=tmp_path, env=env)
    assert first.running, "the first apply finished before the second met its lock"
    assert refused.code == 1, refused.out + refused.err
    assert f"locked by apply (pid {first.pid} " in refused.err
    assert "--lock-timeout" in refused.err

    done = first.finish()
    assert done.code == 0, done.err
    assert "1 created" in done.out
    waited = waiter.finish()
    assert waited.code == 0, waited.err
    assert "No changes" in waited.out  # it planned after the first one committed
    assert creates(test_plugins, target) == ["ok"]


def test_a_killed_apply_frees_the_lock_without_force_unlock(
    tmp_path: Path, state_backend: SharedState, test_plugins: ModuleType, spawn: Spawn
) -> None:
    env = state_backend.env
    target = slow_target(tmp_path, state_backend, test_plugins, 600)
    holder = spawn(*APPLY, cwd=tmp_path, env=env)
    holder.wait_for("create started")
    holder.kill()
    test_plugins.write_faults(target, {})

    started = time.monotonic()
    after = run_process(*APPLY, cwd=tmp_path, env=env)
    assert after.code == 0, after.err
    assert time.monotonic() - started < 20  # at once: not after S3's 60 s lease
    assert "1 created" in after.out
    # The dead run's lock is taken over with a warning.
    assert f"took over the state lock of apply (pid {holder.pid} " in after.err
    assert "force-unlock" not in after.err
    unlocked = run_process("force-unlock", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert unlocked.code == 1
    assert "not locked" in unlocked.err
