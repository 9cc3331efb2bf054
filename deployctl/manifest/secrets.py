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

from deployctl.manifest.yaml_nodes import JSONPath
from deployctl.model import SPEC_FIELDS
from deployctl.model.sensitive import SensitiveField, merge_fields


def sensitive_fields(
    target: str,
    name: str,
    defaults: Mapping[str, Any],
    deployment: Mapping[str, Any],
    env_paths: Mapping[JSONPath, Iterable[str]],
) -> tuple[SensitiveField, ...]:
    """The sensitive fields of deployment ``name`` of ``target`` (``defaults`` and
    ``deployment`` as written, before they are merged; ``env_paths`` by path from the root)."""
    listed = [*(defaults.get("sensitive") or ()), *(deployment.get("sensitive") or ())]
    fields = [SensitiveField(tuple(str(path).split("."))) for path in listed]
    own: JSONPath = ("targets", target, "deployments", name)
    shared: JSONPath = ("targets", target, "defaults")
    for path, names in env_paths.items():
        if path[: len(own)] == own:
            field = path[len(own) :]
        elif path[: len(shared)] == shared:
            field = path[len(shared) :]
            if not _from_defaults(deployment, field):
                continue  # the deployment's own value replaced the default
        else:
            continue
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
