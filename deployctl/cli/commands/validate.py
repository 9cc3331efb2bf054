"""``deployctl validate``: check a manifest (schema, interpolation, installed targets)."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import context, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import ManifestError


def run(args: argparse.Namespace) -> int:
    from deployctl.targets.registry import unknown_schemes

    manifest = context.load(args)
    issues = unknown_schemes(manifest)  # FILE:LINE:COL of each uri, "did you mean"
    if issues:
        raise ManifestError(issues)
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
