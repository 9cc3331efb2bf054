"""Adopting a deployment that already exists on its target (``import``, ``adopt: true``).

The live record becomes the last-applied one. Targets that do not report a managed field leave
deployctl nothing to adopt for it: the manifest's value stands in, and the caller says so.
"""

from __future__ import annotations

from deployctl.model import SPEC_FIELDS, DeploymentSpec
from deployctl.model.live import LiveRecord


def adopted_spec(
    desired: DeploymentSpec, live: LiveRecord | None
) -> tuple[DeploymentSpec, tuple[str, ...]]:
    """The spec to record for an adopted deployment, and the fields taken from the manifest."""
    assumed = live.unreported_fields() if live else SPEC_FIELDS
    if live is not None and live.model_uri is None and "model_uri" not in assumed:
        assumed = ("model_uri", *assumed)  # a spec needs a model URI: reported as null is none
    model_uri = desired.model_uri if "model_uri" in assumed or live is None else live.model_uri
    flavor = desired.flavor if "flavor" in assumed or live is None else live.flavor
    # A target reporting only some config keys: the manifest's values stand in for the others.
    config = (
        desired.config
        if "config" in assumed or live is None
        else live.merged_config(desired.config)
    )
    return (
        DeploymentSpec(
            model_uri=model_uri if isinstance(model_uri, dict) else str(model_uri),
            flavor=flavor if isinstance(flavor, (str, dict)) else None,
            config=dict(config) if isinstance(config, dict) else {},
        ),
        assumed,
    )
