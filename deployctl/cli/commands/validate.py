"""``deployctl validate``: check a manifest (schema, interpolation, installed targets)."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import context, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import TargetNotFoundError


def run(args: argparse.Namespace) -> int:
    from deployctl.targets.registry import installed_targets

    manifest = context.load(args)
    installed = {t.scheme for t in installed_targets()}
    missing = sorted({t.scheme for t in manifest.targets} - installed)
    if missing:
        names = ", ".join(sorted(installed)) or "none"
        raise TargetNotFoundError(
            f"{manifest.path}: no installed plugin for target scheme(s) {', '.join(missing)} "
            f"(installed: {names})",
            hint="pip install the plugin that provides it",
        )
    count = sum(1 for _ in manifest.deployments())
    sys.stdout.write(
        f"{manifest.path}: valid (environment {manifest.environment}, "
        f"{len(manifest.targets)} target(s), {count} deployment(s))\n"
    )
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("validate", help="check a manifest without contacting any target")
    options.manifest(p)
    p.set_defaults(handler=run)
