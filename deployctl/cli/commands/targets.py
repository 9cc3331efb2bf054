"""``deployctl targets`` and ``deployctl target-help SCHEME``: the installed target plugins."""

from __future__ import annotations

import argparse
import json
import sys

from deployctl.cli import options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import UsageError
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


FIELDS_HELP = """\
Field mappings (a target's `fields:` in the manifest)

deployctl reads each record's name, status, model_uri, flavor and config. Where a plugin keeps
them elsewhere, map them per target; a mapped path is tried before deployctl's defaults:

  fields:
    name: EndpointName                                           # a key of the record
    model_uri: Tags.model_uri                                    # keys joined by dots
    config.instance_count: ProductionVariants.0.CurrentInstanceCount  # a number indexes a list
    config.temperature: temperature                              # config.KEY: one config key
    flavor: "deploy|json.0.flavor"                               # |json parses JSON text

Mappable: name, status, model_uri, flavor, config, and config.KEY (one top-level config key;
with a `config` mapping as well, the mapped keys are laid over it). A path that leads nowhere
means the target does not report that field: it is compared with the last apply only, and the
plan says so. Fields the target reports are checked for drift against what it reported after
the last apply.
"""


def run_help(args: argparse.Namespace) -> int:
    if args.scheme is None and not args.fields:
        raise UsageError("target-help needs a SCHEME (see 'deployctl targets'), or --fields")
    if args.scheme is not None:
        from deployctl.targets.loading import load_scheme

        text = load_scheme(args.scheme.lower()).target_help()
        sys.stdout.write(f"{text.rstrip()}\n")
    if args.fields:
        sys.stdout.write(("\n" if args.scheme is not None else "") + FIELDS_HELP)
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
    p = sub.add_parser(
        "target-help",
        help="print a target plugin's own help",
        description="Print the help of the plugin for SCHEME targets (its target_help()); "
        "with --fields, also how to map where its records keep each field (the manifest's "
        "fields:).",
    )
    p.add_argument("scheme", metavar="SCHEME", nargs="?")
    p.add_argument(
        "--fields",
        action="store_true",
        help="explain field mappings (fields:): the paths into a plugin's records",
    )
    p.set_defaults(handler=run_help)
