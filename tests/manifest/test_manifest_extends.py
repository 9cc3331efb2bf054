"""``extends:``: an environment's manifest deep-merged over shared bases, errors located in the
file that wrote the offending value, and a digest that covers every file of the chain."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from deployctl.errors import DeployctlError, ManifestError
from deployctl.manifest import Manifest, SourceLocation, load_manifest
from deployctl.manifest.extends import base_paths, manifest_digest
from deployctl.model import DeploymentSpec

BASE = """
version: 1
variables:
  workers: 1
targets:
  local:
    uri: local:.deployctl/${var.env}
    defaults:
      flavor: python_function
      config: {workers: "${var.workers}", memory_mb: 512, tags: [base]}
      lifecycle: {ignore_changes: [config.workers]}
    deployments:
      churn:
        model_uri: models:/churn/${var.churn_version}
      fraud:
        model_uri: models:/fraud/3
"""

PROD = """
extends: ../base.yaml
environment: prod
variables:
  env: prod
  churn_version: "9"
  workers: 4
targets:
  local:
    defaults:
      config: {tags: [prod]}
      lifecycle: {ignore_changes: [flavor], prevent_destroy: true}
    deployments:
      fraud:
        model_uri: models:/fraud/4
        config: {memory_mb: 2048}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name files relative to here, as a person runs it


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(name: str, **variables: str) -> Manifest:
    return load_manifest(name, variables=variables, environ={})


def issues(name: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(name)
    return [str(issue) for issue in caught.value.issues]


# -- merging ------------------------------------------------------------------------------------


def test_an_environment_overrides_versions_sizes_and_lifecycle_of_its_base() -> None:
    write("base.yaml", BASE)
    write("environments/prod.yaml", PROD)
    manifest = load("environments/prod.yaml")
    assert manifest.environment == "prod"
    deployments = {d.name: d for d in manifest.deployments()}
    # Variables merge (the environment's win), and the base's references use them.
    assert deployments["churn"].spec == DeploymentSpec(
        "models:/churn/9", "python_function", {"workers": 4, "memory_mb": 512, "tags": ["prod"]}
    )
    # Mappings merge key by key; lists and scalars are replaced.
    assert deployments["fraud"].spec == DeploymentSpec(
        "models:/fraud/4", "python_function", {"workers": 4, "memory_mb": 2048, "tags": ["prod"]}
    )
    assert deployments["fraud"].lifecycle.prevent_destroy is True
    assert deployments["fraud"].lifecycle.ignore_changes == ("flavor",)


def test_the_base_alone_is_what_an_environment_that_overrides_nothing_gets() -> None:
    write("base.yaml", BASE)
    write(
        "environments/dev.yaml",
        """
        extends: ../base.yaml
        environment: dev
        variables: {env: dev, churn_version: "7"}
        """,
    )
    manifest = load("environments/dev.yaml")
    specs = {d.name: d.spec for d in manifest.deployments()}
    assert specs["churn"] == DeploymentSpec(
        "models:/churn/7", "python_function", {"workers": 1, "memory_mb": 512, "tags": ["base"]}
    )
    assert [d.lifecycle.ignore_changes for d in manifest.deployments()] == [
        ("config.workers",),
        ("config.workers",),
    ]


def test_var_overrides_a_variable_declared_in_the_base() -> None:
    write("base.yaml", BASE)
    write("environments/prod.yaml", PROD.replace("  workers: 4\n", ""))
    manifest = load("environments/prod.yaml", workers="6")
    assert {d.spec.config["workers"] for d in manifest.deployments()} == {6}


def test_bases_chain_and_the_nearest_file_wins() -> None:
    write("base.yaml", BASE)
    write(
        "shared/large.yaml",
        """
        extends: ../base.yaml
        variables: {workers: 8, churn_version: "5"}
        targets:
          local:
            defaults: {config: {memory_mb: 4096}}
        """,
    )
    write(
        "environments/prod.yaml",
        """
        extends: ../shared/large.yaml
        environment: prod
        variables: {env: prod, churn_version: "6"}
        """,
    )
    churn = next(load("environments/prod.yaml").deployments())
    assert churn.spec == DeploymentSpec(
        "models:/churn/6", "python_function", {"workers": 8, "memory_mb": 4096, "tags": ["base"]}
    )


def test_state_is_taken_whole_from_the_nearest_file_that_declares_it() -> None:
    write("base.yaml", BASE.replace("version: 1\n", "version: 1\nstate: {path: state/x.json}\n"))
    write("environments/prod.yaml", PROD + "state: {url: s3://ml-state/deployctl/}\n")
    state = load("environments/prod.yaml").state
    assert state is not None
    assert (state.url, state.path) == ("s3://ml-state/deployctl/", None)
    assert state.location == SourceLocation("environments/prod.yaml", 16, 1)


def test_relative_paths_are_relative_to_the_file_that_writes_them(tmp_path: Path) -> None:
    write(
        "base.yaml",
        """
        version: 1
        state: {path: state/shared.json}
        targets:
          local:
            uri: local:.deployctl/prod
            defaults:
              smoke_test: {input: data/sample.csv}
            deployments:
              churn: {model_uri: models:/churn/1}
              fraud: {model_uri: models:/fraud/1}
        """,
    )
    write(
        "environments/prod.yaml",
        """
        extends: ../base.yaml
        environment: prod
        targets:
          local:
            deployments:
              fraud: {smoke_test: {input: data/fraud.csv}}
          other:
            uri: local:.deployctl/other
            deployments:
              churn: {model_uri: models:/churn/1}
        """,
    )
    manifest = load("environments/prod.yaml")
    uris = {t.key: t.resolved_uri for t in manifest.targets}
    assert uris == {
        "local": f"local:{tmp_path / '.deployctl' / 'prod'}",
        "other": f"local:{tmp_path / 'environments' / '.deployctl' / 'other'}",
    }
    smoke = {d.address: d.smoke.input for d in manifest.deployments() if d.smoke}
    assert smoke == {
        "local/churn": str(tmp_path / "data" / "sample.csv"),
        "local/fraud": str(tmp_path / "environments" / "data" / "fraud.csv"),
    }
    assert manifest.state is not None
    assert manifest.state.path == str(tmp_path / "state" / "shared.json")


def test_locations_name_the_file_that_wrote_them() -> None:
    write("base.yaml", BASE)
    write("environments/prod.yaml", PROD)
    manifest = load("environments/prod.yaml")
    where = {d.name: d.location for d in manifest.deployments()}
    assert where == {
        "churn": SourceLocation("base.yaml", 12, 7),
        "fraud": SourceLocation("environments/prod.yaml", 13, 7),
    }
    assert manifest.targets[0].uri_location == SourceLocation("base.yaml", 6, 10)


def test_a_manifest_without_extends_is_read_as_before() -> None:
    declared = "environment: dev\nvariables:\n  env: dev\n  churn_version: '1'\n"
    path = write("dev.yaml", BASE.replace("variables:\n", declared))
    manifest = load("dev.yaml")
    assert [d.spec.model_uri for d in manifest.deployments()] == [
        "models:/churn/1",
        "models:/fraud/3",
    ]
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest.sha256 == manifest_digest("dev.yaml")
    assert base_paths("dev.yaml") == []


# -- errors, located where the value was written -------------------------------------------------


def test_errors_point_at_the_file_that_wrote_the_value() -> None:
    write("base.yaml", BASE.replace("model_uri: models:/fraud/3", "modle_uri: models:/fraud/3"))
    write(
        "environments/prod.yaml",
        PROD.replace("config: {memory_mb: 2048}", "flavor: [sklearn]"),
    )
    assert issues("environments/prod.yaml") == [
        "base.yaml:15:9: unknown field 'modle_uri' in deployment 'fraud' "
        "(did you mean 'model_uri'?)",
        "environments/prod.yaml:15:17: field 'flavor' of deployment 'fraud' must be a string, "
        "not a list",
    ]


def test_a_variable_the_environment_does_not_declare_is_reported_in_the_base() -> None:
    write("base.yaml", BASE)
    write("environments/prod.yaml", PROD.replace('  churn_version: "9"\n', ""))
    assert issues("environments/prod.yaml") == [
        "base.yaml:13:20: undefined variable 'churn_version' in field 'model_uri' of deployment "
        "'churn' (declare it under variables: or pass --var churn_version=VALUE)",
    ]


def test_environment_is_never_inherited_from_a_base() -> None:
    write("base.yaml", "environment: shared\n" + textwrap.dedent(BASE).lstrip("\n"))
    write("environments/prod.yaml", PROD.replace("environment: prod\n", ""))
    assert issues("environments/prod.yaml") == [
        "base.yaml:1:1: environment 'shared' of base base.yaml is not inherited: "
        "environments/prod.yaml must name its own environment (environment: NAME)",
        "environments/prod.yaml:1:1: the manifest is missing required field 'environment'",
    ]


def test_a_base_that_cannot_be_read_is_reported_at_extends() -> None:
    write("environments/prod.yaml", PROD.replace("../base.yaml", "base.yaml"))
    [message] = issues("environments/prod.yaml")
    assert message.startswith(
        "environments/prod.yaml:1:10: extends: cannot read base environments/base.yaml: "
        "cannot read manifest: No such file or directory"
    )
    assert "relative to the folder of the manifest that writes it" in message


def test_a_cycle_is_an_error_naming_the_chain() -> None:
    write("a.yaml", "extends: b.yaml\nversion: 1\nenvironment: dev\ntargets: {}\n")
    write("b.yaml", "version: 1\nextends: sub/../a.yaml\n")
    assert issues("a.yaml") == [
        "b.yaml:2:10: extends: the manifests extend each other in a cycle: a.yaml → b.yaml → a.yaml"
    ]


def test_a_manifest_extending_itself_is_a_cycle() -> None:
    write("a.yaml", "version: 1\nenvironment: dev\ntargets: {}\nextends: ./a.yaml\n")
    assert issues("a.yaml") == [
        "a.yaml:4:10: extends: the manifests extend each other in a cycle: a.yaml → a.yaml"
    ]


@pytest.mark.parametrize(
    ("value", "wrong"), [("''", "empty"), ("[base.yaml]", "a list"), ("3", "a number")]
)
def test_extends_must_be_a_path(value: str, wrong: str) -> None:
    write("dev.yaml", f"version: 1\nenvironment: dev\ntargets: {{}}\nextends: {value}\n")
    [message] = issues("dev.yaml")
    assert message.startswith(
        f"dev.yaml:4:10: extends must be the path of a base manifest, not {wrong}"
    )


def test_broken_yaml_in_a_base_is_reported_in_the_base() -> None:
    write("base.yaml", "version: 1\ntargets: {local: {uri: local:x}\n")
    write("dev.yaml", "extends: base.yaml\nenvironment: dev\n")
    [message] = issues("dev.yaml")
    assert message.startswith("base.yaml:3:1: invalid YAML")


def test_a_repeated_key_in_a_base_is_reported_with_the_environments_issues() -> None:
    write("base.yaml", "version: 1\nversion: 1\ntargets: {}\n")
    write("dev.yaml", "extends: base.yaml\nenvironment: dev\nbogus: 1\n")
    assert issues("dev.yaml") == [
        "base.yaml:2:1: duplicate key 'version' in the manifest (first at line 1)",
        "dev.yaml:3:1: unknown field 'bogus' in the manifest",
    ]


def test_the_environment_file_itself_must_still_be_readable() -> None:
    with pytest.raises(DeployctlError, match=r"missing\.yaml: cannot read manifest"):
        load("missing.yaml")


# -- the digest of saved plans -----------------------------------------------------------------


def test_the_digest_covers_every_base_of_the_chain() -> None:
    base = write("base.yaml", BASE)
    write("environments/prod.yaml", PROD)
    before = load("environments/prod.yaml").sha256
    assert manifest_digest("environments/prod.yaml") == before
    assert before != hashlib.sha256(Path("environments/prod.yaml").read_bytes()).hexdigest()
    base.write_text(base.read_text() + "# a comment changes the bytes\n")
    assert manifest_digest("environments/prod.yaml") != before
    assert load("environments/prod.yaml").sha256 == manifest_digest("environments/prod.yaml")


def test_the_digest_of_a_manifest_whose_base_is_gone_cannot_be_made() -> None:
    base = write("base.yaml", BASE)
    write("environments/prod.yaml", PROD)
    base.unlink()
    with pytest.raises(OSError, match=r"base\.yaml: cannot read manifest"):
        manifest_digest("environments/prod.yaml")


def test_base_paths_follow_the_chain(tmp_path: Path) -> None:
    write("base.yaml", BASE)
    write("shared/large.yaml", "extends: ../base.yaml\n")
    write("environments/prod.yaml", "extends: ../shared/large.yaml\n")
    found = [p.resolve() for p in base_paths("environments/prod.yaml")]
    assert found == [tmp_path / "shared" / "large.yaml", tmp_path / "base.yaml"]


def test_a_list_the_environment_replaces_is_located_in_the_environment() -> None:
    write(
        "base.yaml",
        BASE.replace("ignore_changes: [config.workers]", "ignore_changes: [flavor, config, -x-]"),
    )
    write(
        "environments/prod.yaml",
        PROD.replace("ignore_changes: [flavor]", "ignore_changes: [config.a, config.a]"),
    )
    # The base's list (with its bad entry) is replaced: only the environment's is checked.
    assert issues("environments/prod.yaml") == [
        "environments/prod.yaml:11:46: 'config.a' is listed more than once in "
        "ignore_changes of defaults of target 'local'",
    ]
