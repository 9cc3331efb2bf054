"""``deployctl import ADDRESS -f MANIFEST``: adopt an existing deployment into state."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import common, options


def run(args: argparse.Namespace) -> int:
    from deployctl import workflow

    timeout = common.parse_duration(args.lock_timeout)
    console = common.console(args)
    manifest = common.load(args)
    path = common.state_path(args, manifest.environment)
    pool = workflow.TargetPool.for_manifest(manifest)
    with common.backend(path, manifest.environment).lock(
        operation="import", timeout=timeout
    ) as session:
        workflow.check_environment(manifest, session.document, path)
        record, assumed = workflow.import_deployment(manifest, args.address, session, pool)
    sys.stdout.write(
        f"Imported {record.address} into {path}: its live record is now the last applied one "
        "(nothing on the target changed).\n"
    )
    if assumed:
        console.warning(
            f"target '{record.target}' does not report {', '.join(assumed)}; the manifest's "
            "values were recorded for them, so check the deployment matches"
        )
    sys.stdout.write("Run 'deployctl plan' to see how it differs from the manifest.\n")
    return 0


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("import", help="adopt a deployment that already exists on its target")
    p.add_argument("address", metavar="ADDRESS", help="TARGET/NAME, as in the manifest")
    options.manifest(p)
    options.state(p)
    options.lock(p)
    options.color(p)
    p.set_defaults(handler=run)
