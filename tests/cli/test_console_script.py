"""The installed console script and ``python -m deployctl`` in real processes, and the in-process
runs (``run_cli``) the other CLI tests use: the same output and exit codes, nothing left behind.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support import (
    CLI_ENV,
    ONE_DEPLOYMENT,
    Result,
    deployments,
    manifest,
    run_cli,
    run_process,
    write_manifest,
)

from deployctl import __version__

# Event lines start with the time (no terminal here): runs a second apart differ only there.
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", re.MULTILINE)


def untimed(result: Result) -> Result:
    """``result`` with the time taken out of its event lines."""
    return dataclasses.replace(result, err=_STAMP.sub("TIME ", result.err))


def test_the_console_script_and_python_m_deployctl_start(tmp_path: Path) -> None:
    script = run_process("--version", cwd=tmp_path)
    assert (script.code, script.out, script.err) == (0, f"deployctl {__version__}\n", "")
    module = subprocess.run(
        [sys.executable, "-m", "deployctl", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **CLI_ENV},
        timeout=120,
    )
    assert (module.returncode, module.stdout) == (0, f"deployctl {__version__}\n")


def test_a_plan_and_apply_through_the_console_script(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT)
    applied = run_process("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert "Apply complete! 1 created" in applied.out
    again = run_process("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.out + again.err


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("--help",),
        ("plan", "--help"),
        ("plan",),  # a usage error: argparse exits 1
        ("nosuchcommand",),
        ("validate", "-f", "dev.yaml"),
        ("validate", "-f", "missing.yaml"),
        ("plan", "-f", "dev.yaml"),
        ("state", "list", "-e", "dev"),
    ],
    ids=lambda args: " ".join(args),
)
def test_in_process_runs_print_and_exit_as_the_console_script_does(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT)
    assert untimed(run_cli(*args, cwd=tmp_path)) == untimed(run_process(*args, cwd=tmp_path))


def test_in_process_runs_read_stdin_and_the_environment_given(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT.replace("churn/3", "churn/${env.V}"))
    args = ("plan", "-f", "dev.yaml")
    result = run_cli(*args, cwd=tmp_path, env={"V": "7"}, stdin="yes\n")
    process = run_process(*args, cwd=tmp_path, env={"V": "7"}, stdin="yes\n")
    assert untimed(result) == untimed(process)
    # Read (no "not set" error), and shown masked: a value from ${env.V} is a secret.
    assert result.code == 0 and "model_uri: (sensitive)" in result.out, result.err
    assert "V" not in os.environ


def test_in_process_runs_encode_output_as_the_console_script_does(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest({"churn": {"model_uri": "m:/1", "config": {}}}))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    write_manifest(tmp_path / "dev.yaml", manifest({"churn": {"model_uri": "m:/2", "config": {}}}))
    env = {"PYTHONIOENCODING": "ascii"}  # the arrow of the change becomes "->"
    in_process = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path, env=env)
    process = run_process("plan", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert untimed(in_process) == untimed(process)
    assert in_process.out.isascii() and '"m:/1" -> "m:/2"' in in_process.out


def test_in_process_runs_leave_this_process_as_they_found_it(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT)
    root = logging.getLogger()
    before = (
        os.getcwd(),
        dict(os.environ),
        (sys.stdin, sys.stdout, sys.stderr),
        list(sys.argv),
        list(root.handlers),
        root.level,
        signal.getsignal(signal.SIGINT),
        os._exit,
    )
    for args in (
        ("apply", "-f", "dev.yaml", "--auto-approve"),
        ("--debug", "plan", "-f", "missing.yaml"),
        ("--help",),
    ):
        run_cli(*args, cwd=tmp_path, env={"DEPLOYCTL_TEST_VARIABLE": "1"})
    after = (
        os.getcwd(),
        dict(os.environ),
        (sys.stdin, sys.stdout, sys.stderr),
        list(sys.argv),
        list(root.handlers),
        root.level,
        signal.getsignal(signal.SIGINT),
        os._exit,
    )
    assert after == before


def test_an_in_process_run_that_would_kill_the_process_fails_the_test_instead(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    text = manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments(1)}})
    write_manifest(tmp_path / "dev.yaml", text)
    test_plugins.write_faults(target, {"exit_after": {"create_deployment": ["d0"]}})
    with pytest.raises(pytest.fail.Exception, match=r"os\._exit\(137\).*run_process"):
        run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)


def _run_entry(tmp_path: Path, before: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``deployctl ARGS`` through the console script's entry (``cli.main.run``), after ``before``
    ran in the same process (an atexit handler or a thread, as a plugin might leave)."""
    code = f"import sys\n{before}\nsys.argv = ['deployctl', *{list(args)!r}]\n"
    code += "from deployctl.cli.main import run\nrun()\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **CLI_ENV},
        timeout=120,
    )


def test_the_console_script_runs_atexit_handlers_before_it_ends(tmp_path: Path) -> None:
    before = (
        "import atexit, pathlib\n"
        "atexit.register(lambda: pathlib.Path('handler-ran').write_text('yes'))\n"
    )
    ended = _run_entry(tmp_path, before, "--version")
    assert (ended.returncode, ended.stdout) == (0, f"deployctl {__version__}\n")
    assert (tmp_path / "handler-ran").read_text() == "yes"


def test_a_command_ends_the_console_script_without_tearing_the_heap_down(tmp_path: Path) -> None:
    # An object freed at a normal exit (interpreter teardown) says so; the hard exit frees none.
    before = (
        "import pathlib\n"
        "class Late:\n"
        "    def __del__(self):\n"
        "        pathlib.Path('torn-down').write_text('yes')\n"
        "late = Late()\n"
    )
    write_manifest(tmp_path / "dev.yaml", manifest())
    ended = _run_entry(tmp_path, before, "plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert ended.returncode == 2, ended.stderr  # an ExitCode (CHANGES), as any command returns
    assert not (tmp_path / "torn-down").exists()
    ended = _run_entry(tmp_path, before + "raise SystemExit('no exit code')\n", "--version")
    assert (tmp_path / "torn-down").exists()  # the check sees a normal exit


def test_the_console_script_waits_for_a_thread_still_running(tmp_path: Path) -> None:
    before = (
        "import pathlib, threading, time\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    pathlib.Path('thread-ended').write_text('yes')\n"
        "threading.Thread(target=late).start()\n"
    )
    ended = _run_entry(tmp_path, before, "validate", "-f", "missing.yaml")
    assert ended.returncode == 1, ended.stderr
    assert "missing.yaml" in ended.stderr
    assert (tmp_path / "thread-ended").read_text() == "yes"


def test_the_console_script_writes_all_of_a_long_output_to_a_pipe(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest(deployments(2000)))
    planned = run_process("plan", "-f", "dev.yaml", "--json", cwd=tmp_path)
    assert planned.code == 0, planned.err
    in_process = run_cli("plan", "-f", "dev.yaml", "--json", cwd=tmp_path)
    assert len(planned.out) > 500_000
    assert _without_time(planned.out) == _without_time(in_process.out)


def _without_time(plan_json: str) -> str:
    return re.sub(r'^  "created_at": .*$', "", plan_json, count=1, flags=re.MULTILINE)
