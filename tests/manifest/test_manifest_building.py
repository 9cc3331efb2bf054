"""What a valid manifest becomes: targets, merged deployments, resolved URIs, identity."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from deployctl.errors import ManifestError
from deployctl.manifest import Manifest, SourceLocation, load_manifest
from deployctl.model import DeploymentSpec

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]


def load(path: Path) -> Manifest:
    return load_manifest(path, environ={})


def test_defaults_are_deep_merged_under_each_deployment(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              flavor: python_function
              config:
                workers: 1
                resources: {cpu: 1, memory_mb: 512}
                tags: [base]
            deployments:
              churn:
                model_uri: models:/churn/1
              fraud:
                model_uri: models:/fraud/1
                flavor: sklearn
                config:
                  resources: {memory_mb: 2048}
                  tags: [fraud]
        """
    )
    specs = {d.name: d.spec for d in load(path).deployments()}
    assert specs["churn"] == DeploymentSpec(
        "models:/churn/1",
        "python_function",
        {"workers": 1, "resources": {"cpu": 1, "memory_mb": 512}, "tags": ["base"]},
    )
    assert specs["fraud"] == DeploymentSpec(
        "models:/fraud/1",
        "sklearn",
        {"workers": 1, "resources": {"cpu": 1, "memory_mb": 2048}, "tags": ["fraud"]},
    )
    # Merged defaults are copies: changing one deployment's config cannot leak into another.
    assert specs["churn"].config["resources"] is not specs["fraud"].config["resources"]


def test_without_defaults_flavor_is_none_and_config_empty(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn: {model_uri: models:/churn/1}
        """
    )
    (churn,) = load(path).deployments()
    assert churn.spec == DeploymentSpec("models:/churn/1", None, {})


def test_targets_may_have_no_or_empty_deployments(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          a: {uri: local:a}
          b: {uri: local:b, deployments: {}}
        """
    )
    manifest = load(path)
    assert [(t.key, t.deployments) for t in manifest.targets] == [("a", ()), ("b", ())]


def test_empty_targets_is_a_valid_manifest(write_manifest: WriteManifest) -> None:
    manifest = load(write_manifest("version: 1\nenvironment: dev\ntargets: {}\n"))
    assert manifest.targets == ()
    assert list(manifest.deployments()) == []


def test_targets_and_deployments_are_sorted_with_their_locations(
    write_manifest: WriteManifest,
) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          zeta:
            uri: local:z
            deployments:
              b: {model_uri: m}
              a: {model_uri: m}
          alpha:
            uri: local:a
        """
    )
    manifest = load(path)
    assert [t.key for t in manifest.targets] == ["alpha", "zeta"]
    assert [d.address for d in manifest.deployments()] == ["zeta/a", "zeta/b"]
    zeta = manifest.target("zeta")
    assert zeta is not None
    assert zeta.location == SourceLocation(str(path), 4, 3)
    assert [d.location for d in zeta.deployments] == [
        SourceLocation(str(path), 8, 7),
        SourceLocation(str(path), 7, 7),
    ]


def test_relative_local_path_is_relative_to_the_manifest_folder(
    write_manifest: WriteManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "envs").mkdir()
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local: {uri: "local:../.deployctl/dev"}
        """,
        name="envs/dev.yaml",
    )
    monkeypatch.chdir("/")
    (target,) = load(Path(path)).targets
    assert target.uri == "local:../.deployctl/dev"
    assert target.scheme == "local"
    assert target.resolved_uri == f"local:{tmp_path}/.deployctl/dev"


def test_manifest_given_by_relative_path_resolves_from_its_folder(
    write_manifest: WriteManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_manifest("version: 1\nenvironment: dev\ntargets: {t: {uri: 'local:state'}}\n")
    monkeypatch.chdir(tmp_path)
    manifest = load_manifest("dev.yaml", environ={})
    assert manifest.path == Path("dev.yaml")
    assert manifest.targets[0].resolved_uri == f"local:{tmp_path}/state"


def test_absolute_local_path_is_kept(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        "version: 1\nenvironment: dev\ntargets: {t: {uri: 'local:/srv/deployctl/dev'}}\n"
    )
    (target,) = load(path).targets
    assert target.resolved_uri == "local:/srv/deployctl/dev"


@pytest.mark.parametrize("uri", ["local", "local:", "local:  "])
def test_local_target_without_a_path_is_an_issue(issues_of: Issues, uri: str) -> None:
    issues = issues_of(
        f"""
        version: 1
        environment: dev
        targets:
          dev:
            uri: "{uri}"
        """
    )
    assert issues == [
        (5, 10, "target 'dev': the local target needs a path, e.g. local:.deployctl/dev")
    ]


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("sagemaker:/us-east-1", "sagemaker"),
        ("databricks", "databricks"),
        ("ray-serve://localhost:8265", "ray-serve"),
        ("my_target:/x", "my_target:/x"),
    ],
)
def test_other_schemes_pass_the_uri_through(
    write_manifest: WriteManifest, uri: str, scheme: str
) -> None:
    path = write_manifest(f"version: 1\nenvironment: dev\ntargets: {{t: {{uri: '{uri}'}}}}\n")
    (target,) = load(path).targets
    assert (target.uri, target.scheme, target.resolved_uri) == (uri, scheme, uri)


def test_manifest_identity_fields(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: staging
        variables: {b: "2", a: 1, c: true}
        targets: {}
        """
    )
    manifest = load(path)
    assert manifest.path == path
    assert manifest.environment == "staging"
    assert manifest.variables == (("a", 1), ("b", "2"), ("c", True))
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_changes_with_any_byte(write_manifest: WriteManifest) -> None:
    first = load(write_manifest("version: 1\nenvironment: dev\ntargets: {}\n")).sha256
    second = load(write_manifest("version: 1\nenvironment: dev\ntargets: {}  # note\n")).sha256
    assert first != second


def test_ten_thousand_deployments_load(write_manifest: WriteManifest) -> None:
    lines = [
        "version: 1",
        "environment: big",
        "variables: {version: '3'}",
        "targets:",
        "  local:",
        "    uri: local:.deployctl/big",
        "    defaults: {flavor: python_function, config: {workers: 1}}",
        "    deployments:",
    ]
    for i in range(10_000):
        lines.append(f"      m{i:05d}:")
        lines.append(f"        model_uri: models:/m{i}/${{var.version}}")
        lines.append(f"        config: {{memory_mb: {i}}}")
    path = write_manifest("\n".join(lines) + "\n")
    deployments = list(load(path).deployments())
    assert len(deployments) == 10_000
    last = deployments[-1]
    assert last.address == "local/m09999"
    assert last.spec == DeploymentSpec(
        "models:/m9999/3", "python_function", {"workers": 1, "memory_mb": 9999}
    )
    assert last.location == SourceLocation(str(path), 9 + 3 * 9999, 7)


def test_ten_thousand_errors_are_all_reported(write_manifest: WriteManifest) -> None:
    lines = ["version: 1", "environment: big", "targets:", "  local:", "    uri: local:x"]
    lines.append("    deployments:")
    for i in range(10_000):
        lines.append(f"      m{i:05d}: {{modle_uri: m}}")
    path = write_manifest("\n".join(lines) + "\n")
    with pytest.raises(ManifestError) as caught:
        load(path)
    issues = caught.value.issues
    assert len(issues) == 20_000
    assert issues[0].line == 7
    assert issues[-1].line == 10_006
