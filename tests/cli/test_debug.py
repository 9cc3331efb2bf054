"""``--debug``: before or after the command, DEBUG log lines on stderr, tracebacks kept.

The CLI runs in-process (``main(argv)``), many times in one process, as an embedding program
would run it.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from types import ModuleType

import pytest
from support import ONE_DEPLOYMENT, write_manifest

from deployctl.cli.main import main

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) deployctl(\.\w+)+: "
)

TWO_ON_A_TEST_PLUGIN = """\
version: 1
environment: dev
targets:
  t:
    uri: mlflowtest:{directory}
    deployments:
      a:
        model_uri: models:/a/1
      b:
        model_uri: models:/b/1
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def log_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if LOG_LINE.match(line)]


@pytest.mark.parametrize(
    "argv",
    [
        ["--debug", "validate", "-f", "dev.yaml"],
        ["validate", "--debug", "-f", "dev.yaml"],
        ["validate", "-f", "dev.yaml", "--debug"],
    ],
    ids=["before the command", "after the command", "last"],
)
def test_debug_is_accepted_before_or_after_the_command(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert log_lines(err)[0].endswith(
        " DEBUG deployctl.cli.main: deployctl " + _version() + ": validate"
    )
    assert log_lines(err)[-1].endswith(" DEBUG deployctl.cli.main: exit code 0")


def test_debug_is_accepted_after_a_subcommand_too(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No state exists yet: an error, but one that --debug after "state list" still logs.
    code, _, err = run(capsys, "state", "list", "-f", "dev.yaml", "--debug")
    assert code == 1, err
    assert any(line.endswith(": state") for line in log_lines(err))
    assert log_lines(err)[-1].endswith(" DEBUG deployctl.cli.main: exit code 1")


def test_without_debug_nothing_is_logged(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, quiet = run(capsys, "validate", "-f", "dev.yaml")
    assert code == 0
    assert log_lines(quiet) == []
    _, _, verbose = run(capsys, "validate", "-f", "dev.yaml", "--debug")
    # --debug adds log lines and nothing else.
    assert [line for line in verbose.splitlines() if not LOG_LINE.match(line)] == (
        quiet.splitlines()
    )


def test_debug_prints_the_traceback_of_an_error_that_ends_the_command(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "plan", "-f", "nope.yaml", "--debug")
    assert code == 1
    assert "Traceback (most recent call last):" in err
    assert (
        err.splitlines()[-2] == "Error: nope.yaml: cannot read manifest: No such file or directory"
    )


def test_apply_logs_each_action_at_debug(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "apply", "-f", "dev.yaml", "--auto-approve", "--debug")
    assert code == 0, err
    messages = [LOG_LINE.sub("", line) for line in log_lines(err)]
    for expected in (
        "local/churn: create started",
        "local/churn: recorded in state",
    ):
        assert expected in messages
    assert any(m.startswith("local/churn: create done in ") for m in messages)
    assert any(m.startswith("apply finished in ") for m in messages)


def _failing_apply(workdir: Path, test_plugins: ModuleType) -> None:
    target = workdir / "target"
    write_manifest(workdir / "two.yaml", TWO_ON_A_TEST_PLUGIN.format(directory=target))
    test_plugins.write_faults(target, {"fail": {"create_deployment": ["b"]}})


def _json_events(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_debug_keeps_the_traceback_of_a_plugin_failure_in_the_action_result(
    workdir: Path, capsys: pytest.CaptureFixture[str], test_plugins: ModuleType
) -> None:
    _failing_apply(workdir, test_plugins)
    argv = ["apply", "-f", "two.yaml", "--auto-approve", "--json", "--debug"]
    code, out, err = run(capsys, *argv)
    assert code == 1
    [errored] = [e for e in _json_events(out) if e["type"] == "apply_errored"]
    lines = str(errored["error"]).splitlines()
    assert lines[0] == (
        "target 't', create_deployment for t/b: InjectedFault: injected failure: "
        "create_deployment b"
    )
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "dtp_common.InjectedFault: injected failure: create_deployment b"
    messages = [LOG_LINE.sub("", line) for line in log_lines(err)]
    assert "t/b: create started" in messages
    assert any(m.startswith("t/b: create failed in ") for m in messages)


def test_debug_shows_the_traceback_in_the_terminal_results_table(
    workdir: Path, capsys: pytest.CaptureFixture[str], test_plugins: ModuleType
) -> None:
    _failing_apply(workdir, test_plugins)
    code, out, _ = run(capsys, "apply", "-f", "two.yaml", "--auto-approve", "--debug")
    assert code == 1
    assert "Traceback (most recent call last):" in out
    assert "dtp_common.InjectedFault" in out


def test_without_debug_a_failed_action_says_what_failed_in_one_line(
    workdir: Path, capsys: pytest.CaptureFixture[str], test_plugins: ModuleType
) -> None:
    _failing_apply(workdir, test_plugins)
    code, out, err = run(capsys, "apply", "-f", "two.yaml", "--auto-approve", "--json")
    assert code == 1
    [errored] = [e for e in _json_events(out) if e["type"] == "apply_errored"]
    assert errored["error"] == (
        "target 't', create_deployment for t/b: InjectedFault: injected failure: "
        "create_deployment b"
    )
    assert "Traceback" not in out + err
    assert log_lines(err) == []


def test_repeated_runs_in_one_process_do_not_pile_up_log_handlers(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = logging.getLogger("deployctl")
    handlers, level = list(package.handlers), package.level
    for _ in range(3):
        code, _, err = run(capsys, "--debug", "validate", "-f", "dev.yaml")
        assert code == 0
        assert package.handlers == handlers
        assert package.level == level
        # Each record is written once, by the one handler of this run.
        assert len([line for line in log_lines(err) if line.endswith(": validate")]) == 1
    _, _, err = run(capsys, "validate", "-f", "dev.yaml")
    assert log_lines(err) == []


def _version() -> str:
    from deployctl import __version__

    return __version__
