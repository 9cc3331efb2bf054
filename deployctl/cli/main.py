"""The command line: build the parser from the command modules, dispatch, map errors to exit codes.

Exit codes: 0 ok, 1 expected error, 2 changes present (``--detailed-exitcode``), 3 a bug
(with a crash log), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence

from deployctl import __version__
from deployctl.cli import commands
from deployctl.cli.options import Parser
from deployctl.errors import DeployctlError, ManifestError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="deployctl",
        description="Declarative deployment management for machine-learning models.",
    )
    parser.add_argument("--version", action="version", version=f"deployctl {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in commands.ALL:
        module.register(sub)
    return parser


def _crash_log(exc: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix="deployctl-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(f"deployctl {__version__}\nargv: {sys.argv!r}\n\n")
        traceback.print_exception(exc, file=f)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ManifestError as exc:
        if args.debug:
            traceback.print_exc()
        for issue in exc.issues:
            sys.stderr.write(f"{issue}\n")
        return EXIT_ERROR
    except DeployctlError as exc:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        path = _crash_log(exc)
        sys.stderr.write(
            f"deployctl crashed: {type(exc).__name__}: {exc}\n"
            f"This is a bug; the traceback is in {path} (rerun with --debug to print it).\n"
        )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
