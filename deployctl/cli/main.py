"""The command line: parse arguments, dispatch to one command module, map errors to exit codes.

Exit codes: 0 ok, 1 expected error, 2 changes present (``--detailed-exitcode``), 3 a bug
(with a crash log), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence

from deployctl import __version__
from deployctl.errors import DeployctlError, ManifestError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit 1 (not argparse's 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"Error: {message}\n")
        raise SystemExit(EXIT_ERROR)


def _manifest_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
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


def _state_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state",
        metavar="PATH",
        help="state file (default: state/<environment>.json under the current directory)",
    )


def _lock_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lock-timeout",
        default="0s",
        metavar="DURATION",
        help="wait this long for the state lock, e.g. 30s or 5m (default: fail at once)",
    )


def _parallelism(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument(
        "--parallelism",
        type=int,
        default=default,
        metavar="N",
        help=f"how many target calls run at once (default {default})",
    )


def _color(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-color", action="store_true", help="plain output without colours")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="deployctl",
        description="Declarative deployment management for machine-learning models.",
    )
    parser.add_argument("--version", action="version", version=f"deployctl {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("validate", help="check a manifest without contacting any target")
    _manifest_args(p)

    p = sub.add_parser("plan", help="show what apply would change")
    _manifest_args(p)
    _state_args(p)
    _parallelism(p, 8)
    _color(p)
    p.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    p.add_argument("--out", metavar="PLANFILE", help="save the plan for 'deployctl apply PLANFILE'")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.add_argument("--destroy", action="store_true", help="plan the deletion of everything managed")

    for name, help_text in (
        ("apply", "apply a manifest (after confirmation) or a saved plan"),
        ("destroy", "delete every deployment the manifest's state manages"),
    ):
        p = sub.add_parser(name, help=help_text)
        if name == "apply":
            p.add_argument("planfile", nargs="?", metavar="PLANFILE", help="a saved plan to apply")
            _manifest_args(p, required=False)
        else:
            _manifest_args(p)
        _state_args(p)
        _lock_args(p)
        _parallelism(p, 4)
        _color(p)
        p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")

    p = sub.add_parser("state", help="inspect and edit the state")
    state_sub = p.add_subparsers(dest="state_command", metavar="SUBCOMMAND", parser_class=_Parser)
    state_sub.required = True
    for name, help_text in (
        ("list", "list the managed deployments"),
        ("show", "show one managed deployment"),
        ("rm", "forget deployments without touching their targets"),
    ):
        sp = state_sub.add_parser(name, help=help_text)
        _manifest_args(sp, required=False)
        _state_args(sp)
        sp.add_argument("-e", "--environment", help="use state/<ENVIRONMENT>.json")
        if name == "list":
            sp.add_argument("--json", action="store_true", help="print a JSON list of records")
        elif name == "show":
            sp.add_argument("address", metavar="ADDRESS")
        else:
            sp.add_argument("addresses", nargs="+", metavar="ADDRESS")
            _lock_args(sp)

    sub.add_parser("targets", help="list the installed target plugins")

    p = sub.add_parser("target-help", help="print a target plugin's own help")
    p.add_argument("scheme", metavar="SCHEME")

    p = sub.add_parser("predict", help="score a CSV or JSON file against a deployment")
    p.add_argument("address", metavar="ADDRESS")
    p.add_argument("--input", required=True, metavar="FILE", help="FILE.csv or FILE.json")
    p.add_argument("--json", action="store_true", help="print predictions as JSON records")
    _manifest_args(p, required=False)
    _state_args(p)
    p.add_argument("-e", "--environment", help="use state/<ENVIRONMENT>.json")

    p = sub.add_parser("force-unlock", help="remove a state lock left by a dead process")
    p.add_argument("lock_id", nargs="?", metavar="LOCK_ID", help="only remove this lock")
    _manifest_args(p, required=False)
    _state_args(p)
    p.add_argument("-e", "--environment", help="use state/<ENVIRONMENT>.json")
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    from deployctl.cli import commands

    handler = {
        "validate": commands.validate.run,
        "plan": commands.plan.run,
        "apply": commands.apply.run,
        "destroy": commands.apply.run_destroy,
        "state": commands.state.run,
        "targets": commands.targets.run,
        "target-help": commands.targets.run_help,
        "predict": commands.predict.run,
        "force-unlock": commands.state.run_force_unlock,
    }[args.command]
    return handler(args)


def _crash_log(exc: BaseException) -> str:
    fd, path = tempfile.mkstemp(prefix="deployctl-crash-", suffix=".log")
    with os.fdopen(fd, "w") as f:
        f.write(f"deployctl {__version__}\nargv: {sys.argv!r}\n\n")
        traceback.print_exception(exc, file=f)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
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
