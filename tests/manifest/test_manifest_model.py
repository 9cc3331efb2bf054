"""The loaded manifest's look-ups: a target by key, a deployment by address."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deployctl.manifest import load_manifest
from deployctl.model import Address

WriteManifest = Callable[..., Path]

TEXT = """
version: 1
environment: dev
targets:
  local:
    uri: local:.deployctl/dev
    deployments:
      churn:
        model_uri: models:/churn/3
  edge:
    uri: local:.deployctl/edge
    deployments:
      churn:
        model_uri: models:/churn/1
"""


def test_a_deployment_is_found_by_its_address(write_manifest: WriteManifest) -> None:
    manifest = load_manifest(write_manifest(TEXT))
    found = manifest.deployment(Address("edge", "churn"))
    assert found is not None
    assert (found.address, found.spec.model_uri) == ("edge/churn", "models:/churn/1")
    assert manifest.deployment(Address.parse("local/churn")) is not None


def test_an_unknown_target_or_name_finds_nothing(write_manifest: WriteManifest) -> None:
    manifest = load_manifest(write_manifest(TEXT))
    assert manifest.deployment(Address("local", "fraud")) is None
    assert manifest.deployment(Address("nope", "churn")) is None
