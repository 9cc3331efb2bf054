"""``deployctl state list|show|rm|mv|pull|push`` and ``deployctl force-unlock``.

``rm``, ``mv`` and ``push`` change the state under its lock and never call a target:

- ``mv OLD NEW`` renames an address. An address is ``TARGET/NAME`` and NAME is the deployment's
  name *on the target*, so only the TARGET key may change (the manifest renamed its target key);
  the record keeps its ``target_uri``, since that is where the deployment lives. Renaming the
  deployment itself needs a redeploy, so a NAME change is refused.
- ``pull`` prints the state document as stored (with a crashed run's journal folded in).
- ``push FILE`` replaces the state by FILE, refusing another lineage or environment, an older
  serial, or the same serial with different content unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from deployctl.cli import arguments, context, options
from deployctl.cli.exit_codes import ExitCode
from deployctl.errors import LockError, StaleStateError, StateError, UsageError, printable
from deployctl.model import JSONValue, canonical_json
from deployctl.model.state import StateDocument
from deployctl.state.schema import read_state_file

if TYPE_CHECKING:
    from deployctl.manifest.model import Manifest


def _open(args: argparse.Namespace) -> tuple[str, StateDocument]:
    """For read-only subcommands: where the state is, and the state (which must exist)."""
    _, environment, location = context.locate_state(args)
    backend = context.backend(location, environment)
    return location.describe(), context.existing_state(backend, location)


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
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True, allow_nan=False) + "\n")
        return ExitCode.OK
    for record in records:
        sys.stdout.write(f"{record.address}\n")
    return ExitCode.OK


def _show(args: argparse.Namespace) -> int:
    path, state = _open(args)
    record = state.get(args.address)
    if record is None:
        raise StateError(
            f"{args.address} is not in {path}",
            hint="'deployctl state list' shows the managed addresses",
        )
    sys.stdout.write(json.dumps(record.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n")
    return ExitCode.OK


def _rm(args: argparse.Namespace) -> int:
    _, environment, location = context.locate_state(args)
    path = location.describe()
    timeout = arguments.parse_duration(args.lock_timeout)
    with context.backend(location, environment, context.console(args)).lock(
        operation="state rm", timeout=timeout
    ) as session:
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
    return ExitCode.OK


_ADDRESS_ADVICE = "addresses look like local/churn ('deployctl state list' shows them)"


def _check_same_target(
    record_uri: str, new_target: str, document: StateDocument, manifest: Manifest | None
) -> None:
    """Refuse a target key that already names another target URI (in state or the manifest)."""
    known: dict[str, tuple[str, str]] = {}
    for other in document.records.values():
        known.setdefault(other.target, (other.target_uri, "the state"))
    if manifest is not None:
        for target in manifest.targets:
            known[target.key] = (target.resolved_uri, str(manifest.path))
    uri, where = known.get(new_target, (record_uri, ""))
    if uri != record_uri:
        raise StateError(
            f"target '{new_target}' is {uri} in {where}, but the deployment lives at {record_uri}; "
            "state mv only renames a target key and never moves a deployment between targets",
            hint="to move it to another target, move it in the manifest and apply (deployctl "
            "creates it there and deletes the old one)",
        )


def _mv(args: argparse.Namespace) -> int:
    manifest, environment, location = context.locate_state(args)
    path = location.describe()
    old = arguments.parse_address(args.old, role="OLD:", advice=_ADDRESS_ADVICE)
    new = arguments.parse_address(args.new, role="NEW:", advice=_ADDRESS_ADVICE)
    if args.old == args.new:
        raise UsageError(f"OLD and NEW are both {args.old}; nothing to move")
    if new.name != old.name:
        raise UsageError(
            f"cannot move {args.old} to {args.new}: '{old.name}' is the deployment's name on "
            f"target '{old.target}' and state mv does not touch the target, so only the target "
            f"key of an address may change",
            hint=f"to rename the deployment itself, rename it in the manifest and apply: "
            f"deployctl creates '{new.name}' and deletes '{old.name}'",
        )
    timeout = arguments.parse_duration(args.lock_timeout)
    with context.backend(location, environment, context.console(args)).lock(
        operation="state mv", timeout=timeout
    ) as session:
        document = session.document
        record = document.get(args.old)
        if record is None:
            raise StateError(
                f"{args.old} is not in {path}; nothing was moved",
                hint="'deployctl state list' shows the managed addresses",
            )
        if args.new in document.records:
            raise StateError(
                f"{args.new} is already in {path}; nothing was moved",
                hint=f"'deployctl state rm {args.new}' first if that record is obsolete",
            )
        _check_same_target(record.target_uri, new.target, document, manifest)
        moved = replace(record, target=new.target)
        session.replace(document.without(args.old).with_record(moved))
    sys.stdout.write(
        f"Moved {args.old} to {args.new} in {path} (still {record.name} at "
        f"{record.target_uri}; the target is untouched)\n"
    )
    return ExitCode.OK


def _pull(args: argparse.Namespace) -> int:
    from deployctl.state.local import serialize_document

    _, environment, location = context.locate_state(args)
    backend = context.backend(location, environment)
    state = context.existing_state(backend, location)
    if args.serial is not None:
        state = backend.read_version(args.serial)
    sys.stdout.write(serialize_document(state).decode("utf-8"))
    return ExitCode.OK


def _history(args: argparse.Namespace) -> int:
    _, environment, location = context.locate_state(args)
    backend = context.backend(location, environment)
    context.existing_state(backend, location)
    entries = backend.history()
    if args.json:
        data: list[JSONValue] = [entry.to_json() for entry in entries]
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
        return ExitCode.OK
    rows = [("SERIAL", "CREATED", "USER", "HOST", "COMMAND", "CHANGES")]
    rows += [(str(e.serial), e.created, e.who, e.host, e.command, e.summary) for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write(printable("  ".join([*cells, row[-1]]).rstrip()) + "\n")
    return ExitCode.OK


def _rollback(args: argparse.Namespace) -> int:
    _, environment, location = context.locate_state(args)
    path = location.describe()
    timeout = arguments.parse_duration(args.lock_timeout)
    backend = context.backend(location, environment, context.console(args))
    with backend.lock(
        operation=f"state rollback --serial {args.serial}", timeout=timeout
    ) as session:
        current = session.document
        if not current.exists:
            raise StateError(f"there is no state at {path}: nothing to roll back")
        old = backend.read_version(args.serial)
        if old.lineage != current.lineage:
            raise StaleStateError(
                f"serial {args.serial} of {path} is lineage {old.lineage}, but the state is now "
                f"lineage {current.lineage}; nothing was written"
            )
        if args.serial == current.serial:
            sys.stdout.write(f"{path} is at serial {current.serial} already; nothing to do\n")
            return ExitCode.OK
        written = session.replace(replace(old, serial=current.serial))
    sys.stdout.write(
        f"Rolled {path} back to the content of serial {args.serial}, as serial "
        f"{written.serial} (the targets are untouched: run 'deployctl plan' to see how they "
        "differ)\n"
    )
    return ExitCode.OK


def _migrate(args: argparse.Namespace) -> int:
    from deployctl.state.backends import StateLocation
    from deployctl.state.migrate import migrate

    _, environment, location = context.locate_state(args)
    destination = StateLocation(args.to if "://" in args.to else os.path.abspath(args.to), "--to")
    destination.check()
    if destination.value == location.value:
        raise UsageError(f"--to {destination.describe()} is where the state already is")
    environment = (
        environment or context.existing_state(context.backend(location, None), location).environment
    )
    console = context.console(args)
    result = migrate(
        context.backend(location, environment, console),
        context.backend(destination, environment, console),
        timeout=arguments.parse_duration(args.lock_timeout),
    )
    sys.stdout.write(
        f"Migrated {location.describe()} to {destination.describe()}: lineage {result.lineage}, "
        f"serial {result.serial}, {result.copied} version(s) copied. Point the manifest's "
        f"state: (or --state / DEPLOYCTL_STATE) at {destination.describe()} now.\n"
    )
    return ExitCode.OK


def _check_push(file: str, pushed: StateDocument, current: StateDocument, path: str) -> None:
    """Refuse another lineage, an older serial, or the same serial with different content."""
    force = "pass --force to replace it anyway"
    if not current.exists:
        return
    if pushed.lineage != current.lineage:
        raise StaleStateError(
            f"{file} is state lineage {pushed.lineage}, but {path} is lineage "
            f"{current.lineage}: they are different states; nothing was written",
            hint=f"check that you push the right file to the right state, or {force}",
        )
    if pushed.serial < current.serial:
        raise StaleStateError(
            f"{file} has serial {pushed.serial}, older than {path} (serial {current.serial}): "
            "pushing it would undo later changes; nothing was written",
            hint=f"run 'deployctl state pull', redo your edits on that, or {force}",
        )
    if pushed.serial == current.serial and canonical_json(pushed.to_json()) != canonical_json(
        current.to_json()
    ):
        raise StaleStateError(
            f"{file} has the same serial as {path} ({current.serial}) but different content; "
            "nothing was written",
            hint=f"increase the 'serial' in {file} to mark your edit as newer, or {force}",
        )


def _push(args: argparse.Namespace) -> int:
    _, environment, location = context.locate_state(args)
    path = location.describe()
    pushed = read_state_file(args.file)
    timeout = arguments.parse_duration(args.lock_timeout)
    with context.backend(location, environment, context.console(args)).lock(
        operation="state push", timeout=timeout
    ) as session:
        current = session.document
        expected = environment or current.environment
        if not args.force and pushed.environment and expected and pushed.environment != expected:
            raise StaleStateError(
                f"{args.file} is the state of environment '{pushed.environment}', but {path} is "
                f"environment '{expected}'; nothing was written",
                hint="check that you push the right file to the right state, or pass --force "
                "to replace it anyway",
            )
        if not args.force:
            _check_push(args.file, pushed, current, path)
        if current.exists and canonical_json(pushed.to_json()) == canonical_json(current.to_json()):
            sys.stdout.write(
                f"{path} already holds this state (lineage {current.lineage}, serial "
                f"{current.serial}); nothing was written\n"
            )
            return ExitCode.OK
        written = session.replace(pushed)
    sys.stdout.write(
        f"Pushed {args.file} to {path} (lineage {written.lineage}, serial {written.serial})\n"
    )
    return ExitCode.OK


def run(args: argparse.Namespace) -> int:
    commands = {
        "list": _list,
        "show": _show,
        "rm": _rm,
        "mv": _mv,
        "pull": _pull,
        "push": _push,
        "history": _history,
        "rollback": _rollback,
        "migrate": _migrate,
    }
    return commands[args.state_command](args)


def run_force_unlock(args: argparse.Namespace) -> int:
    _, environment, location = context.locate_state(args)
    path = location.describe()
    backend = context.backend(location, environment)
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
    return ExitCode.OK


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
        ("mv", "rename an address's target key without touching the target"),
        ("pull", "print the state document"),
        ("push", "replace the state by a state document (refuses an older or foreign one)"),
        ("history", "list the committed versions of the state"),
        ("rollback", "make an old version of the state current again (as a new serial)"),
        ("migrate", "copy the state, with its lineage, serial and history, to another backend"),
    ):
        sp = state_sub.add_parser(name, help=help_text)
        options.manifest(sp, required=False)
        options.state(sp, environment=True)
        if name in ("list", "history"):
            sp.add_argument("--json", action="store_true", help="print a JSON list")
        elif name == "show":
            sp.add_argument("address", metavar="ADDRESS")
        elif name == "rm":
            sp.add_argument("addresses", nargs="+", metavar="ADDRESS")
            options.lock(sp)
        elif name == "mv":
            sp.add_argument("old", metavar="OLD", help="the address now, e.g. local/churn")
            sp.add_argument("new", metavar="NEW", help="the new address, e.g. prod-local/churn")
            options.lock(sp)
        elif name == "pull":
            sp.add_argument(
                "--serial", type=int, metavar="N", help="print version N from the history"
            )
        elif name == "rollback":
            sp.add_argument(
                "--serial", type=int, required=True, metavar="N", help="the version to restore"
            )
            options.lock(sp)
        elif name == "migrate":
            sp.add_argument(
                "--to",
                required=True,
                metavar="URL|PATH",
                help="the destination: postgresql://USER@HOST/DB, s3://BUCKET/PREFIX/ or a path",
            )
            options.lock(sp)
        elif name == "push":
            sp.add_argument("file", metavar="FILE", help="the state document to write")
            sp.add_argument(
                "--force",
                action="store_true",
                help="write it even for another lineage or environment, or an older serial",
            )
            options.lock(sp)
        sp.set_defaults(handler=run)

    p = sub.add_parser("force-unlock", help="remove a state lock left by a dead process")
    p.add_argument("lock_id", nargs="?", metavar="LOCK_ID", help="only remove this lock")
    options.manifest(p, required=False)
    options.state(p, environment=True)
    p.set_defaults(handler=run_force_unlock)
