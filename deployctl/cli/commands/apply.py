"""``deployctl apply`` and ``deployctl destroy``: execute a plan under the state lock.

With ``--json`` stdout carries JSON event lines only (``deployctl.console.json_events``): the
plan as ``planned_change`` events and a ``plan_summary``, then ``apply_start`` /
``apply_complete`` / ``apply_errored`` per action and a final ``change_summary`` (also when
there is nothing to do); an error that ends the command is also written there as an ``error``
diagnostic. It cannot prompt, so it needs ``--auto-approve`` or a saved plan.

After each create and update the deployment is read back; a field the target did not take is a
warning in the action's result (``warnings`` in JSON), and with ``--strict`` the action fails.

On the terminal, an apply of more than 50 changes is summarised: the plan as counts, progress
lines, failures and warnings in full, and at the end each failure as an ``Error:`` block
(``console.summarised``); ``--table`` ends it with the results table of every change instead.
``--json`` reports every change.

The prompt names the environment; a destroy asks "Do you really want to destroy all N
deployments of environment prod?". In CI or without a terminal nothing is asked: the command
refuses where it would ask (``cli.prompt``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from deployctl.cli import arguments, context, options, prompt, signals
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import DeployctlError, UsageError

if TYPE_CHECKING:
    from deployctl.console.json_events import JsonEventConsole
    from deployctl.console.rich_console import RichConsole
    from deployctl.executor.results import ApplyReport
    from deployctl.executor.stopping import StopRequests
    from deployctl.model.secrets import Secrets
    from deployctl.planner.plan import Plan
    from deployctl.state.backends import StateLocation
    from deployctl.state.protocol import StateSession
    from deployctl.targets.pool import TargetPool


def _exit_code(ok: bool, interrupted: bool) -> int:
    if interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.OK if ok else ExitCode.ERROR


def _console(args: argparse.Namespace) -> RichConsole | JsonEventConsole:
    """JSON event lines on stdout with ``--json``; else the terminal console (``--table``: a
    large apply ends with the results table of every change)."""
    if args.json:
        from deployctl.console.json_events import JsonEventConsole

        return JsonEventConsole()
    console = context.console(args)
    console.results_table = args.table
    return console


@contextlib.contextmanager
def _closing(console: RichConsole | JsonEventConsole) -> Iterator[None]:
    """The terminal console's live display or heartbeats stop when the command ends, however
    it ends."""
    try:
        yield
    finally:
        close = getattr(console, "close", None)
        if close is not None:
            close()


def _question(plan: Plan) -> str:
    """``Do you want to perform these actions in environment prod?``, or for a destroy ``Do you
    really want to destroy all 3 deployments of environment prod?`` (``these 3`` when
    ``--target``/``--exclude`` chose them)."""
    if not plan.destroy:
        return f"Do you want to perform these actions in environment {plan.environment}?"
    count = sum(1 for _ in plan.actionable())
    if count == 1:
        which = "this deployment" if plan.partial else "the only deployment"
    else:
        which = f"{'these' if plan.partial else 'all'} {count} deployments"
    return f"Do you really want to destroy {which} of environment {plan.environment}?"


def _nothing_to_apply(args: argparse.Namespace, console: RichConsole | JsonEventConsole) -> int:
    """No changes: the plan said so; a JSON stream still ends with its ``change_summary``."""
    if args.json:
        from deployctl.executor.results import ApplyReport

        console.apply_finished(ApplyReport(results=(), elapsed=0.0))
    return ExitCode.OK


def _apply_manifest(args: argparse.Namespace, *, destroy: bool) -> int:
    from deployctl.operations import planning
    from deployctl.operations.secrets import check_resolvable, for_manifest
    from deployctl.targets.pool import TargetPool

    operation = "destroy" if destroy else "apply"
    if args.json and not args.auto_approve:
        # Same refusal as without a terminal: nowhere to ask, so refuse before doing anything.
        raise UsageError(
            f"--json output cannot ask for confirmation; pass --auto-approve to {operation} "
            "without asking" + ("" if destroy else ", or apply a reviewed plan file")
        )
    arguments.check_parallelism(args)
    timeout = arguments.parse_duration(args.lock_timeout)
    console = _console(args)
    manifest = context.load(args)
    secrets = for_manifest(manifest)
    location = context.state_location(args, manifest, manifest.environment)
    pool = TargetPool.for_manifest(manifest)
    stop = signals.requests()
    with (
        _closing(console),
        context.backend(location, manifest.environment, console).lock(
            operation=operation, timeout=timeout
        ) as session,
    ):
        plan = planning.plan(
            manifest,
            session.document,
            pool,
            console,
            state_path=location.describe(),
            destroy=destroy,
            parallelism=args.parallelism,
            selection=arguments.selection(args),
            max_deletes=args.max_deletes,
            session=session,
            stop=stop,
            secrets=secrets,
        )
        _check_not_stopped(stop)
        console.show_plan(plan, applying=True)
        if not plan.has_changes:
            return _nothing_to_apply(args, console)
        check_resolvable(plan, secrets)  # before asking: a plan that cannot be sent is refused
        if not args.auto_approve:
            prompt.confirm(_question(plan), operation=operation)
        report = _execute(args, plan, session, pool, console, stop, secrets)
    return _exit_code(report.ok, report.interrupted)


def _execute(
    args: argparse.Namespace,
    plan: Plan,
    session: StateSession,
    pool: TargetPool,
    console: RichConsole | JsonEventConsole,
    stop: StopRequests,
    secrets: Secrets,
) -> ApplyReport:
    """Apply the reviewed ``plan`` under the held lock (``-f`` and saved plans alike)."""
    from deployctl.operations import applying

    report = applying.apply(
        plan,
        session,
        pool,
        console,
        parallelism=args.parallelism,
        debug=args.debug,
        stop=stop,
        secrets=secrets,
        strict=args.strict,
        skip_smoke_tests=getattr(args, "skip_smoke_tests", False),
    )
    _keep_the_lock_under_running_calls(session, console, report)
    return report


def _keep_the_lock_under_running_calls(
    session: StateSession, console: RichConsole | JsonEventConsole, report: ApplyReport
) -> None:
    """A call that timed out may still change its target: the lock must not be released while it
    runs. So commit what was recorded, then end the process here, in the locked block: the lock
    is left to a process that no longer exists, which the next run takes over at once (its plan
    resolves the calls' intents); the plugin calls end with the process, as after ``kill -9``."""
    from deployctl.targets.deadline import running_abandoned

    running = running_abandoned() if report.timed_out else 0
    if not running:
        return
    session.commit()
    console.warning(
        f"{running} plugin call(s) that timed out are still running and may yet change their "
        "targets, so the state lock is not released under them: deployctl exits now, leaving "
        "the lock to this process; the next run takes it over and resolves their intents"
    )
    signals.exit_now(_exit_code(report.ok, report.interrupted))


def _check_not_stopped(stop: StopRequests) -> None:
    """A signal that came while recording a crashed run's intents ends the command there."""
    if stop.requested:
        raise KeyboardInterrupt


def _apply_saved(args: argparse.Namespace) -> int:
    from deployctl.operations import planning, refresh
    from deployctl.operations.secrets import for_saved_plan
    from deployctl.planner.planfile import read_plan
    from deployctl.targets.pool import TargetPool

    arguments.check_parallelism(args)
    timeout = arguments.parse_duration(args.lock_timeout)
    if args.targets or args.excludes:
        raise UsageError(
            "--target and --exclude cannot narrow a saved plan; make the plan with them instead"
        )
    plan = read_plan(args.planfile)
    arguments.selection(args)  # validates --max-deletes
    planning.check_max_deletes(plan, args.max_deletes)
    location = _saved_plan_state(args, plan)
    console = _console(args)
    pool = TargetPool(plan.target_fields, plan.target_calls)
    stop = signals.requests()
    with (
        _closing(console),
        context.backend(location, plan.environment, console).lock(
            operation="apply", timeout=timeout
        ) as session,
    ):
        planning.check_plan_is_current(plan, session.document, manifest_path=args.manifest)
        # The plan holds no secret: read each again, and refuse it if one changed since.
        secrets = for_saved_plan(plan, manifest_path=args.manifest).with_state(session.document)
        refresh.check_live_unchanged(
            plan, pool, console, parallelism=args.parallelism, secrets=secrets
        )
        # The plan was made as if the open intents were resolved: record that now.
        planning.settle_intents(
            session, pool, console, parallelism=args.parallelism, stop=stop, secrets=secrets
        )
        _check_not_stopped(stop)
        console.show_plan(plan, applying=True)
        if not plan.has_changes:
            return _nothing_to_apply(args, console)
        report = _execute(args, plan, session, pool, console, stop, secrets)
    return _exit_code(report.ok, report.interrupted)


def _saved_plan_state(args: argparse.Namespace, plan: Plan) -> StateLocation:
    """The state a saved plan is applied to: ``--state``, ``DEPLOYCTL_STATE``, the state of
    ``-f MANIFEST``, else the one the plan was made against."""
    from deployctl.state.backends import ENV_VAR, StateLocation

    if args.state or os.environ.get(ENV_VAR) or args.manifest:
        manifest = context.load(args) if args.manifest else None
        return context.state_location(args, manifest, plan.environment)
    if not plan.state_path:
        raise UsageError(
            f"{args.planfile} does not say which state it is for; pass --state URL|PATH"
        )
    location = StateLocation(plan.state_path, f"the plan file {args.planfile}")
    location.check()
    return location


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


def _common(p: argparse.ArgumentParser, *, destroy: bool = False) -> None:
    options.state(p)
    options.lock(p)
    options.parallelism(p, 4)
    options.color(p)
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    options.selection(p)
    p.add_argument(
        "--strict",
        action="store_true",
        help=(
            "accepted as for apply; a destroy only deletes, so there is nothing to read back"
            if destroy
            else "fail a create or update when reading it back shows that the target did not "
            "take a field it was sent (default: a warning); either way the state records what "
            "the target reports, so the next plan plans that change again"
        ),
    )
    if not destroy:
        p.add_argument(
            "--skip-smoke-tests",
            action="store_true",
            help="for emergencies: deploy without running the deployments' smoke tests (each "
            "result says it was skipped), so nothing is rolled back",
        )
    p.add_argument(
        "--table",
        action="store_true",
        help="end with the results table of every change, also when there are more than 50 "
        "(by default a large apply ends with its failures in full and the summary)",
    )
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
    _common(p, destroy=True)
    p.set_defaults(handler=run_destroy)
