"""``deployctl show PLANFILE [--json|--markdown]``: render a saved plan again.

Reads the plan file only (no manifest, state or target is touched), so CI can plan once with
``plan --out`` and render the same plan for the log (human, exactly what ``plan`` printed), the
pull-request comment (``--markdown``) and policy checks (``--json``: the document ``plan --json``
printed).
"""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import common, options
from deployctl.cli.commands.apply import load_plan_file
from deployctl.cli.commands.plan import output_format, plan_json, plan_markdown


def run(args: argparse.Namespace) -> int:
    plan = load_plan_file(args.planfile)
    if args.json:
        sys.stdout.write(plan_json(plan))
    elif args.markdown:
        sys.stdout.write(plan_markdown(plan))
    else:
        common.console(args).show_plan(plan)
    return 0


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("show", help="render a saved plan again, without contacting any target")
    p.add_argument("planfile", metavar="PLANFILE", help="a plan saved by 'deployctl plan --out'")
    output_format(p)
    options.color(p)
    p.set_defaults(handler=run)
