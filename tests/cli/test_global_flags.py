"""``--debug`` and ``--no-color`` before or after any command; ``NO_COLOR`` in the environment.

Colour needs a terminal, which ``run_cli``'s captured streams are not: ``FORCE_COLOR=1`` makes the
console write as to one (rich reads it), so that colour is there to be turned off. ``CI`` is
emptied because deployctl writes plain text in CI whatever the flags say.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from support import ONE_DEPLOYMENT, run_cli, write_manifest

from deployctl.cli.main import build_parser

ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# SGR colour parameters: 30-37, 38;…, 90-97 (foreground) and their backgrounds.
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7]|4[0-8]|10[0-7])[;m]")
TERMINAL = {"FORCE_COLOR": "1", "NO_COLOR": "", "CI": ""}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT)
    return tmp_path


def parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every command path of the real parser (``()``: deployctl itself), and its parser."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
        found[path] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk((*path, name), sub)

    walk((), build_parser())
    return found


def test_plan_on_a_terminal_is_coloured(workdir: Path) -> None:
    # The baseline the tests below turn off: without it they would prove nothing.
    result = run_cli("plan", "-f", "dev.yaml", cwd=workdir, env=TERMINAL)
    assert result.code == 0, result.err
    assert COLOUR.search(result.out + result.err)


@pytest.mark.parametrize(
    "argv",
    [
        ("--no-color", "plan", "-f", "dev.yaml"),
        ("plan", "--no-color", "-f", "dev.yaml"),
        ("plan", "-f", "dev.yaml", "--no-color"),
        ("--debug", "--no-color", "plan", "-f", "dev.yaml"),
        ("plan", "-f", "dev.yaml", "--debug", "--no-color"),
    ],
)
def test_no_color_before_or_after_the_command_makes_the_output_plain(
    workdir: Path, argv: tuple[str, ...]
) -> None:
    result = run_cli(*argv, cwd=workdir, env=TERMINAL)
    assert result.code == 0, result.err
    assert "+ create local/churn" in result.out
    assert not ESCAPE.search(result.out + result.err)


def test_no_color_in_the_environment_turns_colours_off(workdir: Path) -> None:
    result = run_cli("plan", "-f", "dev.yaml", cwd=workdir, env={**TERMINAL, "NO_COLOR": "1"})
    assert result.code == 0, result.err
    assert "+ create local/churn" in ESCAPE.sub("", result.out)
    # Colours only (https://no-color.org): bold and dim stay, as on any terminal.
    assert not COLOUR.search(result.out + result.err)


@pytest.mark.parametrize("where", ["before", "after"])
def test_no_color_is_accepted_by_commands_that_print_no_colour(workdir: Path, where: str) -> None:
    argv = ("validate", "-f", "dev.yaml")
    argv = ("--no-color", *argv) if where == "before" else (*argv, "--no-color")
    result = run_cli(*argv, cwd=workdir)
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith("dev.yaml: valid")


@pytest.mark.parametrize("flag", ["--debug", "--no-color"])
def test_deployctl_and_every_command_accept_the_global_flags(flag: str) -> None:
    found = parsers()
    assert len(found) > 20
    for path, parser in found.items():
        usage = parser.format_usage()
        assert f"[{flag}]" in usage, (path, usage)


def test_debug_and_no_color_after_a_subcommand_of_state(workdir: Path) -> None:
    run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=workdir)
    result = run_cli(
        "state", "list", "-f", "dev.yaml", "--debug", "--no-color", cwd=workdir, env=TERMINAL
    )
    assert result.code == 0, result.err
    assert "local/churn" in result.out
    assert " DEBUG deployctl" in result.err
    assert not ESCAPE.search(result.out)
