"""Option groups shared by several commands, so every command spells them the same way."""

from __future__ import annotations

import argparse
import sys
from typing import TypeAlias


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit 1 (not argparse's 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"Error: {message}\n")
        raise SystemExit(1)


Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def manifest(p: argparse.ArgumentParser, *, required: bool = True, several: bool = False) -> None:
    """``-f MANIFEST`` and ``--var``; ``several``: ``-f`` may be repeated and name folders
    (``args.manifest`` is then a list)."""
    if several:
        p.add_argument(
            "-f",
            "--file",
            dest="manifest",
            action="append",
            required=required,
            metavar="MANIFEST|DIR",
            help="an environment's manifest (YAML), or a folder of them; repeat it to plan "
            "several environments",
        )
    else:
        p.add_argument(
            "-f",
            "--file",
            dest="manifest",
            required=required,
            metavar="MANIFEST",
            help="the environment's manifest (YAML)",
        )
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a manifest variable (repeatable)",
    )


def state(p: argparse.ArgumentParser, *, environment: bool = False) -> None:
    p.add_argument(
        "--state",
        metavar="URL|PATH",
        help="where the state lives: postgresql://USER@HOST/DB, s3://BUCKET/PREFIX/ or a file "
        "(default: DEPLOYCTL_STATE, else the manifest's state:, else state/<environment>.json "
        "next to the manifest)",
    )
    if environment:
        p.add_argument(
            "-e",
            "--environment",
            help="the environment (its state in a shared backend, or state/<ENVIRONMENT>.json)",
        )


def lock(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout",
        default="0s",
        metavar="DURATION",
        help="wait this long for the state lock, e.g. 30s or 5m (default: fail at once)",
    )


def parallelism(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument(
        "--parallelism",
        type=int,
        default=default,
        metavar="N",
        help=f"how many target calls run at once (default {default})",
    )


def color(p: argparse.ArgumentParser) -> None:
    """``--no-color`` where a command declares it, to place it in its help. Every command accepts
    it anyway, before the command and after it (``global_flags``)."""
    _no_color(p, command=True)


def global_flags(p: argparse.ArgumentParser, *, command: bool = False) -> None:
    """``--debug`` and ``--no-color``, accepted before the command and after it: ``cli.main``
    adds them to deployctl's parser and to every command's (``command=True``), unless the
    command declared one itself."""
    declared = p._option_string_actions
    if "--debug" not in declared:
        debug(p, command=command)
    if "--no-color" not in declared:
        _no_color(p, command=command)


def _no_color(p: argparse.ArgumentParser, *, command: bool) -> None:
    # No default on a command's parser: see ``debug``.
    p.add_argument(
        "--no-color",
        action="store_true",
        default=argparse.SUPPRESS if command else False,
        help="plain output, without colours or styles (NO_COLOR=1 turns colours off too)",
    )


def plan_format(p: argparse.ArgumentParser) -> None:
    """``--json`` or ``--markdown``: how ``plan`` and ``show`` print a plan."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    group.add_argument(
        "--markdown",
        action="store_true",
        help="print the plan as a Markdown pull-request comment",
    )


def selection(p: argparse.ArgumentParser) -> None:
    """``--target``/``--exclude`` (repeatable) and ``--max-deletes``."""
    p.add_argument(
        "--target",
        dest="targets",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="only plan this TARGET/NAME, or every deployment of TARGET (repeatable)",
    )
    p.add_argument(
        "--exclude",
        dest="excludes",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="leave this TARGET/NAME, or all of TARGET, out of the plan (repeatable)",
    )
    p.add_argument(
        "--max-deletes",
        type=int,
        metavar="N",
        help="refuse a plan that deletes (or replaces) more than N deployments",
    )


def debug(p: argparse.ArgumentParser, *, command: bool = False) -> None:
    """``--debug``, accepted before the command and after it.

    On a command's parser (``command=True``) it has no default: argparse copies a subparser's
    defaults over the top-level namespace, which would reset a ``--debug`` given before it.
    """
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if command else False,
        help="log what deployctl does to stderr and show the tracebacks of errors",
    )
