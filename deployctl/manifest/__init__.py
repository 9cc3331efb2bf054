"""The manifest: a YAML file declaring one environment's desired deployments, per target.

``load_manifest`` reads, validates and interpolates it into the frozen model of
``deployctl.manifest.model``; ``schemas/manifest.schema.json`` defines what it may contain.
"""

from __future__ import annotations

from deployctl.manifest.loader import load_manifest
from deployctl.manifest.model import DesiredDeployment, Manifest, SourceLocation, TargetSpec
from deployctl.manifest.validate import manifest_schema

__all__ = [
    "DesiredDeployment",
    "Manifest",
    "SourceLocation",
    "TargetSpec",
    "load_manifest",
    "manifest_schema",
]
