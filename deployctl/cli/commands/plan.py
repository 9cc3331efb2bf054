"""``deployctl plan``: refresh the targets and show (or save) what apply would change.

``-f FILE`` plans one environment. A folder (``-f environments/``) or several ``-f`` plan every
environment manifest named (``operations.environments``), each against its own state, in one
report (``console.environments``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from deployctl.cli import arguments, context, exiting, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import UsageError

if TYPE_CHECKING:
    from deployctl.console.rich_console import RichConsole
    from deployctl.manifest.model import Manifest
    from deployctl.planner.plan import Plan
    from deployctl.planner.selection import Selection
    from deployctl.state.backends import StateLocation


def run(args: argparse.Namespace) -> int:
    manifests: list[str] = args.manifest
    if len(manifests) == 1 and not os.path.isdir(manifests[0]):
        args.manifest = manifests[0]
        return _run_one(args)
    return _run_several(args, manifests)


def _run_one(args: argparse.Namespace) -> int:
    from deployctl.operations import planning
    from deployctl.planner.planfile import plan_json, write_plan
    from deployctl.targets.pool import TargetPool

    console = context.console(args)
    arguments.check_parallelism(args)
    manifest = context.load(args)
    pool = TargetPool.for_manifest(manifest)
    selection = arguments.selection(args)
    # Lists big local targets in a child process while this one reads the state.
    pool.read_ahead(manifest, selection.may_touch_target)
    location = context.state_location(args, manifest, manifest.environment)
    state = context.read_state(location, manifest, console)
    plan = planning.plan(
        manifest,
        state,
        pool,
        console,
        state_path=location.describe(),
        destroy=args.destroy,
        parallelism=args.parallelism,
        selection=selection,
        max_deletes=args.max_deletes,
        fingerprints=bool(args.out or args.json),  # only a plan that leaves the process
    )
    exiting.keep(manifest, state, plan)
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


def _run_several(args: argparse.Namespace, given: list[str]) -> int:
    from deployctl.console import environments as report
    from deployctl.operations import environments

    if args.out:
        raise UsageError(
            "--out saves the plan of one environment, and -f names several",
            hint="save each environment's plan with 'deployctl plan -f MANIFEST --out PLANFILE'",
        )
    arguments.check_parallelism(args)
    manifests = environments.environment_manifests(given)
    console = context.console(args)
    planner = _Planner(args, console, arguments.selection(args))
    results = []
    for result in environments.plan_environments(manifests, planner):
        results.append(result)
        if args.json or args.markdown:
            if result.failed:  # stdout holds plans only: the error goes where a log shows it
                console.print(report.section_header(result), err=True)
                for line in report.failure_lines(result):
                    console.print(line, err=True)
            continue
        console.print(report.section_header(result))
        if result.plan is not None:
            console.show_plan(result.plan)
        else:
            for line in report.failure_lines(result):
                console.print(line)
        console.print("")
    if args.json:
        sys.stdout.write(report.plans_json(results))
    elif args.markdown:
        sys.stdout.write(report.plans_markdown(results, destroy=args.destroy))
    else:
        for line in report.summary_lines(results):
            console.print(line)
    if environments.any_failed(results):
        return ExitCode.ERROR
    if args.detailed_exitcode and environments.has_changes(results):
        return ExitCode.CHANGES
    return ExitCode.OK


class _Planner:
    """One environment's plan, from the command's options (``EnvironmentPlanner``)."""

    def __init__(
        self, args: argparse.Namespace, console: RichConsole, selection: Selection
    ) -> None:
        self.args = args
        self.console = console
        self.selection = selection

    def load(self, path: str) -> Manifest:
        return context.load(self.args, path)

    def locate(self, manifest: Manifest) -> StateLocation:
        return context.state_location(self.args, manifest, manifest.environment)

    def plan(self, manifest: Manifest, location: StateLocation) -> Plan:
        from deployctl.operations import planning
        from deployctl.targets.pool import TargetPool

        return planning.plan(
            manifest,
            context.read_state(location, manifest, self.console),
            TargetPool.for_manifest(manifest),
            self.console,
            state_path=location.describe(),
            destroy=self.args.destroy,
            parallelism=self.args.parallelism,
            selection=self.selection,
            max_deletes=self.args.max_deletes,
            fingerprints=bool(self.args.json),
        )


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("plan", help="show what apply would change")
    options.manifest(p, several=True)
    options.state(p)
    options.parallelism(p, 8)
    options.color(p)
    options.plan_format(p)
    p.add_argument("--out", metavar="PLANFILE", help="save the plan for 'deployctl apply PLANFILE'")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error (with several "
        "environments: 2 when any has changes, 1 when any failed)",
    )
    p.add_argument("--destroy", action="store_true", help="plan the deletion of everything managed")
    options.selection(p)
    p.set_defaults(handler=run)
