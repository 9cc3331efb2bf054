"""What a manifest says about the model registry: ``registry: {tracking_uri}``, and model URIs
MLflow could not read, refused at their line and column before anything is planned."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deployctl.manifest import load_manifest

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]


def test_the_registry_tracking_uri_is_read(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: prod
        registry: {tracking_uri: "https://mlflow.example.com"}
        targets:
          local:
            uri: local:.deployctl/prod
            deployments:
              churn: {model_uri: "models:/churn@champion"}
        """
    )
    manifest = load_manifest(path, environ={})
    assert manifest.registry_uri == "https://mlflow.example.com"
    (churn,) = manifest.deployments()
    assert churn.spec.model_uri == "models:/churn@champion"  # resolved when planning


def test_without_a_registry_block_mlflow_chooses(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: prod
        targets:
          local: {uri: "local:.deployctl/prod"}
        """
    )
    assert load_manifest(path, environ={}).registry_uri is None


def test_malformed_aliases_are_located_errors_with_the_fix(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        targets:
          local:
            uri: local:.deployctl/prod
            deployments:
              empty: {model_uri: "models:/@champion"}
              fraud: {model_uri: "models:/fraud@latest"}
              ok: {model_uri: "models:/ok@champion"}
              other: {model_uri: "models:/m/0-v2"}
        """
    )
    assert [(line, col) for line, col, _ in issues] == [(7, 26), (8, 26)]
    empty, fraud = (message for _, _, message in issues)
    assert empty.startswith("model_uri of deployment 'empty' of target 'local': models:/@champion")
    assert fraud == (
        "model_uri of deployment 'fraud' of target 'local': models:/fraud@latest: 'latest' is "
        "reserved by MLflow and never an alias (write models:/fraud/latest for the highest "
        "version)"
    )


def test_a_password_in_the_registry_uri_is_refused(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        registry: {tracking_uri: "https://me:hunter2@mlflow.example.com"}
        targets:
          local: {uri: "local:.deployctl/prod"}
        """
    )
    ((line, col, message),) = issues
    assert (line, col) == (3, 26)
    assert "must not hold a password" in message and "hunter2" not in message


def test_unknown_registry_keys_are_refused(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        registry: {tracking: "https://mlflow.example.com"}
        targets:
          local: {uri: "local:.deployctl/prod"}
        """
    )
    assert any("tracking" in message for _, _, message in issues)
