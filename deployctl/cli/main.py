"""The command line: build the parser from the command modules, dispatch, map errors to exit codes.

Exit codes (``ExitCode``): 0 ok, 1 expected error, 2 changes present (``--detailed-exitcode``),
3 a bug (with a crash log), 130 interrupted.

``--debug`` (before or after the command) sends deployctl's DEBUG log records to stderr for the
length of the run, prints the traceback of an error that ends it, and keeps the traceback of an
action that failed unexpectedly in its result.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence

from deployctl import __version__
from deployctl.cli import commands, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.cli.options import Parser
from deployctl.errors import DeployctlError, ManifestError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="deployctl",
        description="Declarative deployment management for machine-learning models.",
    )
    parser.add_argument("--version", action="version", version=f"deployctl {__version__}")
    options.debug(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in commands.ALL:
        module.register(sub)
    _add_debug_to_commands(parser)
    return parser


def _add_debug_to_commands(parser: argparse.ArgumentParser) -> None:
    """``--debug`` on every command's parser (and on theirs), so it may follow the command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            # Aliases map several names to one parser: visit each parser once.
            for command in {id(p): p for p in action.choices.values()}.values():
                options.debug(command, command=True)
                _add_debug_to_commands(command)


@contextlib.contextmanager
def _debug_logging(enabled: bool) -> Iterator[None]:
    """With ``--debug``, deployctl's log records at DEBUG and above go to stderr during the run.

    The handler is removed (and the level restored) at the end, so calling ``main`` many times
    in one process does not pile up handlers or repeat lines.
    """
    if not enabled:
        yield
        return
    package = logging.getLogger("deployctl")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    level = package.level
    package.addHandler(handler)
    package.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)


def _crash_log(exc: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix="deployctl-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(f"deployctl {__version__}\nargv: {sys.argv!r}\n\n")
        traceback.print_exception(exc, file=f)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    from deployctl.console.encoding import make_safe

    # A console that cannot encode Unicode gets escapes, never a UnicodeEncodeError.
    make_safe(sys.stdout)
    make_safe(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    with _debug_logging(args.debug):
        logger.debug("deployctl %s: %s", __version__, args.command)
        code = _run(args)
        logger.debug("exit code %d", code)
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; every error that ends it mapped to its code and message."""
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ManifestError as exc:
        if args.debug:
            traceback.print_exc()
        for issue in exc.issues:
            sys.stderr.write(f"{issue}\n")
        return ExitCode.ERROR
    except DeployctlError as exc:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"Error: {exc}\n")
        return ExitCode.ERROR
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.ERROR
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        path = _crash_log(exc)
        sys.stderr.write(
            f"deployctl crashed: {type(exc).__name__}: {exc}\n"
            f"This is a bug; the traceback is in {path} (rerun with --debug to print it).\n"
        )
        return ExitCode.BUG


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
