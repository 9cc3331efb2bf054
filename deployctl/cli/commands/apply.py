"""``deployctl apply`` and ``deployctl destroy``: execute a plan under the state lock."""

from __future__ import annotations

import argparse
import json

from deployctl.cli import common, options
from deployctl.errors import PlanFileError, UsageError
from deployctl.planner.plan import Plan


def _exit_code(ok: bool, interrupted: bool) -> int:
    if interrupted:
        return 130
    return 0 if ok else 1


def _apply_manifest(args: argparse.Namespace, *, destroy: bool) -> int:
    from deployctl import workflow

    if args.parallelism < 1:
        raise UsageError("--parallelism must be at least 1")
    timeout = common.parse_duration(args.lock_timeout)
    console = common.console(args)
    manifest = common.load(args)
    path = common.state_path(args, manifest.environment)
    pool = workflow.TargetPool()
    operation = "destroy" if destroy else "apply"
    with common.backend(path, manifest.environment).lock(
        operation=operation, timeout=timeout
    ) as session:
        plan = workflow.plan(
            manifest, session.document, pool, console, state_path=path, destroy=destroy
        )
        console.show_plan(plan)
        if not plan.has_changes:
            return 0
        if not args.auto_approve:
            verb = "destroy these deployments" if destroy else "perform these actions"
            common.confirm(f"Do you want to {verb}?")
        report = workflow.apply(plan, session, pool, console, parallelism=args.parallelism)
    return _exit_code(report.ok, report.interrupted)


def load_plan_file(path: str) -> Plan:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not a JSON plan file: {exc.msg}"
        ) from exc
    return Plan.from_json(data, source=path)


def _apply_saved(args: argparse.Namespace) -> int:
    from deployctl import workflow

    if args.parallelism < 1:
        raise UsageError("--parallelism must be at least 1")
    timeout = common.parse_duration(args.lock_timeout)
    plan = load_plan_file(args.planfile)
    path = args.state or plan.state_path
    if not path:
        raise UsageError(f"{args.planfile} does not say which state it is for; pass --state PATH")
    console = common.console(args)
    pool = workflow.TargetPool()
    with common.backend(path, plan.environment).lock(operation="apply", timeout=timeout) as session:
        workflow.check_plan_is_current(plan, session.document, manifest_path=args.manifest)
        workflow.check_live_unchanged(plan, pool, console, parallelism=args.parallelism)
        console.show_plan(plan)
        if not plan.has_changes:
            return 0
        report = workflow.apply(plan, session, pool, console, parallelism=args.parallelism)
    return _exit_code(report.ok, report.interrupted)


def run(args: argparse.Namespace) -> int:
    if args.planfile:
        if args.var:
            raise UsageError("--var cannot change a saved plan; make a new plan instead")
        return _apply_saved(args)
    if not args.manifest:
        raise UsageError("apply needs -f MANIFEST, or a PLANFILE made by 'deployctl plan --out'")
    return _apply_manifest(args, destroy=False)


def run_destroy(args: argparse.Namespace) -> int:
    return _apply_manifest(args, destroy=True)


def _common(p: argparse.ArgumentParser) -> None:
    options.state(p)
    options.lock(p)
    options.parallelism(p, 4)
    options.color(p)
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("apply", help="apply a manifest (after confirmation) or a saved plan")
    p.add_argument("planfile", nargs="?", metavar="PLANFILE", help="a saved plan to apply")
    options.manifest(p, required=False)
    _common(p)
    p.set_defaults(handler=run)

    p = sub.add_parser("destroy", help="delete every deployment the manifest's state manages")
    options.manifest(p)
    _common(p)
    p.set_defaults(handler=run_destroy)
