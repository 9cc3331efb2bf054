"""``deployctl apply`` and ``deployctl destroy``: execute a plan under the state lock.

With ``--json`` stdout carries JSON event lines only (``deployctl.console.json_events``): the
plan as ``planned_change`` events and a ``plan_summary``, then ``apply_start`` /
``apply_complete`` / ``apply_errored`` per action and a final ``change_summary`` (also when
there is nothing to do); an error that ends the command is also written there as an ``error``
diagnostic. It cannot prompt, so it needs ``--auto-approve`` or a saved plan.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from deployctl.cli import common, options
from deployctl.errors import DeployctlError, PlanFileError, UsageError
from deployctl.planner.plan import Plan

if TYPE_CHECKING:
    from deployctl.console.json_events import JsonEventConsole
    from deployctl.console.rich_console import RichConsole


def _exit_code(ok: bool, interrupted: bool) -> int:
    if interrupted:
        return 130
    return 0 if ok else 1


def _console(args: argparse.Namespace) -> RichConsole | JsonEventConsole:
    """JSON event lines on stdout with ``--json``; else the terminal console."""
    if args.json:
        from deployctl.console.json_events import JsonEventConsole

        return JsonEventConsole()
    return common.console(args)


def _nothing_to_apply(args: argparse.Namespace, console: RichConsole | JsonEventConsole) -> int:
    """No changes: the plan said so; a JSON stream still ends with its ``change_summary``."""
    if args.json:
        from deployctl.executor.results import ApplyReport

        console.apply_finished(ApplyReport(results=(), elapsed=0.0))
    return 0


def _apply_manifest(args: argparse.Namespace, *, destroy: bool) -> int:
    from deployctl import workflow

    operation = "destroy" if destroy else "apply"
    if args.json and not args.auto_approve:
        # Same refusal as without a terminal: nowhere to ask, so refuse before doing anything.
        raise UsageError(
            f"--json output cannot ask for confirmation; pass --auto-approve to {operation} "
            "without asking" + ("" if destroy else ", or apply a reviewed plan file")
        )
    common.check_parallelism(args)
    timeout = common.parse_duration(args.lock_timeout)
    console = _console(args)
    manifest = common.load(args)
    path = common.state_path(args, manifest.environment)
    pool = workflow.TargetPool.for_manifest(manifest)
    with common.backend(path, manifest.environment).lock(
        operation=operation, timeout=timeout
    ) as session:
        plan = workflow.plan(
            manifest,
            session.document,
            pool,
            console,
            state_path=path,
            destroy=destroy,
            selection=common.selection(args),
            max_deletes=args.max_deletes,
        )
        console.show_plan(plan)
        if not plan.has_changes:
            return _nothing_to_apply(args, console)
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
    except UnicodeDecodeError as exc:  # a binary file is no JSON syntax error
        raise PlanFileError(f"{path}: not a JSON plan file: it is not UTF-8 text") from exc
    return Plan.from_json(data, source=path)


def _apply_saved(args: argparse.Namespace) -> int:
    from deployctl import workflow

    common.check_parallelism(args)
    timeout = common.parse_duration(args.lock_timeout)
    if args.targets or args.excludes:
        raise UsageError(
            "--target and --exclude cannot narrow a saved plan; make the plan with them instead"
        )
    plan = load_plan_file(args.planfile)
    common.selection(args)  # validates --max-deletes
    workflow.check_max_deletes(plan, args.max_deletes)
    path = args.state or plan.state_path
    if not path:
        raise UsageError(f"{args.planfile} does not say which state it is for; pass --state PATH")
    console = _console(args)
    pool = workflow.TargetPool(plan.target_fields)
    with common.backend(path, plan.environment).lock(operation="apply", timeout=timeout) as session:
        workflow.check_plan_is_current(plan, session.document, manifest_path=args.manifest)
        workflow.check_live_unchanged(plan, pool, console, parallelism=args.parallelism)
        console.show_plan(plan)
        if not plan.has_changes:
            return _nothing_to_apply(args, console)
        report = workflow.apply(plan, session, pool, console, parallelism=args.parallelism)
    return _exit_code(report.ok, report.interrupted)


def _json_errors(args: argparse.Namespace, body: Callable[[], int]) -> int:
    """With ``--json``, an error that ends the command is also a diagnostic line on stdout."""
    try:
        return body()
    except DeployctlError as exc:
        if args.json:
            from deployctl.console.json_events import JsonEventConsole

            JsonEventConsole().diagnostic("error", str(exc))
        raise


def run(args: argparse.Namespace) -> int:
    return _json_errors(args, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    if args.planfile:
        if args.var:
            raise UsageError("--var cannot change a saved plan; make a new plan instead")
        return _apply_saved(args)
    if not args.manifest:
        raise UsageError("apply needs -f MANIFEST, or a PLANFILE made by 'deployctl plan --out'")
    return _apply_manifest(args, destroy=False)


def run_destroy(args: argparse.Namespace) -> int:
    return _json_errors(args, lambda: _apply_manifest(args, destroy=True))


def _common(p: argparse.ArgumentParser) -> None:
    options.state(p)
    options.lock(p)
    options.parallelism(p, 4)
    options.color(p)
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    options.selection(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="write one JSON event per line to stdout, and nothing else (needs --auto-approve "
        "or a PLANFILE)",
    )


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
