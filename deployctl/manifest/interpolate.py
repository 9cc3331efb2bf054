"""Manifest variables and the ``${var.NAME}`` / ``${env.NAME}`` references that use them.

Variables are declared under ``variables:`` and may be overridden from the command line
(``--var NAME=VALUE``, converted to the declared type). References are expanded in string values
below ``targets`` only: keys and the fields above ``targets`` (version, environment, variables)
stay as written, so what names the environment and its state can never depend on the shell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deployctl.errors import ManifestIssue
from deployctl.manifest.positions import JSONPath, Position, Positions
from deployctl.manifest.validate import describe, show

Scalar = str | int | float | bool

# ``$${`` first so that an escaped reference is never read as one.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
_BODY = re.compile(r"(var|env)\.([A-Za-z_][A-Za-z0-9_]*)")
_WHOLE = re.compile(r"\$\{(var|env)\.([A-Za-z_][A-Za-z0-9_]*)\}")
_FORMS = "references are ${var.NAME} or ${env.NAME} (write $${ for a literal ${)"


@dataclass
class Variables:
    """The effective variables: declared values with ``--var`` overrides applied.

    ``unusable`` holds names whose declaration is invalid (the schema reports it), and
    ``complete`` is False when ``variables:`` itself is unusable: references to such names are
    left unexpanded without a second, misleading "undefined variable" issue.
    """

    values: dict[str, Scalar] = field(default_factory=dict)
    unusable: set[str] = field(default_factory=set)
    complete: bool = True
    issues: list[ManifestIssue] = field(default_factory=list)


def resolve_variables(
    declared: Any,
    overrides: Mapping[str, str],
    positions: Positions,
    source: str,
    manifest_name: str,
) -> Variables:
    """Apply ``--var`` overrides (strings) to the declared variables."""
    result = Variables()
    if declared is None:
        declared = {}
    if not isinstance(declared, dict):
        result.complete = False
        declared = {}
    for name, value in declared.items():
        if isinstance(value, (str, int, float, bool)):
            result.values[name] = value
        else:
            result.unusable.add(name)
    for name, text in overrides.items():
        if name not in declared:
            where = positions.written_key(("variables",)) or Position(source, 1, 1)
            message = (
                f"unknown variable '{name}' given with --var "
                f"(declare it under variables: in {manifest_name})"
            )
            result.issues.append(where.issue(message))
            continue
        if name in result.unusable:
            continue
        current = result.values[name]
        converted = _convert(text, current)
        if converted is None:
            message = (
                f"invalid value '{text}' for variable '{name}' given with --var: "
                f"expected {_expected(current)}, like its declared value {show(current)}"
            )
            result.issues.append(positions.key(("variables", name)).issue(message))
            continue
        result.values[name] = converted
    return result


def _convert(text: str, like: Scalar) -> Scalar | None:
    """``text`` as a value of ``like``'s type, or None when it is not one."""
    if isinstance(like, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return None
    if isinstance(like, int):
        try:
            return int(text.strip())
        except ValueError:
            return None
    if isinstance(like, float):
        try:
            number = float(text.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return text


def _expected(like: Scalar) -> str:
    if isinstance(like, bool):
        return "true or false"
    if isinstance(like, int):
        return "a whole number"
    return "a number"


def _render(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Missing:
    pass


_MISSING = _Missing()


class Interpolator:
    """Expands references in every string value of a subtree, collecting issues.

    ``unexpanded`` collects the paths of strings left as written because a reference in them
    failed (and was reported), so that later checks do not judge text that stands for a value.
    ``env_paths`` maps the path of each string that read the environment to the variables it
    read: those values are secrets (``model.sensitive``).
    """

    def __init__(
        self,
        variables: Variables,
        environ: Mapping[str, str],
        positions: Positions,
    ) -> None:
        self.variables = variables
        self.environ = environ
        self.positions = positions
        self.issues: list[ManifestIssue] = []
        self.unexpanded: set[JSONPath] = set()
        self.env_paths: dict[JSONPath, set[str]] = {}

    def expand_tree(self, value: Any, path: JSONPath) -> Any:
        """``value`` with references in its string values expanded: a new mapping or list
        where something below it changed, the same one where nothing did (most of a manifest
        has no references, and a copy of all of it would cost more than the lookups)."""
        if isinstance(value, str):
            return self.expand(value, path) if "${" in value else value
        if not isinstance(value, (dict, list)):
            return value
        changed: Any = None
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            # Nearly every string has no reference: it, and any other scalar, costs no call.
            if isinstance(item, str):
                if "${" not in item:
                    continue
                expanded = self.expand(item, (*path, key))
            elif isinstance(item, (dict, list)):
                expanded = self.expand_tree(item, (*path, key))
            else:
                continue
            if expanded is not item:
                if changed is None:
                    changed = value.copy()
                changed[key] = expanded
        return value if changed is None else changed

    def expand(self, text: str, path: JSONPath) -> Any:
        """``text`` with its references expanded; unchanged when any of them failed.

        A string that is exactly one reference takes the referenced value with its type, so
        ``workers: ${var.workers}`` stays a number (and ``prevent_destroy: ${var.protect}`` a
        boolean).
        """
        whole = _WHOLE.fullmatch(text)
        if whole is not None:
            found = self._lookup(whole.group(1), whole.group(2), path)
            if isinstance(found, _Missing):
                self.unexpanded.add(path)
                return text
            return found
        pieces: list[str] = []
        position = 0
        failed = False
        for match in _REFERENCE.finditer(text):
            pieces.append(text[position : match.start()])
            position = match.end()
            if match.group(1) is None:
                pieces.append("${")
                continue
            body = _BODY.fullmatch(match.group(1)) if match.group(2) else None
            if body is None:
                failed = True
                self._report(path, self._malformed(match.group(0), bool(match.group(2)), path))
                continue
            found = self._lookup(body.group(1), body.group(2), path)
            if isinstance(found, _Missing):
                failed = True
                continue
            pieces.append(_render(found))
        pieces.append(text[position:])
        if failed:
            self.unexpanded.add(path)
            return text
        return "".join(pieces)

    def _lookup(self, kind: str, name: str, path: JSONPath) -> Scalar | _Missing:
        if kind == "env":
            found = self.environ.get(name)
            if found is None:
                self._report(
                    path,
                    f"environment variable '{name}' is not set (used in {describe(path)})",
                )
                return _MISSING
            self.env_paths.setdefault(path, set()).add(name)
            return found
        variables = self.variables
        if name in variables.values:
            return variables.values[name]
        if name not in variables.unusable and variables.complete:
            self._report(
                path,
                f"undefined variable '{name}' in {describe(path)} "
                f"(declare it under variables: or pass --var {name}=VALUE)",
            )
        return _MISSING

    @staticmethod
    def _malformed(reference: str, closed: bool, path: JSONPath) -> str:
        problem = "invalid" if closed else "unterminated"
        return f"{problem} reference '{reference}' in {describe(path)}: {_FORMS}"

    def _report(self, path: JSONPath, message: str) -> None:
        self.issues.append(self.positions.value(path).issue(message))
