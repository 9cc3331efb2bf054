"""``deployctl targets`` and ``deployctl target-help SCHEME``: the installed target plugins."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import options
from deployctl.errors import TargetError, TargetNotFoundError


def run(args: argparse.Namespace) -> int:
    from deployctl.targets.registry import installed_targets

    rows = [("SCHEME", "SOURCE", "PACKAGE", "VERSION", "MODULE")]
    rows += [
        (p.scheme, p.source, p.package or "-", p.version or "-", p.module_name)
        for p in installed_targets()
    ]
    # Plain aligned columns, never truncated: CI logs are not terminals.
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[-1]]) + "\n")
    return 0


def run_help(args: argparse.Namespace) -> int:
    from deployctl.targets.registry import find_target, import_plugin, installed_targets

    scheme = args.scheme.lower()
    plugin = find_target(scheme)
    if plugin is None:
        names = ", ".join(p.scheme for p in installed_targets()) or "none"
        raise TargetNotFoundError(
            f"no installed plugin handles '{scheme}' targets (installed: {names})",
            hint=f"pip install the deployment plugin that provides the '{scheme}' target",
        )
    module = import_plugin(plugin, key=scheme)
    target_help = getattr(module, "target_help", None)
    if not callable(target_help):
        raise TargetError("the plugin has no target_help() function", target=scheme, call="import")
    try:
        text = target_help()
    except Exception as exc:
        raise TargetError(
            f"{type(exc).__name__}: {exc}", target=scheme, call="target_help", cause=exc
        ) from exc
    sys.stdout.write(f"{str(text).rstrip()}\n")
    return 0


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("targets", help="list the installed target plugins")
    p.set_defaults(handler=run)
    p = sub.add_parser("target-help", help="print a target plugin's own help")
    p.add_argument("scheme", metavar="SCHEME")
    p.set_defaults(handler=run_help)
