"""Checking a state document that comes from outside a backend (``state push`` input) against
``schemas/state.schema.json``. ``StateDocument.from_json`` adds, on every read by any backend,
what the schema cannot say: a record named ``../../x``, two records for one address or a serial
out of range is an error naming the file, never a state deployctl acts on.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl.errors import StateError
from deployctl.model.state import STATE_FORMAT_VERSION, StateDocument
from deployctl.model.values import strict_loads

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_PUSH_FIX = "push a file written by deployctl or by 'deployctl state pull'; nothing was written"


@functools.cache
def _validator() -> Draft202012Validator:
    from importlib import resources

    from jsonschema import Draft202012Validator

    resource = resources.files("deployctl") / "schemas" / "state.schema.json"
    return Draft202012Validator(json.loads(resource.read_text(encoding="utf-8")))


def read_state_file(file: str) -> StateDocument:
    """FILE (``state push`` input) as a state document, validated (see ``check_document``)."""
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read {file}: {exc.strerror}", hint="nothing was written") from exc
    try:
        data: Any = strict_loads(raw)
    except ValueError as exc:
        raise StateError(f"{file} is not JSON ({exc})", hint=_PUSH_FIX) from exc
    if isinstance(data, dict) and data.get("format_version") == STATE_FORMAT_VERSION:
        check_document(data, file, hint=_PUSH_FIX)
    try:
        return StateDocument.from_json(data, source=file)
    except StateError as exc:
        if exc.hint and "upgrade" in exc.hint:
            raise  # a newer format: upgrading deployctl is the fix
        message = exc.message if file in exc.message else f"{file}: {exc.message}"
        raise StateError(message, hint=_PUSH_FIX) from exc


def check_document(data: dict[str, Any], source: str, *, hint: str | None = None) -> None:
    """The state schema; raises ``StateError`` naming ``source`` and the field.

    What the schema cannot say (names that are names, addresses that agree with target and name
    and appear once, serials in range) ``StateDocument.from_json`` checks on every read.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is not None:
        where = error.json_path.removeprefix("$") or "the top level"
        raise StateError(
            f"{source} is not a valid deployctl state: at {where}: {error.message}", hint=hint
        )
