"""``deployctl plan``: refresh the targets and show (or save) what apply would change."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deployctl.cli import common, options
from deployctl.errors import PlanFileError
from deployctl.planner.plan import Plan


def save_plan(plan: Plan, path: str) -> None:
    """Write the plan file atomically (a half-written plan must never be applied)."""
    from deployctl import atomic

    try:
        atomic.write_atomic(Path(path), plan_json(plan).encode("utf-8"))
    except atomic.ReplacedButNotSynced:
        pass  # the complete plan is in place; only its directory entry's durability is unsure
    except OSError as exc:
        raise PlanFileError(f"--out {path}: cannot write the plan file: {exc.strerror}") from exc


def plan_json(plan: Plan) -> str:
    """The document ``plan --json`` and ``show --json`` print (the content of plan files)."""
    return json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"


def plan_markdown(plan: Plan) -> str:
    """The pull-request comment ``plan --markdown`` and ``show --markdown`` print."""
    from deployctl.console.markdown import plan_markdown as render

    return render(plan)


def run(args: argparse.Namespace) -> int:
    from deployctl import workflow

    manifest, path, state = common.read_environment(args)
    console = common.console(args)
    plan = workflow.plan(
        manifest,
        state,
        workflow.TargetPool.for_manifest(manifest),
        console,
        state_path=path,
        destroy=args.destroy,
        parallelism=args.parallelism,
        selection=common.selection(args),
        max_deletes=args.max_deletes,
    )
    if args.out:
        save_plan(plan, args.out)
    saved = f"Saved the plan to {args.out}; apply it with: deployctl apply {args.out}"
    if args.json:
        sys.stdout.write(plan_json(plan))
    elif args.markdown:
        sys.stdout.write(plan_markdown(plan))
        if args.out:  # stdout is the comment; say it where a CI log shows it
            console.print(saved, err=True)
    else:
        console.show_plan(plan)
        if args.out:
            console.print(f"\n{saved}")
    if args.detailed_exitcode and plan.has_changes:
        return 2
    return 0


def output_format(p: argparse.ArgumentParser) -> None:
    """``--json`` or ``--markdown`` (shared with ``show``)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    group.add_argument(
        "--markdown",
        action="store_true",
        help="print the plan as a Markdown pull-request comment",
    )


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("plan", help="show what apply would change")
    options.manifest(p)
    options.state(p)
    options.parallelism(p, 8)
    options.color(p)
    output_format(p)
    p.add_argument("--out", metavar="PLANFILE", help="save the plan for 'deployctl apply PLANFILE'")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )
    p.add_argument("--destroy", action="store_true", help="plan the deletion of everything managed")
    options.selection(p)
    p.set_defaults(handler=run)
