"""Schema validation of manifest data, and the wording of every manifest message.

``schemas/manifest.schema.json`` is the single source of what a manifest may contain; this module
runs it over the data and turns each jsonschema error into one plain line that names the field and
the thing it is in, located at the YAML node a person would edit (the key for unknown fields and
bad names, the value for wrong values, the key naming the mapping for missing fields). The naming
helpers are shared with the YAML reader and interpolation so every message names things alike.

A valid manifest is the common case: the compiled validator of ``manifest.schema`` says so, and
only an invalid manifest is run through ``jsonschema`` for errors to word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from deployctl.errors import ManifestIssue, closest
from deployctl.manifest.positions import JSONPath, Position, Positions
from deployctl.manifest.schema import fast_is_valid, jsonschema_validator
from deployctl.manifest.schema import manifest_schema as manifest_schema  # where it used to be
from deployctl.model import LIFECYCLE_PATH_PATTERN
from deployctl.model.calls import DURATION_RULE, MAX_ATTEMPTS
from deployctl.model.field_paths import (
    CONFIG_FIELD_PATTERN,
    CONFIG_FIELD_RULE,
    CONFIG_KEY_PREFIX,
    PATH_RULE,
    RECORD_FIELDS,
)

if TYPE_CHECKING:
    from jsonschema import ValidationError

NAME_RULE = (
    "names start with a letter or digit and contain only letters, digits, '.', '_' and '-' "
    "(at most 128 characters)"
)
VARIABLE_NAME_RULE = (
    "variable names start with a letter or '_' and contain only letters, digits and '_'"
)
SUPPORTED_VERSION = 1
LIFECYCLE_PATH_RULE = "use model_uri, flavor, config or config.KEY.…"
_LIFECYCLE_PATH = re.compile(LIFECYCLE_PATH_PATTERN)
_CONFIG_FIELD = re.compile(CONFIG_FIELD_PATTERN)
# Fields a deployment may set that target defaults may not, with the reason given when they do.
_DEPLOYMENT_ONLY = {
    "adopt": "adopt can only be set on a deployment",
}

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "a boolean",
    "null": "null",
}


# --- naming things -------------------------------------------------------------------------


def dotted(path: JSONPath) -> str:
    """``config.resources[0].cpu`` style text for a path below a named thing."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _entity_length(path: JSONPath) -> int:
    """How much of ``path`` names a thing in its own right (root, variable, target, ...)."""
    if not path:
        return 0
    head = path[0]
    if head == "variables" and len(path) >= 2:
        return 2
    if head == "targets" and len(path) >= 2:
        if len(path) >= 4 and path[2] == "deployments":
            return 4
        if len(path) >= 3 and path[2] in ("defaults", "deployments"):
            return 3
        return 2
    return 0


def _is_fields(path: JSONPath) -> bool:
    """Whether ``path`` is a target's ``fields`` mapping."""
    return len(path) == 3 and path[0] == "targets" and path[2] == "fields"


def _lifecycle_length(path: JSONPath) -> int:
    """The length of the ``lifecycle`` mapping that ``path`` is or is below, or 0 if none.

    A lifecycle is in a deployment (``targets.T.deployments.D.lifecycle``) or in target defaults
    (``targets.T.defaults.lifecycle``).
    """
    if not path or path[0] != "targets":
        return 0
    if len(path) >= 4 and path[2] == "defaults" and path[3] == "lifecycle":
        return 4
    if len(path) >= 5 and path[2] == "deployments" and path[4] == "lifecycle":
        return 5
    return 0


def _lifecycle_item(path: JSONPath) -> bool:
    """Whether ``path`` is an entry of a lifecycle list (``ignore_changes``, ``replace_on``)."""
    size = _lifecycle_length(path)
    return bool(size) and len(path) == size + 2 and isinstance(path[-1], int)


def _lifecycle_list(path: JSONPath) -> str:
    """A lifecycle list in words, as its entries are *in*: ``ignore_changes of deployment 'x'``."""
    size = _lifecycle_length(path)
    return f"{path[size]} of {describe(path[: size - 1])}"


def _sensitive_length(path: JSONPath) -> int:
    """The length of the ``sensitive`` list that ``path`` is or is below, or 0 if none (in a
    deployment, or in target defaults)."""
    if not path or path[0] != "targets":
        return 0
    if len(path) >= 4 and path[2] == "defaults" and path[3] == "sensitive":
        return 4
    if len(path) >= 5 and path[2] == "deployments" and path[4] == "sensitive":
        return 5
    return 0


def _path_list(path: JSONPath) -> str | None:
    """The list of paths (``ignore_changes``, ``replace_on``, ``sensitive``) that ``path`` is or
    is an entry of, in words (``sensitive of deployment 'x'``); None for anything else."""
    size = _sensitive_length(path)
    if size and len(path) in (size, size + 1):
        return f"sensitive of {describe(path[: size - 1])}"
    size = _lifecycle_length(path)
    if size and len(path) in (size + 1, size + 2):
        return _lifecycle_list(path)
    return None


def _path_item(path: JSONPath) -> bool:
    """Whether ``path`` is an entry of a list of paths (lifecycle lists, ``sensitive``)."""
    if not path or not isinstance(path[-1], int):
        return False
    size = _sensitive_length(path)
    return (bool(size) and len(path) == size + 1) or _lifecycle_item(path)


def describe(path: JSONPath) -> str:
    """The thing at ``path`` in words: ``deployment 'churn'``, ``field 'uri' of target 'x'``."""
    if _is_fields(path):
        return f"fields of target '{path[1]}'"
    lifecycle = _lifecycle_length(path)
    if lifecycle:
        owner = f"lifecycle of {describe(path[: lifecycle - 1])}"
        return owner if lifecycle == len(path) else f"field '{dotted(path[lifecycle:])}' of {owner}"
    size = _entity_length(path)
    if size == len(path):
        if size == 0:
            return "the manifest"
        if path[0] == "variables":
            return f"variable '{path[1]}'"
        target = f"target '{path[1]}'"
        if size == 2:
            return target
        if size == 3:
            return f"{path[2]} of {target}"
        return f"deployment '{path[3]}'"
    return f"field '{dotted(path[size:])}' of {describe(path[:size])}"


def describe_container(path: JSONPath) -> str:
    """The mapping at ``path`` as the place something is *in* (``in targets``)."""
    if path in (("targets",), ("variables",)):
        return str(path[0])
    return describe(path)


def yaml_type(value: Any) -> str:
    """The YAML word, with article, for the type of a loaded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"  # pragma: no cover - the YAML reader builds only the above


def show(value: Any) -> str:
    """A value as it would be written in YAML, for quoting in a message."""
    if isinstance(value, str):
        return f"'{value}'"
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return yaml_type(value)


# --- validation ----------------------------------------------------------------------------


def validate_manifest(
    data: Any,
    positions: Positions,
    source: str,
    unexpanded: Collection[JSONPath] = frozenset(),
) -> list[ManifestIssue]:
    """Every schema problem of ``data`` as located, worded issues, each in the file where the
    offending value was written (``positions`` knows; ``source`` names the manifest read).

    ``unexpanded`` are the paths of strings whose references could not be expanded (already
    reported): what they would have been is unknown, so the schema says nothing about them.
    """
    if fast_is_valid(data):
        return []
    issues: list[ManifestIssue] = []
    for error in jsonschema_validator().iter_errors(data):
        if tuple(error.absolute_path) in unexpanded:
            continue
        for where, message in _explain(error, positions, unexpanded):
            issues.append(where.issue(message))
    return issues


def _explain(
    error: ValidationError, positions: Positions, unexpanded: Collection[JSONPath] = frozenset()
) -> Iterator[tuple[Position, str]]:
    path: JSONPath = tuple(error.absolute_path)
    instance = error.instance
    expected: Any = error.validator_value
    if "propertyNames" in error.relative_schema_path:
        # jsonschema reports a bad key at the mapping's path, with the key as the instance.
        name = str(instance)
        yield positions.key((*path, name)), _bad_name(path, name)
        return
    validator = error.validator
    if validator == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for key in instance:
            if key in allowed or any(p.search(key) for p in patterns):
                continue
            if _is_fields(path):
                yield positions.key((*path, key)), _bad_field_key(path, key, allowed)
                continue
            close = closest(key, allowed, cutoff=0.5)
            hint = f" (did you mean '{close}'?)" if close else ""
            if _is_defaults(path) and key in _DEPLOYMENT_ONLY:
                hint = f" ({_DEPLOYMENT_ONLY[key]})"
            message = f"unknown field '{key}' in {describe(path)}{hint}"
            yield positions.key((*path, key)), message
        return
    if validator == "required" and isinstance(instance, dict):
        for name in expected:
            if name not in instance:
                message = f"{describe(path)} is missing required field '{name}'"
                # At the key that names the mapping: a block mapping starts at its first field,
                # which would point at a line that is not the problem.
                yield positions.key(path), message
        return
    words = _path_list(path)
    if validator == "uniqueItems" and isinstance(instance, list) and words:
        yield from _repeated_entries(path, words, instance, positions, unexpanded)
        return
    if validator == "anyOf" and _call_setting(path) == "timeout" and isinstance(instance, dict):
        # {read: ..., write: ...}: explain what is wrong inside the mapping form.
        for sub in error.context or ():
            if sub.relative_schema_path and sub.relative_schema_path[0] == 1:
                yield from _explain(sub, positions, unexpanded)
        return
    where = positions.value(path)
    call_message = _call_setting_message(path, str(validator), instance)
    if call_message is not None:
        yield where, call_message
        return
    if _is_fields(path[:-1]) and validator in ("type", "pattern", "minLength"):
        if validator != "minLength":  # an empty path fails the pattern too: one message
            yield where, _bad_field_path(path, instance)
    elif _path_item(path) and validator in ("type", "pattern"):
        yield (
            where,
            f"{show(instance)} in {_path_list(path)} is not a path: {LIFECYCLE_PATH_RULE}",
        )
    elif validator == "type":
        yield where, _wrong_type(path, expected, instance)
    elif validator == "const" and path == ("version",):
        yield (
            where,
            f"unsupported manifest version {show(instance)} "
            f"(this deployctl reads version {SUPPORTED_VERSION})",
        )
    elif validator in ("minProperties", "maxProperties") and path == ("state",):
        yield where, "state needs exactly one of url (a shared backend) or path (a local file)"
    elif validator == "minLength" and isinstance(instance, str) and not instance:
        yield where, f"{describe(path)} must not be empty"
    elif validator == "pattern" and path == ("environment",):
        yield where, f"invalid environment name {show(instance)}: {NAME_RULE}"
    else:
        yield where, f"{error.message} (at {dotted(path) or 'the top level'})"


def _bad_field_key(path: JSONPath, key: str, allowed: list[str]) -> str:
    """The message for a key of a target's ``fields`` that maps nothing deployctl reads."""
    where = describe(path)
    if key.startswith(CONFIG_KEY_PREFIX):
        return f"{where}: '{key}' names no config key: {CONFIG_FIELD_RULE}"
    size = len(CONFIG_KEY_PREFIX)
    fixed = CONFIG_KEY_PREFIX + key[size:]  # Config.replicas -> config.replicas
    if key[:size].lower() == CONFIG_KEY_PREFIX and _CONFIG_FIELD.match(fixed):
        close: str | None = fixed
    else:
        close = closest(key, allowed, cutoff=0.5)
    hint = (
        f"did you mean '{close}'?"
        if close
        else f"map one of {', '.join(RECORD_FIELDS)}, or config.KEY for one config key"
    )
    return f"unknown field '{key}' in {where} ({hint})"


def _bad_field_path(path: JSONPath, value: Any) -> str:
    """The message for a path of a target's ``fields`` that is not one."""
    if value == "":
        what = "an empty path"
    elif isinstance(value, str):
        what = f"{show(value)} is not a path"
    elif isinstance(value, (bool, int, float)):
        what = f"{yaml_type(value)} is not a path (quote it to make it a string)"
    else:
        what = f"{yaml_type(value)} is not a path"
    return f"{describe(path[:-1])}: {path[-1]}: {what}; a path is {PATH_RULE}"


def _call_setting(path: JSONPath) -> str | None:
    """``timeout`` or ``retry`` when ``path`` is a target's call setting or inside one."""
    if len(path) >= 3 and path[0] == "targets" and path[2] in ("timeout", "retry"):
        return str(path[2])
    return None


def _call_setting_message(path: JSONPath, validator: str, instance: Any) -> str | None:
    """The message for a bad ``timeout`` or ``retry`` of a target, or None for the others."""
    setting = _call_setting(path)
    if setting is None:
        return None
    tail = path[3:]
    if validator == "minProperties" and not tail:
        what = "read, write" if setting == "timeout" else "attempts, backoff"
        return f"{describe(path)} is empty: set {what} or both, or leave it out"
    if tail == ("attempts",) and validator in ("type", "minimum", "maximum"):
        return (
            f"{describe(path)} must be a whole number from 1 to {MAX_ATTEMPTS}, "
            f"not {show(instance)}"
        )
    duration = (setting == "timeout" and tail in ((), ("read",), ("write",))) or tail == (
        "backoff",
    )
    if not duration or validator not in ("type", "pattern", "anyOf"):
        return None
    also = ", or a mapping {read: 5m, write: 30m}" if setting == "timeout" and not tail else ""
    message = f"{describe(path)} must be {DURATION_RULE}{also}, not {show(instance)}"
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        message += f" (write {instance:g}s or {instance:g}m)"
    return message


def _is_defaults(path: JSONPath) -> bool:
    """Whether ``path`` is a target's ``defaults`` mapping."""
    return len(path) == 3 and path[0] == "targets" and path[2] == "defaults"


def _repeated_entries(
    path: JSONPath,
    words: str,
    items: list[Any],
    positions: Positions,
    unexpanded: Collection[JSONPath],
) -> Iterator[tuple[Position, str]]:
    """Each path listed more than once, at its first repeat.

    Entries that are not paths are reported as such, and unexpanded ones are unknown: neither
    counts as a repeat.
    """
    counts: dict[str, int] = {}
    for index, item in enumerate(items):
        if (*path, index) in unexpanded or not isinstance(item, str):
            continue
        if not _LIFECYCLE_PATH.fullmatch(item):
            continue
        counts[item] = counts.get(item, 0) + 1
        if counts[item] == 2:
            message = f"{show(item)} is listed more than once in {words}"
            yield positions.value((*path, index)), message


def _bad_name(path: JSONPath, name: str) -> str:
    if path == ("variables",):
        return f"invalid variable name '{name}': {VARIABLE_NAME_RULE}"
    kind = "target" if path == ("targets",) else "deployment"
    return f"invalid {kind} name '{name}': {NAME_RULE}"


def _wrong_type(path: JSONPath, expected: str | list[str], instance: Any) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    words = [_TYPE_WORDS.get(name, name) for name in names]
    wanted = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    message = f"{describe(path)} must be {wanted}, not {yaml_type(instance)}"
    if "string" in names and isinstance(instance, (bool, int, float)):
        message += " (quote it to make it a string)"
    elif names == ["object"] and instance is None:
        message += " (write {} for an empty mapping)"
    elif names == ["boolean"] and isinstance(instance, str) and instance in ("true", "false"):
        message += " (write true or false without quotes)"
    elif names == ["array"] and isinstance(instance, str):
        message += f" (write [{instance}] for a list of one)"
    return message
