"""--target / --exclude partial plans and --max-deletes, through the console script."""

from __future__ import annotations

import json
from pathlib import Path

from support import manifest, run_cli, write_manifest

PRIMARY = {"uri": "local:.deployctl/primary", "deployments": {"churn": "models:/churn/1"}}
MANIFEST = manifest(
    targets={
        "primary": {
            **PRIMARY,
            "deployments": {"churn": "models:/churn/1", "fraud": "models:/fraud/1"},
        },
        "canary": {"uri": "local:.deployctl/canary", "deployments": {"fraud": "models:/fraud/2"}},
    },
    environment="prod",
)


def applied(tmp_path: Path) -> Path:
    write_manifest(tmp_path / "prod.yaml", MANIFEST)
    assert run_cli("apply", "-f", "prod.yaml", "--auto-approve", cwd=tmp_path).code == 0
    return tmp_path


def actions(tmp_path: Path, *args: str) -> dict[str, list[str]]:
    result = run_cli("plan", "-f", "prod.yaml", "--json", *args, cwd=tmp_path)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    return {c["address"]: c["change"]["actions"] for c in data["resource_changes"]}


def test_target_limits_the_plan_to_an_address_or_a_whole_target(tmp_path: Path) -> None:
    write_manifest(tmp_path / "prod.yaml", MANIFEST)
    assert actions(tmp_path, "--target", "primary/churn") == {"primary/churn": ["create"]}
    assert sorted(actions(tmp_path, "--target", "primary")) == ["primary/churn", "primary/fraud"]
    assert sorted(actions(tmp_path, "--exclude", "primary/fraud")) == [
        "canary/fraud",
        "primary/churn",
    ]
    assert actions(tmp_path, "--target", "primary", "--exclude", "primary/churn") == {
        "primary/fraud": ["create"]
    }


def test_partial_plans_say_so_in_every_output(tmp_path: Path) -> None:
    write_manifest(tmp_path / "prod.yaml", MANIFEST)
    human = run_cli("plan", "-f", "prod.yaml", "--target", "canary", cwd=tmp_path)
    assert "Warning: Partial plan (only canary)" in human.out
    data = json.loads(
        run_cli("plan", "-f", "prod.yaml", "--json", "--target", "canary", cwd=tmp_path).out
    )
    assert data["partial"] is True
    assert data["selection"] == {"targets": ["canary"], "excludes": []}
    markdown = run_cli("plan", "-f", "prod.yaml", "--markdown", "--exclude", "canary", cwd=tmp_path)
    assert "Partial plan (excluding canary)" in markdown.out
    full = json.loads(run_cli("plan", "-f", "prod.yaml", "--json", cwd=tmp_path).out)
    assert full["partial"] is False


def test_apply_and_destroy_touch_only_the_selection(tmp_path: Path) -> None:
    write_manifest(tmp_path / "prod.yaml", MANIFEST)
    result = run_cli(
        "apply", "-f", "prod.yaml", "--auto-approve", "--target", "canary", cwd=tmp_path
    )
    assert result.code == 0, result.err
    listed = run_cli("state", "list", "-e", "prod", cwd=tmp_path).out.split()
    assert listed == ["canary/fraud"]
    assert run_cli("apply", "-f", "prod.yaml", "--auto-approve", cwd=tmp_path).code == 0
    destroyed = run_cli(
        "destroy", "-f", "prod.yaml", "--auto-approve", "--target", "primary/fraud", cwd=tmp_path
    )
    assert destroyed.code == 0, destroyed.err
    assert run_cli("state", "list", "-e", "prod", cwd=tmp_path).out.split() == [
        "canary/fraud",
        "primary/churn",
    ]


def test_max_deletes_refuses_a_plan_that_deletes_too_much(tmp_path: Path) -> None:
    applied(tmp_path)
    write_manifest(
        tmp_path / "prod.yaml",
        manifest(targets={"primary": PRIMARY}, environment="prod"),  # two deletes
    )
    refused = run_cli("plan", "-f", "prod.yaml", "--max-deletes", "1", cwd=tmp_path)
    assert refused.code == 1
    assert "deletes or replaces 2 deployment(s), more than --max-deletes 1 allows" in refused.err
    assert "canary/fraud" in refused.err and "primary/fraud" in refused.err
    assert run_cli("plan", "-f", "prod.yaml", "--max-deletes", "2", cwd=tmp_path).code == 0
    assert run_cli("plan", "-f", "prod.yaml", "--out", "p.json", cwd=tmp_path).code == 0
    saved = run_cli("apply", "p.json", "--max-deletes", "0", cwd=tmp_path)
    assert saved.code == 1
    assert "more than --max-deletes 0" in saved.err
    applying = run_cli(
        "apply", "-f", "prod.yaml", "--auto-approve", "--max-deletes", "1", cwd=tmp_path
    )
    assert applying.code == 1
    assert len(run_cli("state", "list", "-e", "prod", cwd=tmp_path).out.split()) == 3


def test_selection_errors_are_one_line(tmp_path: Path) -> None:
    write_manifest(tmp_path / "prod.yaml", MANIFEST)
    bad = run_cli("plan", "-f", "prod.yaml", "--target", "a/b/c", cwd=tmp_path)
    assert bad.code == 1 and "--target a/b/c" in bad.err
    assert run_cli("plan", "-f", "prod.yaml", "--out", "p.json", cwd=tmp_path).code == 0
    narrowed = run_cli("apply", "p.json", "--target", "canary", cwd=tmp_path)
    assert narrowed.code == 1
    assert "cannot narrow a saved plan" in narrowed.err
    negative = run_cli("plan", "-f", "prod.yaml", "--max-deletes", "-1", cwd=tmp_path)
    assert negative.code == 1 and "--max-deletes must be 0 or more" in negative.err


def test_a_renamed_target_key_is_refused_even_when_only_the_old_address_is_targeted(
    tmp_path: Path,
) -> None:
    # The desired address outside the selection still counts: planned alone, the old one would
    # be deleted on the target.
    deployments = {"churn": "models:/churn/1"}
    first = manifest(targets={"primary": {"uri": "local:.deployctl/t", "deployments": deployments}})
    write_manifest(tmp_path / "dev.yaml", first)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    renamed = manifest(targets={"eu": {"uri": "local:.deployctl/t", "deployments": deployments}})
    write_manifest(tmp_path / "dev.yaml", renamed)
    result = run_cli("plan", "-f", "dev.yaml", "--target", "primary/churn", cwd=tmp_path)
    assert result.code == 1, result.out
    assert "deployctl state mv primary/churn eu/churn" in result.err
