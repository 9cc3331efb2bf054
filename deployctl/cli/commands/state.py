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
import functools
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.cli import common, options
from deployctl.errors import LockError, StaleStateError, StateError, UsageError
from deployctl.model import JSONValue, canonical_json, split_address
from deployctl.state.document import STATE_FORMAT_VERSION, StateDocument

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from deployctl.manifest.model import Manifest


def _open(args: argparse.Namespace) -> tuple[str, StateDocument]:
    _, _, path = common.locate_state(args)
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
    _, _, path = common.locate_state(args)
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


def _address(text: str, role: str) -> tuple[str, str]:
    try:
        return split_address(text)
    except ValueError as exc:
        raise UsageError(
            f"{role} {exc}; addresses look like local/churn ('deployctl state list' shows them)"
        ) from exc


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
    manifest, _, path = common.locate_state(args)
    old_target, old_name = _address(args.old, "OLD:")
    new_target, new_name = _address(args.new, "NEW:")
    if args.old == args.new:
        raise UsageError(f"OLD and NEW are both {args.old}; nothing to move")
    if new_name != old_name:
        raise UsageError(
            f"cannot move {args.old} to {args.new}: '{old_name}' is the deployment's name on "
            f"target '{old_target}' and state mv does not touch the target, so only the target "
            f"key of an address may change",
            hint=f"to rename the deployment itself, rename it in the manifest and apply: "
            f"deployctl creates '{new_name}' and deletes '{old_name}'",
        )
    timeout = common.parse_duration(args.lock_timeout)
    with common.backend(path).lock(operation="state mv", timeout=timeout) as session:
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
        _check_same_target(record.target_uri, new_target, document, manifest)
        moved = replace(record, target=new_target)
        session.replace(document.without(args.old).with_record(moved))
    sys.stdout.write(
        f"Moved {args.old} to {args.new} in {path} (still {record.name} at "
        f"{record.target_uri}; the target is untouched)\n"
    )
    return 0


def _pull(args: argparse.Namespace) -> int:
    from deployctl.state.local import serialize_document

    path, state = _open(args)
    if not state.exists:
        raise StateError(
            f"there is no state at {path}: nothing has been applied to it yet",
            hint="check -f, -e or --state",
        )
    sys.stdout.write(serialize_document(state).decode("utf-8"))
    return 0


@functools.cache
def _state_validator() -> Draft202012Validator:
    from importlib import resources

    from jsonschema import Draft202012Validator

    resource = resources.files("deployctl") / "schemas" / "state.schema.json"
    return Draft202012Validator(json.loads(resource.read_text(encoding="utf-8")))


def _load_pushed(file: str) -> StateDocument:
    """FILE as a state document, validated against ``schemas/state.schema.json``."""
    fix = "push a file written by deployctl or by 'deployctl state pull'; nothing was written"
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read {file}: {exc.strerror}", hint="nothing was written") from exc
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:
        raise StateError(f"{file} is not JSON ({exc})", hint=fix) from exc
    if isinstance(data, dict) and data.get("format_version") == STATE_FORMAT_VERSION:
        _validate_pushed(file, data, fix)
    try:
        return StateDocument.from_json(data, source=file)
    except StateError as exc:
        if exc.hint and "upgrade" in exc.hint:
            raise  # a newer format: upgrading deployctl is the fix
        message = exc.message if file in exc.message else f"{file}: {exc.message}"
        raise StateError(message, hint=fix) from exc


def _validate_pushed(file: str, data: dict[str, Any], fix: str) -> None:
    """The schema, plus what it cannot say: addresses agree with target/name, and are unique."""
    from collections import Counter

    from jsonschema.exceptions import best_match

    error = best_match(_state_validator().iter_errors(data))
    if error is not None:
        where = error.json_path.removeprefix("$") or "the top level"
        raise StateError(
            f"{file} is not a valid deployctl state: at {where}: {error.message}", hint=fix
        )
    for item in data["deployments"]:
        expected = f"{item['target']}/{item['name']}"
        if item["address"] != expected:
            raise StateError(
                f"{file}: record {item['address']} has target '{item['target']}' and name "
                f"'{item['name']}'; its address must be {expected}",
                hint=fix,
            )
    counts = Counter(item["address"] for item in data["deployments"])
    duplicates = sorted(address for address, n in counts.items() if n > 1)
    if duplicates:
        raise StateError(f"{file} records {', '.join(duplicates)} more than once", hint=fix)


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
    _, environment, path = common.locate_state(args)
    pushed = _load_pushed(args.file)
    timeout = common.parse_duration(args.lock_timeout)
    with common.backend(path, environment).lock(operation="state push", timeout=timeout) as session:
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
            return 0
        written = session.replace(pushed)
    sys.stdout.write(
        f"Pushed {args.file} to {path} (lineage {written.lineage}, serial {written.serial})\n"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    commands = {"list": _list, "show": _show, "rm": _rm, "mv": _mv, "pull": _pull, "push": _push}
    return commands[args.state_command](args)


def run_force_unlock(args: argparse.Namespace) -> int:
    _, _, path = common.locate_state(args)
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
        ("mv", "rename an address's target key without touching the target"),
        ("pull", "print the state document"),
        ("push", "replace the state by a state document (refuses an older or foreign one)"),
    ):
        sp = state_sub.add_parser(name, help=help_text)
        options.manifest(sp, required=False)
        options.state(sp, environment=True)
        if name == "list":
            sp.add_argument("--json", action="store_true", help="print a JSON list of records")
        elif name == "show":
            sp.add_argument("address", metavar="ADDRESS")
        elif name == "rm":
            sp.add_argument("addresses", nargs="+", metavar="ADDRESS")
            options.lock(sp)
        elif name == "mv":
            sp.add_argument("old", metavar="OLD", help="the address now, e.g. local/churn")
            sp.add_argument("new", metavar="NEW", help="the new address, e.g. prod-local/churn")
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
