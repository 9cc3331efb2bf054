"""``lifecycle:`` (prevent_destroy, ignore_changes, replace_on) and ``adopt:`` in the manifest."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from deployctl.manifest import DesiredDeployment, load_manifest, manifest_schema
from deployctl.model import LIFECYCLE_PATH_PATTERN, DeploymentSpec, Lifecycle

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

PATH_RULE = "use model_uri, flavor, config or config.KEY.…"

# The example of the issue: defaults set prevent_destroy from a variable, churn sets it all.
EXAMPLE = """
version: 1
environment: dev
variables:
  protect: true
targets:
  local:
    uri: local:.deployctl/dev
    defaults:
      lifecycle:
        prevent_destroy: ${var.protect}
    deployments:
      churn:
        model_uri: models:/churn/3
        adopt: true
        lifecycle:
          prevent_destroy: true
          ignore_changes: [config.instance_count]
          replace_on: [flavor]
      fraud:
        model_uri: models:/fraud/1
"""


def deployments(
    path: Path, variables: Mapping[str, str] | None = None
) -> dict[str, DesiredDeployment]:
    manifest = load_manifest(path, variables=variables, environ={})
    return {d.name: d for d in manifest.deployments()}


def churn_with(lifecycle: str, variables: str = "protect: true") -> str:
    """A manifest whose deployment 'churn' has the given lifecycle lines (from line 11, col 11)."""
    lines = textwrap.dedent(lifecycle).strip("\n").splitlines()
    body = "".join(f"          {line}\n" for line in lines)
    return (
        "version: 1\n"
        "environment: dev\n"
        f"variables: {{{variables}}}\n"
        "targets:\n"
        "  local:\n"
        "    uri: local:x\n"
        "    deployments:\n"
        "      churn:\n"
        "        model_uri: models:/churn/1\n"
        "        lifecycle:\n"
        f"{body}"
    )


# --- the model built ---------------------------------------------------------------------


def test_example_builds_lifecycle_and_adopt(write_manifest: WriteManifest) -> None:
    found = deployments(write_manifest(EXAMPLE))
    assert found["churn"].lifecycle == Lifecycle(
        prevent_destroy=True,
        ignore_changes=("config.instance_count",),
        replace_on=("flavor",),
    )
    assert found["churn"].adopt is True
    # fraud sets nothing: the defaults' lifecycle applies, and adopting is per deployment.
    assert found["fraud"].lifecycle == Lifecycle(prevent_destroy=True)
    assert found["fraud"].adopt is False


def test_without_lifecycle_or_adopt_the_defaults_are_empty(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn: {model_uri: models:/churn/1}
              fraud: {model_uri: models:/fraud/1, adopt: false, lifecycle: {}}
        """
    )
    found = deployments(path)
    for name in ("churn", "fraud"):
        assert found[name].lifecycle == Lifecycle()
        assert found[name].adopt is False


def test_desired_deployment_defaults_keep_positional_construction() -> None:
    desired = DesiredDeployment("local", "churn", DeploymentSpec("models:/churn/1"))
    assert desired.lifecycle == Lifecycle()
    assert desired.adopt is False


def test_paths_are_kept_in_the_order_written(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        churn_with(
            """
            ignore_changes: [config.z, model_uri, config.a.b-c_d, config]
            replace_on: [model_uri, flavor]
            """
        )
    )
    lifecycle = deployments(path)["churn"].lifecycle
    assert lifecycle.ignore_changes == ("config.z", "model_uri", "config.a.b-c_d", "config")
    assert lifecycle.replace_on == ("model_uri", "flavor")
    assert lifecycle.prevent_destroy is False


def test_lifecycle_and_adopt_stay_out_of_the_spec(
    write_manifest: WriteManifest,
) -> None:
    found = deployments(write_manifest(EXAMPLE))
    assert found["churn"].spec.config == {}
    assert "lifecycle" not in found["churn"].spec.to_json()


# --- defaults -------------------------------------------------------------------------------


def test_defaults_lifecycle_is_deep_merged_under_the_deployments(
    write_manifest: WriteManifest,
) -> None:
    path = write_manifest(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              lifecycle:
                prevent_destroy: true
                ignore_changes: [config.instance_count, config.tags]
                replace_on: [flavor]
            deployments:
              churn:
                model_uri: models:/churn/1
                lifecycle:
                  ignore_changes: [model_uri]
              fraud:
                model_uri: models:/fraud/1
                lifecycle:
                  prevent_destroy: false
                  replace_on: []
              scratch:
                model_uri: models:/scratch/1
        """
    )
    found = deployments(path)
    # The deployment wins per key; a list replaces the defaults' list, it is not appended to.
    assert found["churn"].lifecycle == Lifecycle(True, ("model_uri",), ("flavor",))
    assert found["fraud"].lifecycle == Lifecycle(
        False, ("config.instance_count", "config.tags"), ()
    )
    assert found["scratch"].lifecycle == Lifecycle(
        True, ("config.instance_count", "config.tags"), ("flavor",)
    )


def test_adopt_in_defaults_is_an_unknown_field(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              adopt: true
            deployments:
              churn: {model_uri: models:/churn/1}
        """
    )
    assert issues == [
        (
            7,
            7,
            "unknown field 'adopt' in defaults of target 'local' "
            "(adopt can only be set on a deployment)",
        )
    ]


# --- variables ------------------------------------------------------------------------------


def test_prevent_destroy_from_a_declared_boolean_variable(write_manifest: WriteManifest) -> None:
    path = write_manifest(churn_with("prevent_destroy: ${var.protect}"))
    assert deployments(path)["churn"].lifecycle.prevent_destroy is True


@pytest.mark.parametrize(
    ("declared", "given", "expected"),
    [
        ("true", "false", False),
        ("true", "FALSE", False),
        ("false", "true", True),
        ("false", None, False),
    ],
)
def test_prevent_destroy_follows_a_var_override(
    write_manifest: WriteManifest, declared: str, given: str | None, expected: bool
) -> None:
    path = write_manifest(
        churn_with("prevent_destroy: '${var.protect}'", variables=f"protect: {declared}")
    )
    overrides = {} if given is None else {"protect": given}
    assert deployments(path, overrides)["churn"].lifecycle.prevent_destroy is expected


def test_prevent_destroy_from_defaults_follows_a_var_override(
    write_manifest: WriteManifest,
) -> None:
    found = deployments(write_manifest(EXAMPLE), {"protect": "false"})
    assert found["fraud"].lifecycle.prevent_destroy is False
    assert found["churn"].lifecycle.prevent_destroy is True  # its own value wins


def test_var_override_that_is_not_a_boolean_is_reported(issues_of: Issues) -> None:
    issues = issues_of(churn_with("prevent_destroy: ${var.protect}"), variables={"protect": "no"})
    assert issues == [
        (
            3,
            13,
            "invalid value 'no' for variable 'protect' given with --var: expected true or false, "
            "like its declared value true",
        )
    ]


def test_string_variable_is_not_a_boolean(issues_of: Issues) -> None:
    issues = issues_of(churn_with("prevent_destroy: ${var.protect}", variables='protect: "true"'))
    assert issues == [
        (
            11,
            28,
            "field 'prevent_destroy' of lifecycle of deployment 'churn' must be a boolean, "
            "not a string (write true or false without quotes)",
        )
    ]


def test_undefined_variable_is_reported_once(issues_of: Issues) -> None:
    issues = issues_of(
        churn_with(
            """
            prevent_destroy: ${var.protected}
            ignore_changes: ["${var.ignored}", "config.${env.KEY}"]
            """
        )
    )
    # The values are unknown, so they are not also reported as not a boolean or not a path.
    assert issues == [
        (
            11,
            28,
            "undefined variable 'protected' in field 'prevent_destroy' of lifecycle of "
            "deployment 'churn' (declare it under variables: or pass --var protected=VALUE)",
        ),
        (
            12,
            28,
            "undefined variable 'ignored' in field 'ignore_changes[0]' of lifecycle of "
            "deployment 'churn' (declare it under variables: or pass --var ignored=VALUE)",
        ),
        (
            12,
            46,
            "environment variable 'KEY' is not set "
            "(used in field 'ignore_changes[1]' of lifecycle of deployment 'churn')",
        ),
    ]


def test_list_entries_may_be_variables(write_manifest: WriteManifest) -> None:
    path = write_manifest(
        churn_with(
            """
            ignore_changes: ["${var.scaled}", "config.${var.key}"]
            replace_on: ["${var.trigger}"]
            """,
            variables="scaled: config.instance_count, key: tags, trigger: flavor",
        )
    )
    lifecycle = deployments(path, {"trigger": "model_uri"})["churn"].lifecycle
    assert lifecycle.ignore_changes == ("config.instance_count", "config.tags")
    assert lifecycle.replace_on == ("model_uri",)


def test_list_entry_variable_is_checked_after_expansion(issues_of: Issues) -> None:
    issues = issues_of(churn_with("replace_on: ['${var.trigger}']", variables="trigger: config..x"))
    assert issues == [
        (11, 24, f"'config..x' in replace_on of deployment 'churn' is not a path: {PATH_RULE}")
    ]


# --- messages -------------------------------------------------------------------------------


def test_unknown_field_in_lifecycle_suggests_the_close_one(issues_of: Issues) -> None:
    issues = issues_of(
        churn_with(
            """
            prevent_destory: true
            ignore_change: [flavor]
            protect: true
            """
        )
    )
    assert issues == [
        (
            11,
            11,
            "unknown field 'prevent_destory' in lifecycle of deployment 'churn' "
            "(did you mean 'prevent_destroy'?)",
        ),
        (
            12,
            11,
            "unknown field 'ignore_change' in lifecycle of deployment 'churn' "
            "(did you mean 'ignore_changes'?)",
        ),
        (13, 11, "unknown field 'protect' in lifecycle of deployment 'churn'"),
    ]


def test_unknown_field_in_defaults_lifecycle_names_the_defaults(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              lifecycle:
                replace: [flavor]
        """
    )
    assert issues == [
        (
            8,
            9,
            "unknown field 'replace' in lifecycle of defaults of target 'local' "
            "(did you mean 'replace_on'?)",
        )
    ]


def test_prevent_destroy_of_the_wrong_type(issues_of: Issues) -> None:
    issues = issues_of(churn_with("prevent_destroy: 'no'"))
    assert issues == [
        (
            11,
            28,
            "field 'prevent_destroy' of lifecycle of deployment 'churn' must be a boolean, "
            "not a string",
        )
    ]


def test_adopt_of_the_wrong_type(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            deployments:
              churn:
                model_uri: models:/churn/1
                adopt: 1
        """
    )
    assert issues == [
        (9, 16, "field 'adopt' of deployment 'churn' must be a boolean, not a number")
    ]


def test_lifecycle_that_is_not_a_mapping(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              lifecycle: [prevent_destroy]
            deployments:
              churn:
                model_uri: models:/churn/1
                lifecycle:
        """
    )
    assert issues == [
        (
            7,
            18,
            "lifecycle of defaults of target 'local' must be a mapping, not a list",
        ),
        (
            11,
            19,
            "lifecycle of deployment 'churn' must be a mapping, not null "
            "(write {} for an empty mapping)",
        ),
    ]


def test_path_list_written_as_one_string_suggests_brackets(issues_of: Issues) -> None:
    issues = issues_of(churn_with("replace_on: flavor"))
    assert issues == [
        (
            11,
            23,
            "field 'replace_on' of lifecycle of deployment 'churn' must be a list, "
            "not a string (write [flavor] for a list of one)",
        )
    ]


def test_bad_paths_are_reported_at_each_entry(issues_of: Issues) -> None:
    issues = issues_of(
        churn_with(
            """
            ignore_changes:
              - config.instance_count
              - config..x
              - 3
            replace_on: [name]
            """
        )
    )
    assert issues == [
        (13, 15, f"'config..x' in ignore_changes of deployment 'churn' is not a path: {PATH_RULE}"),
        (14, 15, f"3 in ignore_changes of deployment 'churn' is not a path: {PATH_RULE}"),
        (15, 24, f"'name' in replace_on of deployment 'churn' is not a path: {PATH_RULE}"),
    ]


def test_bad_path_in_defaults_names_the_defaults(issues_of: Issues) -> None:
    issues = issues_of(
        """
        version: 1
        environment: dev
        targets:
          local:
            uri: local:x
            defaults:
              lifecycle: {ignore_changes: [config.]}
        """
    )
    assert issues == [
        (
            7,
            36,
            f"'config.' in ignore_changes of defaults of target 'local' is not a path: {PATH_RULE}",
        )
    ]


def test_repeated_path_is_reported_at_its_first_repeat(issues_of: Issues) -> None:
    issues = issues_of(
        churn_with("ignore_changes: [flavor, config.a, flavor, flavor, config.a, config..x]")
    )
    assert issues == [
        (11, 46, "'flavor' is listed more than once in ignore_changes of deployment 'churn'"),
        (11, 62, "'config.a' is listed more than once in ignore_changes of deployment 'churn'"),
        (11, 72, f"'config..x' in ignore_changes of deployment 'churn' is not a path: {PATH_RULE}"),
    ]


def test_repeat_made_by_a_variable_is_reported(issues_of: Issues) -> None:
    issues = issues_of(
        churn_with("replace_on: [flavor, '${var.trigger}']", variables="trigger: flavor")
    )
    assert issues == [
        (11, 32, "'flavor' is listed more than once in replace_on of deployment 'churn'")
    ]


@pytest.mark.parametrize(
    "entry",
    ["model_uri", "flavor", "config", "config.instance_count", "config.a.B-2.c_d"],
)
def test_paths_of_the_pattern_are_accepted(write_manifest: WriteManifest, entry: str) -> None:
    path = write_manifest(churn_with(f"ignore_changes: ['{entry}']\nreplace_on: ['{entry}']"))
    lifecycle = deployments(path)["churn"].lifecycle
    assert lifecycle.ignore_changes == lifecycle.replace_on == (entry,)


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "name",
        "Config",
        "config.",
        ".config",
        "config..x",
        "config.a b",
        "config[0]",
        "config.a.",
        "model_uri.x",
        "flavor.x",
        "configx",
    ],
)
def test_paths_outside_the_pattern_are_rejected(issues_of: Issues, entry: str) -> None:
    issues = issues_of(churn_with(f"ignore_changes: ['{entry}']"))
    assert issues == [
        (
            11,
            28,
            f"'{entry}' in ignore_changes of deployment 'churn' is not a path: {PATH_RULE}",
        )
    ]


# --- schema ---------------------------------------------------------------------------------


def test_schema_lifecycle_path_pattern_is_the_model_pattern() -> None:
    defs = manifest_schema()["$defs"]
    assert defs["lifecyclePath"]["pattern"] == LIFECYCLE_PATH_PATTERN
    assert defs["lifecyclePaths"]["uniqueItems"] is True
    assert defs["lifecycle"]["additionalProperties"] is False
    assert set(defs["lifecycle"]["properties"]) == {
        "prevent_destroy",
        "ignore_changes",
        "replace_on",
    }


def test_schema_allows_adopt_on_deployments_only() -> None:
    defs = manifest_schema()["$defs"]
    assert defs["deployment"]["properties"]["adopt"]["type"] == "boolean"
    assert defs["deployment"]["properties"]["lifecycle"]["$ref"] == "#/$defs/lifecycle"
    assert defs["defaults"]["properties"]["lifecycle"]["$ref"] == "#/$defs/lifecycle"
    assert "adopt" not in defs["defaults"]["properties"]
