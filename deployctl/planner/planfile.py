"""Saved plan files (``deployctl plan --out``): writing, reading and checking them.

A plan file holds exactly the document ``plan --json`` prints (``plan_json``). It is written
atomically (``deployctl.atomic``): a half-written plan must never be applied. Reading one checks,
in this order, that it can be read, that it is JSON, that it is a deployctl plan of this format
version, and that it is valid against ``schemas/plan.schema.json`` (as shipped in the package);
each failure is one ``PlanFileError`` line naming the file (and the field, for a schema error).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.errors import PlanFileError
from deployctl.model.values import indented_json, strict_loads
from deployctl.planner.plan import Plan, check_plan_format

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

REMAKE = "make the plan again with 'deployctl plan --out'"
# How much of a wrong value a schema error quotes.
_VALUE_CHARS = 80


def plan_json(plan: Plan) -> str:
    """The document ``plan --json`` and ``show --json`` print, and plan files hold."""
    return indented_json(plan.to_json()) + "\n"


def write_plan(plan: Plan, path: str) -> None:
    """Write ``plan`` to ``path`` atomically; ``PlanFileError`` when it cannot be written.

    Only a saved plan is ever overwritten (``--out prod.yaml`` must not destroy a manifest, nor
    ``--out state/prod.json`` a state), and no missing directory is created (a typo in the
    path is an error, not a new folder).
    """
    from deployctl import atomic

    _check_out_path(path)
    try:
        atomic.write_atomic(Path(path), plan_json(plan).encode("utf-8"))
    except atomic.ReplacedButNotSynced:
        pass  # the complete plan is in place; only its directory entry's durability is unsure
    except OSError as exc:
        raise PlanFileError(f"--out {path}: cannot write the plan file: {exc.strerror}") from exc


# How much of an existing --out file is read to tell whether it is a saved plan.
_MAX_PLAN_BYTES = 256 * 2**20


def _check_out_path(path: str) -> None:
    target = Path(path)
    if not target.parent.is_dir():
        what = "is not a directory" if target.parent.exists() else "does not exist"
        raise PlanFileError(
            f"--out {path}: cannot write the plan file: {target.parent} {what}",
            hint="create the directory first, or save the plan elsewhere",
        )
    if not os.path.lexists(target):
        return
    refuse = PlanFileError(
        f"--out {path}: the file exists and is not a saved plan; refusing to overwrite it",
        hint="choose another path for the plan (e.g. prod.plan.json)",
    )
    if target.is_symlink() or not target.is_file():
        raise refuse
    try:
        with open(target, "rb") as f:
            raw = f.read(_MAX_PLAN_BYTES + 1)
        if len(raw) > _MAX_PLAN_BYTES:
            raise refuse
        check_plan_format(strict_loads(raw.decode("utf-8")), source=path)
    except PlanFileError as exc:
        if exc.hint is None:  # not a plan at all (a plan of another version may be replaced)
            raise refuse from exc
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise refuse from exc


def read_plan(path: str) -> Plan:
    """The plan saved at ``path``, checked against the plan schema."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
        data: Any = strict_loads(text)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not a JSON plan file: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:  # a binary file is no JSON syntax error
        raise PlanFileError(f"{path}: not a JSON plan file: it is not UTF-8 text") from exc
    except ValueError as exc:  # NaN/Infinity, or nested too deeply
        raise PlanFileError(f"{path}: not a JSON plan file: {exc}") from exc
    check_plan_format(data, source=path)
    check_plan_schema(data, source=path)
    return Plan.from_json(data, source=path)


@functools.cache
def _validator() -> Draft202012Validator:
    from importlib import resources  # only plan files read back need it (and its imports)

    from jsonschema import Draft202012Validator  # heavy: only for reading plan files

    resource = resources.files("deployctl") / "schemas" / "plan.schema.json"
    return Draft202012Validator(json.loads(resource.read_text(encoding="utf-8")))


def check_plan_schema(data: Any, *, source: str) -> None:
    """Refuse a document that ``schemas/plan.schema.json`` does not accept, naming the field."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    where = error.json_path.removeprefix("$").removeprefix(".") or "the top level"
    message = error.message
    value = repr(error.instance)
    if len(value) > _VALUE_CHARS:  # the field and the rule matter, not the whole value
        message = message.replace(value, value[: _VALUE_CHARS - 3] + "...")
    message = " ".join(message.split())  # one line, whatever the value holds
    raise PlanFileError(f"{source} is malformed: at {where}: {message}", hint=REMAKE)
