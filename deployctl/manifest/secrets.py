"""Which fields of a desired deployment are secrets (``model.sensitive``).

Two things make a field sensitive: a path listed under ``sensitive:`` (the deployment's own list
and its target defaults' together: a secret named once for a target stays one in every
deployment), and a value read from the environment (``${env.NAME}``, whole or in part), recorded
with the variables it read so that a saved plan can name where the value comes from. Only the
fields deployctl sends to a plugin (``model_uri``, ``flavor``, ``config``) are masked; a value
from the environment elsewhere (a target's ``uri``, a timeout) is not a deployment's secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from deployctl.manifest.positions import JSONPath
from deployctl.model import SPEC_FIELDS
from deployctl.model.sensitive import SensitiveField, merge_fields

EnvPaths = Mapping[JSONPath, Iterable[str]]


def env_paths_by_owner(env_paths: EnvPaths) -> dict[JSONPath, dict[JSONPath, Iterable[str]]]:
    """The paths of values read from the environment (with the variables each read), grouped
    by their owner: a deployment (``targets.T.deployments.D``) or a target's defaults
    (``targets.T.defaults``), each path relative to its owner; anything else is left out.
    Looked up once per deployment, so that loading stays linear however many there are."""
    grouped: dict[JSONPath, dict[JSONPath, Iterable[str]]] = {}
    for path, names in env_paths.items():
        if len(path) >= 4 and path[0] == "targets" and path[2] == "deployments":
            owner, field = path[:4], path[4:]
        elif len(path) >= 3 and path[0] == "targets" and path[2] == "defaults":
            owner, field = path[:3], path[3:]
        else:
            continue
        grouped.setdefault(owner, {})[field] = names
    return grouped


def sensitive_fields(
    target: str,
    name: str,
    defaults: Mapping[str, Any],
    deployment: Mapping[str, Any],
    env_by_owner: Mapping[JSONPath, EnvPaths],
) -> tuple[SensitiveField, ...]:
    """The sensitive fields of deployment ``name`` of ``target`` (``defaults`` and
    ``deployment`` as written, before they are merged; ``env_by_owner`` from
    ``env_paths_by_owner``)."""
    listed = [*(defaults.get("sensitive") or ()), *(deployment.get("sensitive") or ())]
    own = env_by_owner.get(("targets", target, "deployments", name), {})
    shared = env_by_owner.get(("targets", target, "defaults"), {})
    if not listed and not own and not shared:
        return ()
    fields = [SensitiveField(tuple(str(path).split("."))) for path in listed]
    for field, names in own.items():
        if field and field[0] in SPEC_FIELDS:
            fields.append(SensitiveField(field, tuple(sorted(names))))
    for field, names in shared.items():
        if not _from_defaults(deployment, field):
            continue  # the deployment's own value replaced the default
        if field and field[0] in SPEC_FIELDS:
            fields.append(SensitiveField(field, tuple(sorted(names))))
    return merge_fields(fields)


def _from_defaults(deployment: Mapping[str, Any], field: JSONPath) -> bool:
    """Whether the merged deployment's value at ``field`` is the defaults' (as ``deep_merge``
    merges: mappings recursively, anything else replaced by the deployment's)."""
    node: Any = deployment
    for index, part in enumerate(field):
        if not isinstance(node, Mapping) or part not in node:
            return True
        if index == len(field) - 1:
            return False
        child = node[part]
        if not isinstance(child, Mapping) or isinstance(field[index + 1], int):
            return False
        node = child
    return True
