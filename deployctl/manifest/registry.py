"""Checks of what a manifest says about the model registry, located at the line and column.

- a ``model_uri`` that names a registry alias (``models:/NAME@ALIAS``) must be one MLflow can
  read (``model.model_uris.parse_model_uri``): ``models:/churn@latest`` or ``models:/@x`` is
  refused here, with the fix, not at plan time. Other ``models:`` URIs MLflow would not read
  (``models:/m/0-v2``) are left to the target, as before: many targets take any text;
- ``registry.tracking_uri`` must not hold a password (the manifest is in git).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

from deployctl.errors import ManifestIssue, RegistryError
from deployctl.manifest.positions import JSONPath, Positions
from deployctl.model.model_uris import parse_model_uri


def model_uri_issues(data: dict[str, Any], positions: Positions) -> list[ManifestIssue]:
    """One issue per ``model_uri`` MLflow could not read, and for a password in the registry."""
    issues = []
    for path, uri in _model_uris(data):
        if "@" not in uri:
            continue
        try:
            parse_model_uri(uri)
        except RegistryError as error:
            owner = f"deployment '{path[3]}' of target '{path[1]}'"
            hint = f" ({error.hint})" if error.hint else ""
            issues.append(
                positions.value(path).issue(f"model_uri of {owner}: {error.message}{hint}")
            )
    registry = data.get("registry")
    tracking_uri = registry.get("tracking_uri") if isinstance(registry, dict) else None
    if isinstance(tracking_uri, str) and _has_password(tracking_uri):
        issues.append(
            positions.value(("registry", "tracking_uri")).issue(
                "registry.tracking_uri must not hold a password (the manifest is in git): "
                "remove it and use MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or "
                "MLFLOW_TRACKING_TOKEN",
            )
        )
    return issues


def _model_uris(data: dict[str, Any]) -> Iterator[tuple[JSONPath, str]]:
    targets = data.get("targets")
    if not isinstance(targets, dict):
        return
    for key, target in targets.items():
        if not isinstance(target, dict):
            continue
        deployments = target.get("deployments")
        if not isinstance(deployments, dict):
            continue
        for name, deployment in deployments.items():
            if not isinstance(deployment, dict):
                continue
            uri = deployment.get("model_uri")
            if isinstance(uri, str) and uri.startswith("models:"):
                yield ("targets", key, "deployments", name, "model_uri"), uri


def _has_password(uri: str) -> bool:
    try:
        parsed = urllib.parse.urlsplit(uri)
        return parsed.password is not None
    except ValueError:
        return False


__all__ = ["model_uri_issues"]
