"""The example policy ``examples/policy`` ("no delete in prod without a label"), evaluated with the
``regopy`` Rego interpreter on plan JSON that deployctl makes: deny and allow cases."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support import EXAMPLES, in_ci, manifest, run_cli, write_manifest

POLICY = EXAMPLES / "policy"
INSTALL = "pip install 'deployctl[test]'"

# churn carries the label; fraud does not.
LABELLED: dict[str, Any] = {
    "model_uri": "models:/churn/3",
    "config": {"workers": 2, "allow_delete": "true"},
}
UNLABELLED: dict[str, Any] = {"model_uri": "models:/fraud/7", "config": {"workers": 2}}


@pytest.fixture(autouse=True)
def require_regopy() -> None:
    """Skip without regopy, before making any plan; in CI (env ``CI`` set) that is a failure."""
    try:
        import regopy  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail(f"regopy is not installed ({INSTALL}) (required in CI)")
        pytest.skip(f"regopy is not installed ({INSTALL})")


def deny(plan: Mapping[str, Any]) -> list[str]:
    """What the example policy denies in ``plan``, as ``conftest test`` lists its failures."""
    from regopy import Interpreter

    rego = Interpreter()
    for module in sorted(POLICY.glob("*.rego")):
        rego.add_module(module.name, module.read_text(encoding="utf-8"))
    rego.set_input(plan)
    result = rego.query("x := data.main.deny")
    assert result.ok(), result
    denied = json.loads(result.binding("x").json())
    assert isinstance(denied, list)
    return sorted(str(message) for message in denied)


def write(tmp_path: Path, deployments: Mapping[str, Any], environment: str = "prod") -> None:
    text = manifest(dict(deployments), environment=environment)
    write_manifest(tmp_path / f"{environment}.yaml", text)


def applied(tmp_path: Path, deployments: Mapping[str, Any], environment: str = "prod") -> None:
    write(tmp_path, deployments, environment)
    result = run_cli("apply", "-f", f"{environment}.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 0, result.err


def plan(tmp_path: Path, *args: str, environment: str = "prod") -> dict[str, Any]:
    result = run_cli("plan", "-f", f"{environment}.yaml", "--json", *args, cwd=tmp_path)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert isinstance(data, dict)
    return data


def test_deleting_a_prod_deployment_without_the_label_is_denied(tmp_path: Path) -> None:
    applied(tmp_path, {"churn": LABELLED, "fraud": UNLABELLED})
    write(tmp_path, {})
    assert deny(plan(tmp_path)) == [
        "local/fraud: delete in prod (delete_because_no_resource_config: no longer in the "
        'manifest) needs allow_delete: "true" in its applied config; apply that label first'
    ]


def test_a_saved_prod_destroy_plan_is_denied_for_the_unlabelled_deployment_only(
    tmp_path: Path,
) -> None:
    applied(tmp_path, {"churn": LABELLED, "fraud": UNLABELLED})
    result = run_cli(
        "plan", "-f", "prod.yaml", "--destroy", "--out", "prod.plan.json", cwd=tmp_path
    )
    assert result.code == 0, result.err
    saved = json.loads((tmp_path / "prod.plan.json").read_text(encoding="utf-8"))
    (message,) = deny(saved)
    assert message.startswith("local/fraud: delete in prod (delete_by_request: destroy requested)")


def test_a_replace_in_prod_is_denied_without_the_label(tmp_path: Path) -> None:
    replace_on = {"lifecycle": {"replace_on": ["model_uri"]}}
    applied(tmp_path, {"churn": {**LABELLED, **replace_on}, "fraud": {**UNLABELLED, **replace_on}})
    write(
        tmp_path,
        {
            "churn": {**LABELLED, **replace_on, "model_uri": "models:/churn/4"},
            "fraud": {**UNLABELLED, **replace_on, "model_uri": "models:/fraud/8"},
        },
    )
    (message,) = deny(plan(tmp_path))
    assert message.startswith("local/fraud: replace in prod (replace_by_triggers: ")


def test_labelling_then_deleting_passes(tmp_path: Path) -> None:
    applied(tmp_path, {"fraud": UNLABELLED})
    labelled = {**UNLABELLED, "config": {"workers": 2, "allow_delete": "true"}}
    write(tmp_path, {"fraud": labelled})
    assert deny(plan(tmp_path)) == []  # the label itself is an update
    applied(tmp_path, {"fraud": labelled})
    write(tmp_path, {})
    removal = plan(tmp_path)
    assert [c["action_reason"] for c in removal["resource_changes"]] == [
        "delete_because_no_resource_config"
    ]
    assert deny(removal) == []


def test_creates_updates_and_deletes_outside_prod_pass(tmp_path: Path) -> None:
    applied(tmp_path, {"fraud": UNLABELLED}, environment="dev")
    write(tmp_path, {"churn": LABELLED}, environment="dev")
    data = plan(tmp_path, environment="dev")
    assert {c["action_reason"] for c in data["resource_changes"]} == {
        "create_because_new",
        "delete_because_no_resource_config",
    }
    assert deny(data) == []


def test_removing_a_prod_deployment_already_gone_from_its_target_passes(tmp_path: Path) -> None:
    applied(tmp_path, {"churn": LABELLED, "fraud": UNLABELLED})
    (tmp_path / ".deployctl" / "prod" / "deployments" / "fraud.json").unlink()
    write(tmp_path, {"churn": {**LABELLED, "config": {"workers": 4, "allow_delete": "true"}}})
    data = plan(tmp_path)
    assert [(c["address"], c["action_reason"]) for c in data["resource_changes"]] == [
        ("local/churn", "update_because_manifest_changed"),
        ("local/fraud", "delete_because_gone"),
    ]
    assert deny(data) == []
