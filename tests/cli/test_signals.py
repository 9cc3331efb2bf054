"""SIGTERM and Ctrl-C (SIGINT): the first stops starting actions and waits for the running ones,
the second stops waiting but keeps the lock and the intents; exit 130, never a traceback.

Real processes with the slow seed test plugin (``sleep`` faults). Where the signal must land at
a precise point of start-up, the child installs an audit hook that signals itself when deployctl
first imports a given module (the handler then runs inside that import).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from support import CLI_ENV, deployctl_script, deployments, manifest, run_cli, write_manifest

APPLY = ("apply", "-f", "dev.yaml", "--auto-approve", "--parallelism", "2")


def write_environment(tmp_path: Path, count: int) -> Path:
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(count)}}),
    )
    return target


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """The console script, its stdout and stderr going to files (read with ``output``)."""
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        return subprocess.Popen(
            [deployctl_script(), *args],
            cwd=tmp_path,
            stdout=out,
            stderr=err,
            text=True,
            env={**os.environ, **CLI_ENV},
        )


def output(tmp_path: Path) -> tuple[str, str]:
    return (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert proc.poll() is None, "the process ended before the signal could be sent"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def intents_in_journal(tmp_path: Path) -> int:
    try:
        return (tmp_path / "state" / "dev.json.journal").read_text().count('"op":"intend"')
    except FileNotFoundError:
        return 0


def created(target: Path) -> list[str]:
    return sorted(p.stem for p in (target / "records").glob("*.json"))


def test_sigterm_mid_apply_waits_for_the_running_actions_records_them_and_exits_130(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = write_environment(tmp_path, 5)
    test_plugins.write_faults(target, {"sleep": {"create_deployment": 0.8}})
    proc = start(tmp_path, *APPLY)
    wait_until(lambda: intents_in_journal(tmp_path) >= 2, proc)  # d0 and d1 are running
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    out, err = output(tmp_path)
    assert "deployctl: received SIGTERM: 2 action(s) in flight; no new action starts" in err
    assert "Traceback" not in err
    assert "Apply interrupted!" in out
    assert "3 change(s) were not started: t/d2, t/d3, t/d4" in err
    # The running ones finished and were recorded; the lock was released; nothing is open.
    listed = json.loads(run_cli("state", "list", "-e", "dev", "--json", cwd=tmp_path).out)
    assert [r["name"] for r in listed] == created(target) == ["d0", "d1"]
    assert not (tmp_path / "state" / "dev.json.lock").exists()
    assert "pending_intents" not in json.loads((tmp_path / "state" / "dev.json").read_text())


def test_a_second_signal_stops_waiting_but_keeps_the_lock_and_the_intents(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = write_environment(tmp_path, 4)
    test_plugins.write_faults(target, {"sleep": {"create_deployment": 5}})
    proc = start(tmp_path, *APPLY)
    wait_until(lambda: intents_in_journal(tmp_path) >= 2, proc)
    proc.send_signal(signal.SIGINT)
    wait_until(lambda: "received SIGINT:" in output(tmp_path)[1], proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)  # a third Ctrl-C changes nothing
    assert proc.wait(timeout=30) == 130
    assert time.monotonic() - sent < 4  # it did not wait for the 5-second calls
    _, err = output(tmp_path)
    assert "received SIGINT again: exiting now, without waiting for 2 action(s) in flight" in err
    assert "Traceback" not in err
    # The lock was not released (calls were running) and the intents are in the journal.
    lock = json.loads((tmp_path / "state" / "dev.json.lock").read_text())
    assert lock["pid"] == proc.pid
    assert intents_in_journal(tmp_path) == 2
    # The next plain apply takes the lock over (its holder is gone), resolves the intents from
    # the target (nothing was created) and creates everything.
    test_plugins.write_faults(target, {})
    applied = run_cli(*APPLY, cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert "no longer running" in applied.err
    assert applied.err.count("nothing was created") == 2
    assert created(target) == ["d0", "d1", "d2", "d3"]


# The child: signal itself once, when deployctl first imports a module under PREFIX with an
# import statement (the "import" audit event; importlib.import_module raises none).
SIGNAL_AT_IMPORT = """
import os, sys
prefix, signum = sys.argv[1], int(sys.argv[2])
fired = []

def hook(event, args):
    if event == "import" and not fired and str(args[0]).startswith(prefix):
        fired.append(args[0])
        os.kill(os.getpid(), signum)

sys.addaudithook(hook)
from deployctl.cli.main import main
code = main(sys.argv[3:])
assert fired, f"{prefix} was never imported"
sys.exit(code)
"""


@pytest.mark.parametrize(
    ("prefix", "signum", "command"),
    [
        ("deployctl.cli.commands", signal.SIGINT, "plan"),  # building the parser
        ("deployctl.cli.commands", signal.SIGTERM, "plan"),
        ("deployctl.manifest", signal.SIGTERM, "plan"),  # loading the manifest
        ("dtp_common", signal.SIGINT, "apply"),  # loading the plugin, with the lock held
    ],
)
def test_a_signal_during_start_up_exits_130_without_a_traceback(
    tmp_path: Path, test_plugins: ModuleType, prefix: str, signum: int, command: str
) -> None:
    write_environment(tmp_path, 1)
    args = [command, "-f", "dev.yaml"] + (["--auto-approve"] if command == "apply" else [])
    proc = subprocess.run(
        [sys.executable, "-c", SIGNAL_AT_IMPORT, prefix, str(int(signum)), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **CLI_ENV},
        timeout=60,
    )
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"received {signal.Signals(signum).name}" in proc.stderr
    assert proc.stderr.rstrip().endswith("Interrupted.")
    assert not (tmp_path / "state" / "dev.json.lock").exists()


GC_INTERRUPT = """
import os, signal, sys, time, weakref
from deployctl.cli import signals
signals.install()
class Thing: pass
thing = Thing()
def collected(ref):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the handler runs here, inside the weakref callback
keep = weakref.ref(thing, collected)
try:
    del thing
    for _ in range(200):
        time.sleep(0.01)
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_signal_during_garbage_collection_still_interrupts_without_a_traceback() -> None:
    # Found by the soak (seed 1, cycle 2): a KeyboardInterrupt raised in a weakref callback is
    # one Python can only print ("Exception ignored in ...") and drop.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", GC_INTERRUPT], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "interrupted", done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "received SIGINT" in done.stderr
