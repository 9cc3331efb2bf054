"""``smoke_test:`` and ``rollback:`` in a manifest: per deployment or in a target's defaults, the
input relative to the manifest's folder, and bad values refused at their line and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deployctl.manifest import load_manifest
from deployctl.model.smoke_spec import SmokeSpec

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]


def test_a_smoke_test_in_defaults_applies_to_every_deployment_and_one_may_override_it(
    write_manifest: WriteManifest,
) -> None:
    path = write_manifest(
        """
        version: 1
        environment: prod
        targets:
          local:
            uri: local:.deployctl/prod
            defaults:
              smoke_test: {input: data/sample.csv, expect: {rows: 3}}
            deployments:
              churn: {model_uri: "models:/churn/1"}
              fraud:
                model_uri: "models:/fraud/1"
                smoke_test: {input: /abs/fraud.json, expect: {columns: [score]}}
                rollback: never
          other:
            uri: local:.deployctl/other
            deployments:
              plain: {model_uri: "models:/plain/1"}
        """
    )
    manifest = load_manifest(path, environ={})
    smoke = {d.name: d.smoke for d in manifest.deployments()}
    folder = path.parent
    assert smoke["churn"] == SmokeSpec(str(folder / "data" / "sample.csv"), rows=3)
    # Deep-merged: the deployment's input and expect.columns, the defaults' expect.rows.
    assert smoke["fraud"] == SmokeSpec(
        "/abs/fraud.json", rows=3, columns=("score",), rollback="never"
    )
    assert smoke["plain"] is None


def test_bad_smoke_tests_are_located_errors(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: prod
        targets:
          local:
            uri: local:.deployctl/prod
            deployments:
              churn:
                model_uri: "models:/churn/1"
                smoke_test: {expect: {rows: -1, colums: [a]}}
                rollback: sometimes
        """
    )
    lines = [(line, message) for line, _, message in issues]
    assert [line for line, _ in lines] == sorted(line for line, _ in lines)
    text = "\n".join(message for _, message in lines)
    assert "input" in text  # required
    assert "colums" in text and "columns" in text  # unknown key, with the suggestion
    assert "-1" in text
    assert "sometimes" in text
    assert {line for line, _ in lines} <= {9, 10}
