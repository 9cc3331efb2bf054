"""``deployctl predict ADDRESS --input FILE``: score a CSV/JSON file against a deployment."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import arguments, context, options
from deployctl.cli.exit_codes import ExitCode


def run(args: argparse.Namespace) -> int:
    from deployctl.operations.refresh import lookup_target_uri
    from deployctl.smoke.frames import as_frame, read_input
    from deployctl.targets.pool import TargetPool

    address = arguments.parse_address(args.address)
    manifest, environment, location = context.locate_state(args)
    state = context.existing_state(context.backend(location, environment), location)
    uri = lookup_target_uri(address.target, manifest, state)
    frame = read_input(args.input)
    pool = TargetPool.for_manifest(manifest) if manifest else TargetPool()
    adapter = pool.get(address.target, uri)
    result = as_frame(adapter.predict(address.name, frame))
    if args.json:
        sys.stdout.write(result.to_json(orient="records") + "\n")
    else:
        sys.stdout.write(result.to_string(index=False) + "\n")
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("predict", help="score a CSV or JSON file against a deployment")
    p.add_argument("address", metavar="ADDRESS")
    p.add_argument("--input", required=True, metavar="FILE", help="FILE.csv or FILE.json")
    p.add_argument("--json", action="store_true", help="print predictions as JSON records")
    options.manifest(p, required=False)
    options.state(p, environment=True)
    p.set_defaults(handler=run)
