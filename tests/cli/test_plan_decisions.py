"""Decisions that must not drop a live deployment, through the CLI: a selection that matches
nothing, a renamed target key, a get that fails without saying "not found", and the timeouts and
retries a saved plan keeps."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from support import manifest, run_cli, write_manifest

PRIMARY = manifest(
    targets={"primary": {"uri": "local:.deployctl/prod", "deployments": {"churn": "models:/c/1"}}},
    environment="prod",
)
RENAMED = PRIMARY.replace("  primary:", "  eu:")


def test_a_target_or_exclude_that_matches_nothing_is_an_error_and_changes_nothing(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path / "prod.yaml", PRIMARY)
    plan = run_cli("plan", "-f", "prod.yaml", "--target", "primary/chrun", cwd=tmp_path)
    assert plan.code == 1
    assert plan.err.endswith(
        "\nError: --target primary/chrun matches no deployment in the manifest or the state "
        "(did you mean 'primary/churn'?)\n"
    )
    assert "Reading" not in plan.err  # refused before any target is read
    apply = run_cli(
        "apply", "-f", "prod.yaml", "--auto-approve", "--exclude", "nowhere", cwd=tmp_path
    )
    assert apply.code == 1
    assert "--exclude nowhere matches no deployment" in apply.err
    assert not (tmp_path / ".deployctl").exists()


def test_a_renamed_target_key_is_refused_with_state_mv_and_the_deployment_survives(
    tmp_path: Path,
) -> None:
    write_manifest(tmp_path / "prod.yaml", PRIMARY)
    assert run_cli("apply", "-f", "prod.yaml", "--auto-approve", cwd=tmp_path).code == 0
    record = tmp_path / ".deployctl" / "prod" / "deployments" / "churn.json"
    assert record.exists()

    write_manifest(tmp_path / "prod.yaml", RENAMED)
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run_cli(*command, "-f", "prod.yaml", cwd=tmp_path)
        assert result.code == 1
        assert "the target key was renamed; run 'deployctl state mv primary/churn eu/churn'" in (
            result.err
        )
    assert record.exists()

    moved = run_cli("state", "mv", "primary/churn", "eu/churn", "-f", "prod.yaml", cwd=tmp_path)
    assert moved.code == 0, moved.err
    again = run_cli("plan", "-f", "prod.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.err + again.out


def test_a_get_that_fails_otherwise_than_not_found_fails_the_plan_naming_the_address(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": {"a": "m:/a/1"}}}),
    )
    test_plugins.write_faults(target, {"fail": {"get_deployment": ["a"]}})
    plan = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path)
    assert plan.code == 1
    lines = plan.err.splitlines()
    lines = lines[lines.index("Error: cannot tell whether 1 deployment(s) exist:") :]
    assert lines[:2] == [
        "Error: cannot tell whether 1 deployment(s) exist:",
        "  target 't', get_deployment for t/a: InjectedFault: injected failure: get_deployment a",
    ]
    assert lines[2].startswith("nothing was planned")
    # The seed plugin's ValueError("deployment a not found") does say it: a plan to create it.
    test_plugins.write_faults(target, {})
    data = json.loads(run_cli("plan", "-f", "dev.yaml", "--json", cwd=tmp_path).out)
    assert [c["change"]["actions"] for c in data["resource_changes"]] == [["create"]]


SLOW = """\
version: 1
environment: dev
targets:
  t:
    uri: seedtest:{target}
    timeout: {{read: 100ms, write: 30m}}
    retry: {{attempts: 2, backoff: 10ms}}
    deployments:
      a: {{model_uri: "m:/a/1"}}
"""


def test_a_saved_plan_is_applied_with_the_timeouts_and_retries_it_was_made_with(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    write_manifest(tmp_path / "dev.yaml", SLOW.format(target=target))
    made = run_cli("plan", "-f", "dev.yaml", "--out", "dev.plan.json", cwd=tmp_path)
    assert made.code == 0, made.err
    saved = json.loads((tmp_path / "dev.plan.json").read_text(encoding="utf-8"))
    assert saved["target_calls"] == {
        "t": {"timeout": {"read": 0.1, "write": 1800.0}, "retry": {"attempts": 2, "backoff": 0.01}}
    }
    # Applying the saved plan re-reads what it touches: with a hanging get, that times out
    # after two attempts, as the plan (not a manifest) says.
    test_plugins.write_faults(target, {"sleep": {"get_deployment": 0.5}})
    applied = run_cli("apply", "dev.plan.json", cwd=tmp_path)
    assert applied.code == 1
    assert "t/a: no answer within 100ms (after 2 attempts)" in applied.err
