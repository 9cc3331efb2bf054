"""``sensitive:`` and ``${env.…}`` in the manifest: which fields of a deployment are secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deployctl.manifest import DesiredDeployment, load_manifest
from deployctl.model.sensitive import SensitiveField

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

PATH_RULE = "use model_uri, flavor, config or config.KEY.…"
ENVIRON = {"TOKEN": "tok-1", "HOST": "db", "MODEL": "churn", "SHARED": "s-1"}


def deployments(write_manifest: WriteManifest, text: str) -> dict[str, DesiredDeployment]:
    manifest = load_manifest(write_manifest(text), environ=ENVIRON)
    return {d.name: d for d in manifest.deployments()}


def test_listed_paths_and_values_from_the_environment_are_sensitive(
    write_manifest: WriteManifest,
) -> None:
    found = deployments(
        write_manifest,
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:.deployctl/dev
            deployments:
              churn:
                model_uri: models:/${env.MODEL}/3
                sensitive: [config.api_key, flavor]
                config:
                  api_key: sk-1
                  token: ${env.TOKEN}
                  url: postgresql://${env.HOST}/${env.TOKEN}
                  args: [--token, "${env.TOKEN}"]
                  workers: 2
        """,
    )
    churn = found["churn"]
    assert churn.sensitive == (
        SensitiveField(("config", "api_key")),
        SensitiveField(("config", "args", 1), ("TOKEN",)),
        SensitiveField(("config", "token"), ("TOKEN",)),
        SensitiveField(("config", "url"), ("HOST", "TOKEN")),
        SensitiveField(("flavor",)),
        SensitiveField(("model_uri",), ("MODEL",)),
    )
    # The desired spec keeps the real values: masking is for what deployctl writes and shows.
    assert churn.spec.config["token"] == "tok-1"
    assert churn.spec.model_uri == "models:/churn/3"


def test_defaults_add_to_each_deployments_list(write_manifest: WriteManifest) -> None:
    found = deployments(
        write_manifest,
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:.deployctl/dev
            defaults:
              sensitive: [config.password]
              config: {shared: "${env.SHARED}", overridden: "${env.SHARED}"}
            deployments:
              churn:
                model_uri: models:/churn/3
                sensitive: [config.api_key]
                config: {overridden: plain}
              fraud:
                model_uri: models:/fraud/1
        """,
    )
    assert [f.dotted for f in found["churn"].sensitive] == [
        "config.api_key",
        "config.password",
        "config.shared",
    ]
    # The deployment's own value replaced the one from the environment: not a secret.
    assert found["churn"].spec.config["overridden"] == "plain"
    assert [f.dotted for f in found["fraud"].sensitive] == [
        "config.overridden",
        "config.password",
        "config.shared",
    ]
    assert found["fraud"].sensitive[-1].source() == "from environment variable SHARED"


def test_the_environment_outside_deployment_fields_is_not_masked(
    write_manifest: WriteManifest,
) -> None:
    found = deployments(
        write_manifest,
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:.deployctl/${env.MODEL}
            deployments:
              churn:
                model_uri: models:/churn/3
        """,
    )
    assert found["churn"].sensitive == ()


def test_a_deployment_without_secrets_has_none(write_manifest: WriteManifest) -> None:
    found = deployments(
        write_manifest,
        """
        version: 1
        environment: dev
        variables: {model: churn}
        targets:
          local:
            uri: local:.deployctl/dev
            deployments:
              churn:
                model_uri: models:/${var.model}/3
        """,
    )
    assert found["churn"].sensitive == ()


def test_entries_that_are_not_paths_are_named_with_their_list(issues_of: Issues) -> None:
    problems = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:.deployctl/dev
            defaults:
              sensitive: [secrets.x]
            deployments:
              churn:
                model_uri: models:/churn/3
                sensitive: [config.a, 3, config.a]
        """
    )
    assert problems == [
        (
            7,
            19,
            f"'secrets.x' in sensitive of defaults of target 'local' is not a path: {PATH_RULE}",
        ),
        (11, 31, f"3 in sensitive of deployment 'churn' is not a path: {PATH_RULE}"),
        (11, 34, "'config.a' is listed more than once in sensitive of deployment 'churn'"),
    ]


def test_sensitive_must_be_a_list(issues_of: Issues) -> None:
    problems = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:.deployctl/dev
            deployments:
              churn:
                model_uri: models:/churn/3
                sensitive: config.api_key
        """
    )
    assert problems == [
        (
            9,
            20,
            "field 'sensitive' of deployment 'churn' must be a list, not a string "
            "(write [config.api_key] for a list of one)",
        )
    ]
