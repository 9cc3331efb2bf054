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
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.errors import PlanFileError
from deployctl.planner.plan import Plan, check_plan_format

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

REMAKE = "make the plan again with 'deployctl plan --out'"
# How much of a wrong value a schema error quotes.
_VALUE_CHARS = 80


def plan_json(plan: Plan) -> str:
    """The document ``plan --json`` and ``show --json`` print, and plan files hold."""
    return json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"


def write_plan(plan: Plan, path: str) -> None:
    """Write ``plan`` to ``path`` atomically; ``PlanFileError`` when it cannot be written."""
    from deployctl import atomic

    try:
        atomic.write_atomic(Path(path), plan_json(plan).encode("utf-8"))
    except atomic.ReplacedButNotSynced:
        pass  # the complete plan is in place; only its directory entry's durability is unsure
    except OSError as exc:
        raise PlanFileError(f"--out {path}: cannot write the plan file: {exc.strerror}") from exc


def read_plan(path: str) -> Plan:
    """The plan saved at ``path``, checked against the plan schema."""
    try:
        with open(path, encoding="utf-8") as f:
            data: Any = json.load(f)
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise PlanFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not a JSON plan file: {exc.msg}"
        ) from exc
    except UnicodeDecodeError as exc:  # a binary file is no JSON syntax error
        raise PlanFileError(f"{path}: not a JSON plan file: it is not UTF-8 text") from exc
    check_plan_format(data, source=path)
    check_plan_schema(data, source=path)
    return Plan.from_json(data, source=path)


@functools.cache
def _validator() -> Draft202012Validator:
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
