"""``deployctl show PLANFILE [--json|--markdown]``: render a saved plan again.

Reads the plan file only (no manifest, state or target is touched), so CI can plan once with
``plan --out`` and render the same plan for the log (human, exactly what ``plan`` printed), the
pull-request comment (``--markdown``) and policy checks (``--json``: the document ``plan --json``
printed).
"""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import context, options
from deployctl.cli.exit_codes import ExitCode


def run(args: argparse.Namespace) -> int:
    from deployctl.planner.planfile import plan_json, read_plan

    plan = read_plan(args.planfile)
    if args.json:
        sys.stdout.write(plan_json(plan))
    elif args.markdown:
        from deployctl.console.markdown import plan_markdown

        sys.stdout.write(plan_markdown(plan))
    else:
        context.console(args).show_plan(plan)
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("show", help="render a saved plan again, without contacting any target")
    p.add_argument("planfile", metavar="PLANFILE", help="a plan saved by 'deployctl plan --out'")
    options.plan_format(p)
    options.color(p)
    p.set_defaults(handler=run)
