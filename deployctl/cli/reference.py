"""The command reference: the generated parts of ``docs/cli.md``, read from the real parser.

``docs/cli.md`` is prose written by hand around blocks that this module writes: the table of
commands, and for each command its usage line and a table of its options (value, default,
help), taken from the argparse parser that ``deployctl`` itself runs. A block is delimited by

    <!-- generated: options deployctl plan -->
    ...
    <!-- end generated -->

A command the file has no block for gets a new section, with its block, where the line
``<!-- new commands -->`` stands; a block for a command that no longer exists is emptied, with
a note. Regenerate with::

    python -m deployctl.cli.reference docs/cli.md

(``--check`` only reports whether the file is up to date). ``tests/test_docs.py`` fails when it
is not.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REGENERATE = "python -m deployctl.cli.reference docs/cli.md"
NEW_COMMANDS = "<!-- new commands -->"
END = "<!-- end generated -->"
_BLOCK = re.compile(r"<!-- generated: (?P<name>[^>]*?) -->\n(?P<body>.*?)" + re.escape(END), re.S)
# Usage lines are wrapped at this width whatever the terminal, so that the file is stable.
_WIDTH = 100


@dataclass(frozen=True)
class Command:
    """One command line that runs something: ``deployctl plan``, ``deployctl state list``."""

    name: str
    parser: argparse.ArgumentParser
    help: str

    @property
    def anchor(self) -> str:
        """The anchor GitHub gives the section heading ``### `deployctl NAME```."""
        return self.name.replace(" ", "-")


def commands(parser: argparse.ArgumentParser) -> list[Command]:
    """Every command of ``parser`` that runs something, in ``--help`` order; a command that only
    groups others (``state``) is left out, its subcommands are in."""
    found: list[Command] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen:  # an alias of a command already listed
                continue
            seen.add(id(sub))
            below = commands(sub)
            found.extend(below or [Command(sub.prog, sub, helps.get(name, ""))])
    return found


def usage(parser: argparse.ArgumentParser) -> str:
    """The usage line(s) of ``parser``, wrapped at a fixed width."""
    formatter = argparse.HelpFormatter(parser.prog, width=_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def options_table(parser: argparse.ArgumentParser) -> Iterator[str]:
    """A Markdown table of the arguments and options of ``parser`` (``--help`` left out)."""
    exclusive: dict[int, list[str]] = {}
    for group in parser._mutually_exclusive_groups:
        for action in group._group_actions:
            others = [a.option_strings[-1] for a in group._group_actions if a is not action]
            exclusive[id(action)] = others
    yield "| option | value | default | description |"
    yield "| --- | --- | --- | --- |"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        yield "| " + " | ".join(_row(parser, action, exclusive.get(id(action), []))) + " |"


def _row(parser: argparse.ArgumentParser, action: argparse.Action, others: list[str]) -> list[str]:
    value = _metavar(action)
    if action.option_strings:
        name = ", ".join(f"`{_cell(o)}`" for o in action.option_strings)
        if action.required:
            name += " (required)"
        value = f"`{_cell(value)}`" if value else ""
    else:
        name = f"`{_cell(value)}`" + {"?": " (optional)", "+": " (one or more)"}.get(
            str(action.nargs), ""
        )
        value = "argument"
    text = _help(parser, action)
    if others:
        text += " (not with " + " or ".join(others) + ")"
    return [name, value, _cell(_default(action)), _cell(_prose(text))]


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if isinstance(action.metavar, str):
        return action.metavar
    if action.option_strings:
        return action.dest.upper()
    return action.dest


def _default(action: argparse.Action) -> str:
    default = action.default
    if action.nargs == 0 or default in (None, argparse.SUPPRESS) or default == []:
        return ""
    return f"`{default}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = action.help or ""
    if "%" in text:
        params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
        text = text % {**params, "prog": parser.prog}
    return text


def _prose(text: str) -> str:
    """Help text as Markdown text: ``<environment>`` is text, not an HTML tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: str) -> str:
    """Text for a table cell, where ``|`` would end the cell (also inside code spans)."""
    return text.replace("|", "\\|")


def command_table(found: Sequence[Command]) -> Iterator[str]:
    yield "| command | what it does |"
    yield "| --- | --- |"
    for command in found:
        yield f"| [`{command.name}`](#{command.anchor}) | {_cell(_prose(command.help))} |"


def block(name: str, parser: argparse.ArgumentParser, found: Sequence[Command]) -> str:
    """The generated text of the block called ``name``."""
    if name == "commands":
        return "\n".join(command_table(found)) + "\n"
    by_name = {c.name: c.parser for c in found}
    by_name[parser.prog] = parser
    command = name.removeprefix("options ")
    if not name.startswith("options ") or command not in by_name:
        return f"(no command '{command}' any more: remove this section)\n"
    target = by_name[command]
    return f"```text\n{usage(target)}\n```\n\n" + "\n".join(options_table(target)) + "\n"


def _new_section(command: Command) -> str:
    return (
        f"### `{command.name}`\n\n{_prose(command.help)}\n\n"
        f"<!-- generated: options {command.name} -->\n{END}\n\n"
    )


def update(text: str, parser: argparse.ArgumentParser) -> str:
    """``text`` (the content of ``docs/cli.md``) with every generated block written anew."""
    found = commands(parser)
    present = {m.group("name") for m in _BLOCK.finditer(text)}
    missing = [c for c in found if f"options {c.name}" not in present]
    if missing and NEW_COMMANDS in text:
        sections = "".join(_new_section(c) for c in missing)
        text = text.replace(NEW_COMMANDS, sections + NEW_COMMANDS, 1)

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        return f"<!-- generated: {name} -->\n{block(name, parser, found)}{END}"

    return _BLOCK.sub(fill, text)


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrites the generated blocks of the file named in ``argv`` (see the module docstring);
    with ``--check``, exits 1 when they are not up to date instead."""
    from deployctl.cli.main import build_parser

    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        sys.stderr.write(f"usage: {REGENERATE} [--check]\n")
        return 1
    path = Path(paths[0])
    text = path.read_text(encoding="utf-8")
    new = update(text, build_parser())
    if new == text:
        return 0
    if check:
        sys.stderr.write(f"{path} is not up to date: run {REGENERATE}\n")
        return 1
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
