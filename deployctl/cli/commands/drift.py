"""``deployctl drift``: refresh the targets and report what changed outside deployctl.

Reads only: the same refresh as ``plan``, the planner's drift rule, nothing written. With
``--detailed-exitcode`` it exits 2 when anything drifted, vanished or is unmanaged (all three
are changes made outside deployctl), 0 when nothing did, 1 on error.
"""

from __future__ import annotations

import argparse
import json
import sys

from deployctl.cli import context, options
from deployctl.cli.exit_codes import ExitCode


def run(args: argparse.Namespace) -> int:
    from deployctl.operations.drift import drift
    from deployctl.targets.pool import TargetPool

    console = context.console(args)
    manifest, location, state = context.read_environment(args, console)
    report = drift(
        manifest,
        state,
        TargetPool.for_manifest(manifest),
        console,
        state_path=location.describe(),
        parallelism=args.parallelism,
    )
    if args.json:
        sys.stdout.write(
            json.dumps(report.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n"
        )
    else:
        from deployctl.console.drift_render import drift_lines

        for line in drift_lines(report):
            console.print(line)
    if args.detailed_exitcode and report.has_drift:
        return ExitCode.CHANGES
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "drift",
        help="report deployments changed, vanished or added on the targets outside deployctl",
    )
    options.manifest(p)
    options.state(p)
    options.parallelism(p, 8)
    options.color(p)
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is no drift, 2 when anything drifted, vanished or is "
        "unmanaged, 1 on error",
    )
    p.set_defaults(handler=run)
