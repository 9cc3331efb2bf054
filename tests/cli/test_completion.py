"""``deployctl completion bash|zsh|fish``: scripts generated from the real parser.

The bash script is sourced in a real bash and its function called as bash calls it (``COMP_WORDS``,
``COMP_CWORD``); what it offers is compared with what argparse itself says the parser takes.
zsh and fish scripts are syntax-checked with ``zsh -n`` and ``fish -n`` when those shells are
installed (they are not deployctl's components: without them those tests skip, in CI too).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import deployctl_script, require_program, run_cli

from deployctl.cli.main import build_parser

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def script(shell: str, tmp_path: Path) -> Path:
    result = run_cli("completion", shell, cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.err == ""
    path = tmp_path / f"deployctl.{shell}"
    path.write_text(result.out, encoding="utf-8")
    return path


def bash(tmp_path: Path, code: str) -> str:
    assert BASH is not None
    proc = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", f"source {script('bash', tmp_path)}\n{code}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def complete(tmp_path: Path, *words: str) -> list[str]:
    """What the bash completion offers for ``deployctl WORDS``, the cursor on the last word."""
    array = " ".join(f"'{word}'" for word in ("deployctl", *words))
    out = bash(
        tmp_path,
        f"COMP_WORDS=({array}); COMP_CWORD={len(words)}; _deployctl; "
        'printf "%s\\n" "${COMPREPLY[@]}"',
    )
    return sorted(line for line in out.splitlines() if line)


def parsers() -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command path of the real parser, and its parser (``()`` for deployctl itself)."""

    def walk(
        path: tuple[str, ...], parser: argparse.ArgumentParser
    ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk((*path, name), sub)

    yield from walk((), build_parser())


def commands_of(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    )


# -- bash --


@needs_bash
def test_the_bash_script_sourced_from_the_command_completes_a_command(tmp_path: Path) -> None:
    # Exactly as a user installs it: the console script's output, sourced by bash.
    env = {
        **os.environ,
        "PATH": f"{Path(deployctl_script()).parent}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(
        [
            "bash",
            "-c",
            "source <(deployctl completion bash); COMP_WORDS=(deployctl pl); COMP_CWORD=1; "
            "_deployctl; echo ${COMPREPLY[@]}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "plan\n", "")


@needs_bash
@pytest.mark.parametrize(
    ("words", "offered"),
    [
        (("pl",), ["plan"]),
        (("st",), ["state"]),
        (("state", "l"), ["list"]),
        (("--debug", "va"), ["validate"]),
        (("--no-color", "--debug", "ap"), ["apply"]),
        (("completion", ""), ["bash", "fish", "zsh"]),
        (("completion", "z"), ["zsh"]),
        (("plan", "--detailed"), ["--detailed-exitcode"]),
        (("plan", "-f", "dev.yaml", "--j"), ["--json"]),
        (("state", "list", "--e"), ["--environment"]),
        (("plan", "--parallelism", ""), []),  # a number: nothing to offer
        (("plan", "--var", ""), []),  # NAME=VALUE: nothing to offer
    ],
)
def test_bash_completes_commands_options_and_choices(
    tmp_path: Path, words: tuple[str, ...], offered: list[str]
) -> None:
    assert complete(tmp_path, *words) == offered


@needs_bash
@pytest.mark.parametrize(
    "words",
    [
        ("plan", "-f", ""),
        ("plan", "--file", "d"),
        ("plan", "--out", ""),
        ("predict", "local/churn", "--input", ""),
        ("apply", ""),  # apply PLANFILE
        ("show", ""),  # show PLANFILE
        ("plan", "--out", "=", ""),  # --out=… as bash splits it
    ],
)
def test_bash_completes_files_where_a_file_is_expected(
    tmp_path: Path, words: tuple[str, ...]
) -> None:
    (tmp_path / "dev.yaml").write_text("")
    (tmp_path / "environments").mkdir()
    offered = complete(tmp_path, *words)
    assert "dev.yaml" in offered
    assert "environments" in offered or words[-1] == "d"


@needs_bash
def test_bash_offers_every_command_and_option_the_parser_has(tmp_path: Path) -> None:
    paths = list(parsers())
    calls = "".join(
        f'echo "@{" ".join(path)}"; _deployctl_commands "{" ".join(path)}"; '
        f'_deployctl_options "{" ".join(path)}"\n'
        for path, _ in paths
    )
    sections = bash(tmp_path, calls).split("@")[1:]
    assert len(sections) == len(paths) > 20
    for (path, parser), section in zip(paths, sections, strict=True):
        name, *lines = section.splitlines()
        assert name == " ".join(path)
        words = " ".join(lines).split()
        options = sorted(
            option
            for action in parser._actions
            if action.help != argparse.SUPPRESS
            for option in action.option_strings
        )
        assert "--no-color" in options and "--debug" in options, path
        assert sorted(w for w in words if w.startswith("-")) == options, path
        assert sorted(w for w in words if not w.startswith("-")) == commands_of(parser), path


# -- zsh and fish: their own syntax check, where the shell is installed --


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_pass_their_shells_syntax_check(tmp_path: Path, shell: str) -> None:
    program = require_program(shell, f"apt-get install {shell}")
    path = script(shell, tmp_path)
    proc = subprocess.run([program, "-n", str(path)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")


def option_help(path: tuple[str, ...], option: str) -> str:
    parser = dict(parsers())[path]
    return " ".join(str(parser._option_string_actions[option].help).split())


def test_fish_completes_commands_options_choices_and_files(tmp_path: Path) -> None:
    program = require_program("fish", "apt-get install fish")
    path = script("fish", tmp_path)
    (tmp_path / "dev.yaml").write_text("")

    def offered(line: str) -> list[str]:
        proc = subprocess.run(
            [program, "--no-config", "-c", f"source {path}; complete -C '{line}'"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return sorted(out.split("\t")[0] for out in proc.stdout.splitlines())

    assert offered("deployctl pl") == ["plan"]
    assert offered("deployctl --debug state l") == ["list"]
    assert offered("deployctl state list --j") == ["--json"]
    assert offered("deployctl completion ") == ["bash", "fish", "zsh"]
    assert "dev.yaml" in offered("deployctl plan --out ")
    assert offered("deployctl plan --var ") == []


def test_the_zsh_script_describes_every_command_and_completes_manifests_as_files(
    tmp_path: Path,
) -> None:
    text = script("zsh", tmp_path).read_text()
    assert text.startswith("#compdef deployctl\n")
    for name in commands_of(build_parser()):
        assert f"_deployctl_cmd_{name.replace('-', '_')}() {{" in text
    described = option_help(("validate",), "-f").replace("'", "'\\''")
    assert f"'(-f --file)'{{-f,--file}}'[{described}]:MANIFEST:_files'" in text
    assert "'1:SHELL:(bash zsh fish)'" in text
    assert "compdef _deployctl deployctl" in text


def test_the_fish_script_completes_each_command_at_its_own_path(tmp_path: Path) -> None:
    text = script("fish", tmp_path).read_text()
    at_validate = "complete -c deployctl -n '__deployctl_at \\'validate\\''"
    described = option_help(("validate",), "-f").replace("'", "\\'")
    assert f"{at_validate} -s f -l file -r -F -d '{described}'" in text
    assert "-n '__deployctl_at \\'plan\\'' -l out -r -F -d" in text
    assert "-n '__deployctl_at \\'state list\\'' -l json" in text
    assert "-n '__deployctl_at \\'completion\\'' -a 'bash zsh fish'" in text
    assert "-n '__deployctl_at \\'\\'' -a 'plan' -d 'show what apply would change'" in text


# -- the command --


def test_completion_help_says_how_to_install_each_script(tmp_path: Path) -> None:
    result = run_cli("completion", "--help", cwd=tmp_path)
    assert result.code == 0
    assert "source <(deployctl completion bash)" in result.out
    assert 'deployctl completion zsh > "${fpath[1]}/_deployctl"' in result.out
    assert "deployctl completion fish > ~/.config/fish/completions/deployctl.fish" in result.out


def test_an_unknown_shell_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = run_cli("completion", "tcsh", cwd=tmp_path)
    assert result.code == 1
    assert result.out == ""
    assert result.err.splitlines()[-1] == (
        "Error: argument SHELL: invalid choice: 'tcsh' (choose from 'bash', 'zsh', 'fish')"
    )
