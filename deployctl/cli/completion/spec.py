"""What a completion script completes, read from the argparse parser deployctl runs with.

A ``CommandSpec`` per command (``deployctl`` itself, ``plan``, ``state``, ``state list``, …):
its subcommands, its options and its positional arguments. An option either is a flag or takes
a value; a value is one of its ``choices``, a file, or free text. A value is a file when its
metavar (or one of its ``|`` alternatives) names one (``FILE_METAVARS``: ``-f MANIFEST|DIR``,
``--out PLANFILE``, ``--input FILE``, ``apply [PLANFILE]``), so a new option spelled the house
way is completed right without a list kept here. Options whose help is ``argparse.SUPPRESS``
are left out, as ``--help`` leaves them out.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

# Metavars (or alternatives of one: ``MANIFEST|DIR``, ``URL|PATH``) that name a path.
FILE_METAVARS: Final = frozenset({"MANIFEST", "PLANFILE", "FILE", "PATH", "DIR"})

FLAG: Final = "flag"
FILES: Final = "files"
CHOICES: Final = "choices"
TEXT: Final = "text"


@dataclass(frozen=True)
class ValueSpec:
    """What an option or positional argument takes: ``FLAG`` (nothing), ``FILES``, ``CHOICES``
    (one of ``choices``) or ``TEXT``; ``metavar`` names it in help (``MANIFEST``)."""

    kind: str
    metavar: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class OptionSpec:
    """One option: its spellings (``("-f", "--file")``), its one-line help, its value, and
    whether it may be given more than once."""

    names: tuple[str, ...]
    help: str
    value: ValueSpec
    repeatable: bool = False

    @property
    def takes_value(self) -> bool:
        return self.value.kind != FLAG


@dataclass(frozen=True)
class CommandSpec:
    """One command: ``path`` is its words after ``deployctl`` (``()`` for deployctl itself,
    ``("state", "list")``). ``positionals`` are its positional arguments in order (a
    subcommand's name is not one); ``optional`` counts those at the end that may be left out,
    and ``variadic`` says whether the last one takes any number of values."""

    path: tuple[str, ...]
    help: str
    options: tuple[OptionSpec, ...]
    subcommands: tuple[CommandSpec, ...] = ()
    positionals: tuple[ValueSpec, ...] = ()
    optional: int = 0
    variadic: bool = False

    @property
    def name(self) -> str:
        """The command's words, ``state list`` (empty for deployctl itself)."""
        return " ".join(self.path)

    def walk(self) -> Iterator[CommandSpec]:
        """This command and every command below it, parents first."""
        yield self
        for sub in self.subcommands:
            yield from sub.walk()

    def positional_values(self) -> tuple[ValueSpec, ...]:
        """What the positional arguments take, once each (for shells that do not count them)."""
        seen: dict[ValueSpec, None] = {}
        for value in self.positionals:
            seen.setdefault(value)
        return tuple(seen)


def read_parser(parser: argparse.ArgumentParser) -> CommandSpec:
    """The command tree of ``parser`` (deployctl's, from ``cli.main.build_parser``)."""
    return _command(parser, (), parser.description or "")


def _command(parser: argparse.ArgumentParser, path: tuple[str, ...], summary: str) -> CommandSpec:
    options: list[OptionSpec] = []
    positionals: list[ValueSpec] = []
    subcommands: list[CommandSpec] = []
    optional = 0
    variadic = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                subcommands.append(_command(sub, (*path, name), _one_line(helps.get(name, ""))))
        elif action.help == argparse.SUPPRESS:
            continue
        elif action.option_strings:
            options.append(
                OptionSpec(
                    names=tuple(action.option_strings),
                    help=_one_line(_expanded_help(action)),
                    value=_value(action),
                    repeatable=isinstance(action, argparse._AppendAction | argparse._CountAction),
                )
            )
        else:
            positionals.append(_value(action))
            optional = optional + 1 if action.nargs in ("?", "*") else 0
            variadic = action.nargs in ("*", "+", argparse.REMAINDER)
    return CommandSpec(
        path=path,
        help=summary,
        options=tuple(options),
        subcommands=tuple(subcommands),
        positionals=tuple(positionals),
        optional=optional,
        variadic=variadic,
    )


def _value(action: argparse.Action) -> ValueSpec:
    if action.nargs == 0:
        return ValueSpec(FLAG)
    metavar = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if action.choices is not None:
        return ValueSpec(CHOICES, metavar, tuple(str(choice) for choice in action.choices))
    is_path = any(part in FILE_METAVARS for part in metavar.split("|"))
    return ValueSpec(FILES if is_path else TEXT, metavar)


def _expanded_help(action: argparse.Action) -> str:
    """The help text with argparse's ``%(default)s``-style fields filled in."""
    text = action.help or ""
    if "%" not in text:
        return text
    fields = {**vars(action), "prog": ""}
    try:
        return text % fields
    except (KeyError, TypeError, ValueError):
        return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


__all__ = [
    "CHOICES",
    "FILES",
    "FILE_METAVARS",
    "FLAG",
    "TEXT",
    "CommandSpec",
    "OptionSpec",
    "ValueSpec",
    "read_parser",
]
