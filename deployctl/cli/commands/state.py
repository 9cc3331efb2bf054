"""``deployctl state list|show|rm`` and ``deployctl force-unlock``."""

from __future__ import annotations

import argparse
import json
import sys

from deployctl.cli import common, options
from deployctl.errors import LockError, StateError, UsageError
from deployctl.model import JSONValue
from deployctl.state.document import StateDocument


def _open(args: argparse.Namespace) -> tuple[str, StateDocument]:
    _, environment = common.environment_of(args)
    path = common.state_path(args, environment)
    return path, common.backend(path).read()


def _list(args: argparse.Namespace) -> int:
    _, state = _open(args)
    records = [state.records[a] for a in sorted(state.records)]
    if args.json:
        out: list[JSONValue] = [
            {
                "address": r.address,
                "target_uri": r.target_uri,
                "name": r.name,
                "model_uri": r.applied.model_uri,
                "flavor": r.applied.flavor,
                "config": r.applied.config,
            }
            for r in records
        ]
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
        return 0
    for record in records:
        sys.stdout.write(f"{record.address}\n")
    return 0


def _show(args: argparse.Namespace) -> int:
    path, state = _open(args)
    record = state.get(args.address)
    if record is None:
        raise StateError(
            f"{args.address} is not in {path}",
            hint="'deployctl state list' shows the managed addresses",
        )
    sys.stdout.write(json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n")
    return 0


def _rm(args: argparse.Namespace) -> int:
    _, environment = common.environment_of(args)
    path = common.state_path(args, environment)
    timeout = common.parse_duration(args.lock_timeout)
    with common.backend(path).lock(operation="state rm", timeout=timeout) as session:
        document = session.document
        missing = [a for a in args.addresses if a not in document.records]
        if missing:
            raise StateError(
                f"not in {path}: {', '.join(missing)}",
                hint="'deployctl state list' shows the managed addresses; nothing was removed",
            )
        for address in args.addresses:
            document = document.without(address)
        session.replace(document)
    for address in args.addresses:
        sys.stdout.write(f"Removed {address} from {path} (the deployment itself is untouched)\n")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"list": _list, "show": _show, "rm": _rm}[args.state_command](args)


def run_force_unlock(args: argparse.Namespace) -> int:
    _, environment = common.environment_of(args)
    path = common.state_path(args, environment)
    backend = common.backend(path)
    info = backend.lock_info()
    if info is None:
        raise LockError(f"{path} is not locked; nothing to do")
    if args.lock_id and args.lock_id != info.id:
        raise UsageError(
            f"{path} is locked with id {info.id}, not {args.lock_id}; nothing was removed"
        )
    removed = backend.force_unlock(args.lock_id or info.id)
    if removed is None:
        raise LockError(f"{path} is not locked; nothing to do")
    sys.stdout.write(f"Removed the lock on {path} ({removed.describe()}).\n")
    return 0


def register(sub: options.Subparsers) -> None:
    p = sub.add_parser("state", help="inspect and edit the state")
    state_sub = p.add_subparsers(
        dest="state_command", metavar="SUBCOMMAND", parser_class=options.Parser
    )
    state_sub.required = True
    for name, help_text in (
        ("list", "list the managed deployments"),
        ("show", "show one managed deployment"),
        ("rm", "forget deployments without touching their targets"),
    ):
        sp = state_sub.add_parser(name, help=help_text)
        options.manifest(sp, required=False)
        options.state(sp, environment=True)
        if name == "list":
            sp.add_argument("--json", action="store_true", help="print a JSON list of records")
        elif name == "show":
            sp.add_argument("address", metavar="ADDRESS")
        else:
            sp.add_argument("addresses", nargs="+", metavar="ADDRESS")
            options.lock(sp)
        sp.set_defaults(handler=run)

    p = sub.add_parser("force-unlock", help="remove a state lock left by a dead process")
    p.add_argument("lock_id", nargs="?", metavar="LOCK_ID", help="only remove this lock")
    options.manifest(p, required=False)
    options.state(p, environment=True)
    p.set_defaults(handler=run_force_unlock)
