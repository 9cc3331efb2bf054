"""The command line: build the parser from the command modules, dispatch, map errors to exit codes.

Exit codes (``ExitCode``): 0 ok, 1 expected error, 2 changes present (``--detailed-exitcode``),
3 a bug (with a crash log), 130 interrupted.

``--debug`` (before or after the command) sends deployctl's DEBUG log records to stderr for the
length of the run, prints the traceback of an error that ends it, and keeps the traceback of an
action that failed unexpectedly in its result. ``--no-color`` (before or after the command, too)
makes the terminal output plain; ``NO_COLOR`` in the environment turns colours off as well.

SIGINT and SIGTERM are handled from the first line of ``main`` (``cli.signals``), before the
commands are imported: from then on a signal at any moment ends the run with exit code 130 and
no traceback. So that this happens as early as possible, the module imports only ``sys`` and
``cli.signals`` (``os`` and ``signal``) at the top, everything else where it is used; not even
``typing``. (A signal during the interpreter's own start-up, before this module runs, gets the
interpreter's default behaviour.)
"""

from __future__ import annotations

import sys

from deployctl import __version__
from deployctl.cli import signals

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (about 10 ms)
if TYPE_CHECKING:
    import argparse
    import logging
    from collections.abc import Callable, Sequence
    from typing import NoReturn

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    from deployctl.cli import commands, options
    from deployctl.cli.options import Parser

    parser = Parser(
        prog="deployctl",
        description="Declarative deployment management for machine-learning models.",
    )
    parser.add_argument("--version", action="version", version=f"deployctl {__version__}")
    options.global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in commands.ALL:
        module.register(sub)
    _add_global_flags_to_commands(parser)
    return parser


def _add_global_flags_to_commands(parser: argparse.ArgumentParser) -> None:
    """``--debug`` and ``--no-color`` on every command's parser (and on theirs), so that they
    may follow the command."""
    import argparse

    from deployctl.cli import options

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            # Aliases map several names to one parser: visit each parser once.
            for command in {id(p): p for p in action.choices.values()}.values():
                options.global_flags(command, command=True)
                _add_global_flags_to_commands(command)


class _DebugLogging:
    """With ``--debug``, deployctl's log records at DEBUG and above go to stderr during the run.

    The handler is removed (and the level restored) at the end, so calling ``main`` many times
    in one process does not pile up handlers or repeat lines.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.handler: logging.Handler | None = None
        self.level = 0

    def __enter__(self) -> None:
        import logging

        if not self.enabled:
            return
        package = logging.getLogger("deployctl")
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self.level = package.level
        package.addHandler(self.handler)
        package.setLevel(logging.DEBUG)

    def __exit__(self, *exc_info: object) -> None:
        import logging

        if self.handler is not None:
            package = logging.getLogger("deployctl")
            package.removeHandler(self.handler)
            package.setLevel(self.level)


def _crash_log(exc: BaseException) -> str:
    """Write the traceback of ``exc`` to a new private file (mode 0600); returns its path.

    It is meant to be attached to a bug report, so it holds no secret: ``--var`` values are
    written ``(redacted)``, so are passwords in URLs (``--state``, ``DEPLOYCTL_STATE``), and
    every sensitive value deployctl read is ``(sensitive)``.
    """
    import os
    import tempfile
    import traceback

    argv = _redacted_argv(sys.argv)
    text = "".join(traceback.format_exception(exc))
    fd, path = tempfile.mkstemp(prefix="deployctl-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(_redacted(f"deployctl {__version__}\nargv: {argv!r}\n\n{text}"))
    return path


def _redacted_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with each ``--var NAME=VALUE`` written ``--var NAME=(redacted)``."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--var":
            name, sep, _ = arg.partition("=")
            arg = f"{name}=(redacted)" if sep else "(redacted)"
        elif arg.startswith("--var="):
            name, sep, _ = arg.removeprefix("--var=").partition("=")
            arg = f"--var={name}=(redacted)" if sep else "--var=(redacted)"
        out.append(arg)
    return out


def _var_values(argv: Sequence[str]) -> list[str]:
    """The VALUEs of ``--var NAME=VALUE`` in ``argv``."""
    values = []
    for before, arg in zip(["", *argv], argv, strict=False):
        if before == "--var" or arg.startswith("--var="):
            values.append(arg.removeprefix("--var=").partition("=")[2])
    return values


def _redacted(text: str) -> str:
    """``text`` without URL passwords (``scheme://user:PASSWORD@host``), the password of
    ``DEPLOYCTL_STATE`` wherever it appears, a ``--var`` value, or a secret deployctl read."""
    import os
    import re
    from urllib.parse import unquote, urlsplit

    from deployctl.model.secrets import remembered
    from deployctl.model.sensitive import redact, searched

    for value in searched(_var_values(sys.argv)):
        text = text.replace(value, "(redacted)")
    passwords = []
    try:
        password = urlsplit(os.environ.get("DEPLOYCTL_STATE", "")).password
    except ValueError:
        password = None
    if password:
        passwords = sorted({password, unquote(password)}, key=len, reverse=True)
    for secret in passwords:
        text = text.replace(secret, "(redacted)")
    text = re.sub(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@", r"\1(redacted)@", text)
    return redact(text, remembered())


def run() -> NoReturn:
    """The ``deployctl`` console script (and ``python -m deployctl``): ``main()``, then an exit
    that does not tear the heap down (``cli.exiting``)."""
    from deployctl.cli import exiting

    exiting.begin()
    try:
        code: object = main()
    except SystemExit as exc:
        code = exc.code
    exiting.hard_exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    import gc

    # A run is short and makes few reference cycles, but millions of objects (a large manifest,
    # state and plan): the cyclic collector's passes over them cost more than all the planning.
    # It is off for the run, and back as it was when ``main`` returns (tests call it many times).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main_with_signals(argv)
    finally:
        if collecting:
            gc.enable()


def _main_with_signals(argv: Sequence[str] | None) -> int:
    signals.install()
    code: int | None = None
    exiting: SystemExit | None = None  # argparse's, for --help, --version or a usage error
    while True:
        # The handler raises KeyboardInterrupt for the first signal only (``cli.signals``),
        # wherever it lands: in start-up or parsing, before the command could catch it, or
        # after it returned but before ``finish``; so this loop runs at most twice.
        try:
            if code is None and exiting is None:
                try:
                    code = _main(argv)
                except SystemExit as exc:
                    exiting = exc
            signals.finish()
            break
        except KeyboardInterrupt:
            if code is None and exiting is None:
                sys.stderr.write("Interrupted.\n")
                code = signals.INTERRUPTED
    if exiting is not None:
        raise exiting
    assert code is not None
    return code


def _main(argv: Sequence[str] | None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:
        # What argparse's version action prints, without importing every command to build
        # the parser first.
        sys.stdout.write(f"deployctl {__version__}\n")
        raise SystemExit(0)
    from deployctl.console.encoding import make_safe

    # A console that cannot encode Unicode gets escapes, never a UnicodeEncodeError.
    make_safe(sys.stdout)
    make_safe(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    import logging  # after parsing: --help and usage errors need no logging (nor traceback)

    logger = logging.getLogger(__name__)
    with _DebugLogging(args.debug):
        logger.debug("deployctl %s: %s", __version__, args.command)
        code = _run(args)
        logger.debug("exit code %d", code)
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; every error that ends it mapped to its code and message."""
    import traceback

    from deployctl.cli.exit_codes import ExitCode
    from deployctl.errors import DeployctlError, ManifestError

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
            f"deployctl crashed: {type(exc).__name__}: {_redacted(str(exc))}\n"
            f"This is a bug; the traceback is in {path} (rerun with --debug to print it).\n"
        )
        return ExitCode.BUG


if __name__ == "__main__":  # pragma: no cover
    run()
