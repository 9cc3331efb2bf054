"""``deployctl targets`` and ``deployctl target-help SCHEME``: the installed target plugins."""

from __future__ import annotations

import argparse
import json
import sys

from deployctl.cli import options
from deployctl.cli.exit_codes import ExitCode
from deployctl.model import JSONValue

COLUMNS = ("scheme", "source", "package", "version", "module", "interface")


def run(args: argparse.Namespace) -> int:
    from deployctl.targets.generations import plugin_interface
    from deployctl.targets.registry import installed_targets

    # Reading the interface imports each plugin module (never constructs a client); a plugin
    # that cannot be imported says so in its row and the listing goes on.
    entries: list[dict[str, str | None]] = [
        {
            "scheme": p.scheme,
            "source": p.source,
            "package": p.package,
            "version": p.version,
            "module": p.module_name,
            "interface": plugin_interface(p),
        }
        for p in installed_targets()
    ]
    if args.json:
        out: list[JSONValue] = [dict(entry) for entry in entries]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return ExitCode.OK
    rows = [tuple(column.upper() for column in COLUMNS)]
    rows += [tuple(entry[column] or "-" for column in COLUMNS) for entry in entries]
    # Plain aligned columns, never truncated: CI logs are not terminals.
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[-1]]) + "\n")
    return ExitCode.OK


def run_help(args: argparse.Namespace) -> int:
    from deployctl.targets.loading import load_scheme

    text = load_scheme(args.scheme.lower()).target_help()
    sys.stdout.write(f"{text.rstrip()}\n")
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "targets",
        help="list the installed target plugins",
        description="List every installed target plugin: its source (built-in, deployctl "
        "plugin, MLflow plugin), package, version, module, and the plugin interface generation "
        "its client implements (seed, mlflow 2, mlflow 3), read from its method signatures "
        "without connecting; 'unavailable: REASON' when the plugin cannot be used.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of {scheme, source, package, version, module, interface}",
    )
    p.set_defaults(handler=run)
    p = sub.add_parser("target-help", help="print a target plugin's own help")
    p.add_argument("scheme", metavar="SCHEME")
    p.set_defaults(handler=run_help)
