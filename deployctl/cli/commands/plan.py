"""``deployctl plan``: refresh the targets and show (or save) what apply would change."""

from __future__ import annotations

import argparse
import sys

from deployctl.cli import arguments, context, options
from deployctl.cli.exit_codes import ExitCode


def run(args: argparse.Namespace) -> int:
    from deployctl.operations import planning
    from deployctl.planner.planfile import plan_json, write_plan
    from deployctl.targets.pool import TargetPool

    console = context.console(args)
    manifest, location, state = context.read_environment(args, console)
    plan = planning.plan(
        manifest,
        state,
        TargetPool.for_manifest(manifest),
        console,
        state_path=location.describe(),
        destroy=args.destroy,
        parallelism=args.parallelism,
        selection=arguments.selection(args),
        max_deletes=args.max_deletes,
        fingerprints=bool(args.out or args.json),  # only a plan that leaves the process
    )
    if args.out:
        write_plan(plan, args.out)
    saved = f"Saved the plan to {args.out}; apply it with: deployctl apply {args.out}"
    if args.json:
        sys.stdout.write(plan_json(plan))
    elif args.markdown:
        from deployctl.console.markdown import plan_markdown

        sys.stdout.write(plan_markdown(plan))
        if args.out:  # stdout is the comment; say it where a CI log shows it
            console.print(saved, err=True)
    else:
        console.show_plan(plan)
        if args.out:
            console.print(f"\n{saved}")
    if args.detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("plan", help="show what apply would change")
    options.manifest(p)
    options.state(p)
    options.parallelism(p, 8)
    options.color(p)
    options.plan_format(p)
    p.add_argument("--out", metavar="PLANFILE", help="save the plan for 'deployctl apply PLANFILE'")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.add_argument("--destroy", action="store_true", help="plan the deletion of everything managed")
    options.selection(p)
    p.set_defaults(handler=run)
