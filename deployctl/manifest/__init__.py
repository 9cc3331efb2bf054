"""The manifest: a YAML file declaring one environment's desired deployments, per target.

``load_manifest`` reads, validates and interpolates it into the frozen model of
``deployctl.manifest.model``; ``schemas/manifest.schema.json`` defines what it may contain.
The loader (PyYAML, the schema validators) is imported on first use, so that modules needing
only the model, and ``deployctl --help``, stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployctl.lazy import lazy_exports
from deployctl.manifest.model import DesiredDeployment, Manifest, SourceLocation, TargetSpec

if TYPE_CHECKING:
    from deployctl.manifest.loader import load_manifest
    from deployctl.manifest.schema import manifest_schema

__all__ = [
    "DesiredDeployment",
    "Manifest",
    "SourceLocation",
    "TargetSpec",
    "load_manifest",
    "manifest_schema",
]


# The loader (PyYAML, the schema validators) is imported on first use.
__getattr__ = lazy_exports(__name__, {"load_manifest": "loader", "manifest_schema": "schema"})
