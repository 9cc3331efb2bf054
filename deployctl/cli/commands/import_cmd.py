"""``deployctl import ADDRESS -f MANIFEST``: adopt an existing deployment into state."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import arguments, context, options
from deployctl.cli.exit_codes import ExitCode


def run(args: argparse.Namespace) -> int:
    from deployctl.operations.importing import import_deployment
    from deployctl.operations.planning import check_environment
    from deployctl.targets.pool import TargetPool

    address = arguments.parse_address(args.address)
    timeout = arguments.parse_duration(args.lock_timeout)
    console = context.console(args)
    manifest = context.load(args)
    location = context.state_location(args, manifest, manifest.environment)
    pool = TargetPool.for_manifest(manifest)
    with context.backend(location, manifest.environment, console).lock(
        operation="import", timeout=timeout
    ) as session:
        check_environment(manifest, session.document, location.describe())
        record, assumed = import_deployment(manifest, address, session, pool)
    sys.stdout.write(
        f"Imported {record.address} into {location.describe()}: its live record is now the last "
        "applied one (nothing on the target changed).\n"
    )
    if assumed:
        console.warning(
            f"target '{record.target}' does not report {', '.join(assumed)}; the manifest's "
            "values were recorded for them, so check the deployment matches"
        )
    sys.stdout.write("Run 'deployctl plan' to see how it differs from the manifest.\n")
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("import", help="adopt a deployment that already exists on its target")
    p.add_argument("address", metavar="ADDRESS", help="TARGET/NAME, as in the manifest")
    options.manifest(p)
    options.state(p)
    options.lock(p)
    options.color(p)
    p.set_defaults(handler=run)
