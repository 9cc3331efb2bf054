"""Secrets end to end: a value from ``${env.…}`` or listed under ``sensitive:`` is ``(sensitive)``
in every output, never in clear in any file deployctl writes, and the plugin still gets it.

Each test greps the secret in stdout, stderr and every file under its directory, except the
local target's own records (``.deployctl/``: the deployment itself, which must hold the real
value) and the manifest (which holds the literal ``sensitive:`` values by design).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
from support import REPO, Result, manifest, run_cli, run_process, write_manifest

from deployctl.model import DeploymentSpec
from deployctl.targets.local import LocalDeploymentClient

TOKEN = "tok-0123456789-secret"
OTHER_TOKEN = "tok-9876543210-rotated"
API_KEY = "sk-literal-api-key-42"
ENV = {"API_TOKEN": TOKEN}
CHURN = {
    "model_uri": "models:/churn/3",
    "sensitive": ["config.api_key"],
    "config": {"api_key": API_KEY, "token": "${env.API_TOKEN}", "workers": 2},
}
MANIFEST = manifest({"churn": CHURN})
SECRETS = (TOKEN, OTHER_TOKEN, API_KEY)


def setup(tmp_path: Path, text: str = MANIFEST) -> None:
    write_manifest(tmp_path / "dev.yaml", text)


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli(*args, cwd=tmp_path, env=ENV if env is None else env)


def target(tmp_path: Path) -> LocalDeploymentClient:
    return LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}")


def assert_no_secret(tmp_path: Path, *results: Result) -> None:
    """No secret in the outputs, nor in any file but the target's own and the manifests."""
    for result in results:
        for secret in SECRETS:
            assert secret not in result.out, result.out
            assert secret not in result.err, result.err
    for path in tmp_path.rglob("*"):
        relative = path.relative_to(tmp_path)
        if not path.is_file() or relative.parts[0] == ".deployctl" or path.suffix == ".yaml":
            continue
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} is in {relative}"


def applied(tmp_path: Path) -> Result:
    setup(tmp_path)
    result = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve")
    assert result.code == 0, result.err
    return result


# -- the plugin gets the real values ----------------------------------------------------------
def test_the_plugin_gets_the_real_values_and_nothing_else_holds_them(tmp_path: Path) -> None:
    result = applied(tmp_path)
    assert target(tmp_path).get_deployment("churn")["config"] == {
        "api_key": API_KEY,
        "token": TOKEN,
        "workers": 2,
    }
    assert "config.token: (sensitive)" in result.out
    assert "config.api_key: (sensitive)" in result.out
    assert "config.workers: 2" in result.out
    assert_no_secret(tmp_path, result)
    state = (tmp_path / "state" / "dev.json").read_text()
    assert '"$sensitive": "hmac-sha256:' in state


# -- every output form ------------------------------------------------------------------------
def test_plan_json_markdown_and_show_mask_secrets(tmp_path: Path) -> None:
    setup(tmp_path)
    human = cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json")
    as_json = cli(tmp_path, "plan", "-f", "dev.yaml", "--json")
    markdown = cli(tmp_path, "plan", "-f", "dev.yaml", "--markdown")
    shown = [cli(tmp_path, "show", "plan.json", *form) for form in ([], ["--json"], ["--markdown"])]
    assert all(r.code == 0 for r in (human, as_json, markdown, *shown))
    assert "config.token: (sensitive)" in human.out
    assert "| `config.token` | *(absent)* | `(sensitive)` |" in markdown.out
    assert shown[0].out in human.out and shown[2].out == markdown.out

    plan = json.loads(as_json.out)
    schema = json.loads((REPO / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(plan, schema)
    jsonschema.validate(json.loads((tmp_path / "plan.json").read_text()), schema)
    change = plan["resource_changes"][0]
    after = change["change"]["after"]["config"]
    assert set(after["token"]) == {"$sensitive"} and set(after["api_key"]) == {"$sensitive"}
    assert after["workers"] == 2
    assert change["sensitive"] == [
        {"path": ["config", "api_key"], "env": []},
        {"path": ["config", "token"], "env": ["API_TOKEN"]},
    ]
    assert_no_secret(tmp_path, human, as_json, markdown, *shown)


def test_apply_json_events_mask_secrets(tmp_path: Path) -> None:
    setup(tmp_path)
    result = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", "--json")
    assert result.code == 0, result.err
    events = [json.loads(line) for line in result.out.splitlines()]
    planned = next(e for e in events if e["type"] == "planned_change")
    diff = {d["path"]: d["after"] for d in planned["diff"]}
    assert set(diff["config.token"]) == {"$sensitive"}
    assert_no_secret(tmp_path, result)


def test_state_show_list_and_pull_mask_secrets(tmp_path: Path) -> None:
    applied(tmp_path)
    shown = cli(tmp_path, "state", "show", "local/churn", "-f", "dev.yaml")
    listed = cli(tmp_path, "state", "list", "-f", "dev.yaml", "--json")
    pulled = cli(tmp_path, "state", "pull", "-f", "dev.yaml")
    history = cli(tmp_path, "state", "history", "-f", "dev.yaml", "--json")
    assert all(r.code == 0 for r in (shown, listed, pulled, history))
    record = json.loads(shown.out)
    assert set(record["config"]["token"]) == {"$sensitive"}
    # What the target echoed back is masked the same way, in its fields and in its raw record.
    assert record["live"]["config"]["token"] == record["config"]["token"]
    assert record["live"]["raw"]["config"]["api_key"] == record["config"]["api_key"]
    schema = json.loads((REPO / "schemas" / "state.schema.json").read_text())
    jsonschema.validate(json.loads(pulled.out), schema)
    assert_no_secret(tmp_path, shown, listed, pulled, history)


def test_drift_of_a_secret_shows_a_change_but_no_value(tmp_path: Path) -> None:
    applied(tmp_path)
    target(tmp_path).update_deployment(
        "churn", config={"api_key": API_KEY, "token": OTHER_TOKEN, "workers": 2}
    )
    human = cli(tmp_path, "drift", "-f", "dev.yaml", "--detailed-exitcode")
    as_json = cli(tmp_path, "drift", "-f", "dev.yaml", "--json")
    assert human.code == 2, human.err
    assert "config.token: (sensitive) → (sensitive)" in human.out
    (change,) = json.loads(as_json.out)["deployments"][0]["diff"]
    assert change["path"] == "config.token" and change["before"] != change["after"]
    planned = cli(tmp_path, "plan", "-f", "dev.yaml")
    assert "config.token: (sensitive) → (sensitive)" in planned.out
    assert_no_secret(tmp_path, human, as_json, planned)


def test_an_error_quoting_a_secret_shows_it_masked(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    # This plugin's error quotes the bad value it was given: config replicas must be a number.
    text = manifest(
        targets={
            "m2": {
                "uri": f"mlflow2test:{tmp_path / '.deployctl' / 'm2'}",
                "deployments": {"churn": {"model_uri": "m:/1", "config": {"replicas": TOKEN}}},
            }
        }
    )
    setup(tmp_path, text.replace(TOKEN, '"${env.API_TOKEN}"'))
    for extra in ([], ["--json"]):
        result = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", *extra)
        assert result.code == 1
        assert "replicas must be a positive whole number, not '(sensitive)'" in result.out
        assert_no_secret(tmp_path, result)


# -- changes ---------------------------------------------------------------------------------
def test_an_unchanged_secret_is_no_change_and_a_changed_one_an_update(tmp_path: Path) -> None:
    applied(tmp_path)
    same = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert same.code == 0, same.out + same.err
    assert "No changes." in same.out
    rotated = cli(
        tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", env={"API_TOKEN": OTHER_TOKEN}
    )
    assert rotated.code == 0, rotated.err
    assert "~ update local/churn" in rotated.out
    assert "config.token: (sensitive) → (sensitive)" in rotated.out
    assert "api_key" not in rotated.out  # unchanged: not part of the diff
    assert target(tmp_path).get_deployment("churn")["config"]["token"] == OTHER_TOKEN
    again = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode", env={})
    assert again.code == 1 and "environment variable 'API_TOKEN' is not set" in again.err
    assert_no_secret(tmp_path, same, rotated, again)


def test_a_saved_plan_reads_its_secrets_again_and_refuses_changed_ones(tmp_path: Path) -> None:
    setup(tmp_path)
    made = cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json")
    assert made.code == 0, made.err
    refused = cli(tmp_path, "apply", "plan.json", env={"API_TOKEN": OTHER_TOKEN})
    assert refused.code == 1
    assert "sensitive values changed since the plan was made" in refused.err
    assert "local/churn: config.token (from environment variable API_TOKEN)" in refused.err
    assert not (tmp_path / "state" / "dev.json").exists()
    missing = cli(tmp_path, "apply", "plan.json", env={})
    assert missing.code == 1 and "'API_TOKEN' is not set" in missing.err
    accepted = cli(tmp_path, "apply", "plan.json")
    assert accepted.code == 0, accepted.err
    assert target(tmp_path).get_deployment("churn")["config"]["token"] == TOKEN
    assert_no_secret(tmp_path, made, refused, missing, accepted)


def test_a_saved_plan_is_refused_under_another_secret_key(tmp_path: Path) -> None:
    setup(tmp_path)
    assert cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json").code == 0
    refused = cli(tmp_path, "apply", "plan.json", env={**ENV, "DEPLOYCTL_SECRET_KEY": "k" * 32})
    assert refused.code == 1 and "DEPLOYCTL_SECRET_KEY" in refused.err
    assert "local/churn: config.api_key (written in the manifest)" in refused.err


def test_the_secret_key_changes_every_hash(tmp_path: Path) -> None:
    setup(tmp_path)
    default = json.loads(cli(tmp_path, "plan", "-f", "dev.yaml", "--json").out)
    keyed = json.loads(
        cli(
            tmp_path, "plan", "-f", "dev.yaml", "--json", env={**ENV, "DEPLOYCTL_SECRET_KEY": "k"}
        ).out
    )
    config = [p["resource_changes"][0]["change"]["after"]["config"] for p in (default, keyed)]
    assert config[0]["token"] != config[1]["token"]
    assert config[0]["workers"] == config[1]["workers"]


def test_an_ignored_secret_is_sent_back_as_the_target_has_it(tmp_path: Path) -> None:
    applied(tmp_path)
    target(tmp_path).update_deployment(
        "churn", config={"api_key": API_KEY, "token": OTHER_TOKEN, "workers": 2}
    )
    ignoring = {
        **CHURN,
        "model_uri": "models:/churn/4",
        "lifecycle": {"ignore_changes": ["config.token"]},
    }
    setup(tmp_path, manifest({"churn": ignoring}))
    made = cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json")
    assert made.code == 0, made.err
    assert "config.token" not in made.out
    result = cli(tmp_path, "apply", "plan.json")
    assert result.code == 0, result.err
    record = target(tmp_path).get_deployment("churn")
    assert record["model_uri"] == "models:/churn/4" and record["config"]["token"] == OTHER_TOKEN
    assert_no_secret(tmp_path, made, result)


def test_a_sensitive_model_uri_is_masked_too(tmp_path: Path) -> None:
    text = manifest({"churn": {"model_uri": "${env.API_TOKEN}"}})
    setup(tmp_path, text)
    result = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve")
    assert result.code == 0, result.err
    assert "model_uri: (sensitive)" in result.out
    assert target(tmp_path).get_deployment("churn")["model_uri"] == TOKEN
    assert cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode").code == 0
    assert_no_secret(tmp_path, result)


def test_adopting_a_deployment_masks_what_the_target_reports(tmp_path: Path) -> None:
    setup(tmp_path)
    target(tmp_path).create_deployment(
        "churn", "models:/churn/3", config={"api_key": API_KEY, "token": TOKEN, "workers": 2}
    )
    imported = cli(tmp_path, "import", "local/churn", "-f", "dev.yaml")
    assert imported.code == 0, imported.err
    plan = cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert_no_secret(tmp_path, imported, plan)


# -- files -----------------------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_files_that_may_describe_secrets_are_private(tmp_path: Path) -> None:
    setup(tmp_path)
    assert cli(tmp_path, "plan", "-f", "dev.yaml", "--out", "plan.json").code == 0
    assert cli(tmp_path, "apply", "plan.json").code == 0
    files = [tmp_path / "plan.json", *sorted((tmp_path / "state").rglob("*"))]
    written = {str(p.relative_to(tmp_path)): mode(p) for p in files if p.is_file()}
    assert "state/dev.json" in written and any(".history" in name for name in written)
    assert set(written.values()) == {0o600}, written


def test_a_crash_log_holds_no_var_value_nor_state_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from deployctl.cli.main import _crash_log

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("DEPLOYCTL_STATE", "postgresql://ci:pg-pass-0451@db.example/deploy")
    argv = ["deployctl", "plan", "--var", f"token={TOKEN}", f"--var=key={API_KEY}", "-f", "x"]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        raise RuntimeError(f"failed with {TOKEN} at postgresql://ci:pg-pass-0451@db.example/x")
    except RuntimeError as exc:
        path = Path(_crash_log(exc))
    text = path.read_text()
    assert mode(path) == 0o600
    assert "'--var', 'token=(redacted)', '--var=key=(redacted)'" in text
    assert "postgresql://ci:(redacted)@db.example/x" in text
    for secret in (TOKEN, API_KEY, "pg-pass-0451"):
        assert secret not in text


def test_manifests_without_secrets_write_plans_as_before(tmp_path: Path) -> None:
    setup(tmp_path, manifest({"churn": {"model_uri": "m:/1", "config": {"workers": 2}}}))
    plan = json.loads(cli(tmp_path, "plan", "-f", "dev.yaml", "--json").out)
    assert "sensitive" not in plan["resource_changes"][0]
    assert plan["resource_changes"][0]["change"]["after"]["config"] == {"workers": 2}
    assert os.environ.get("API_TOKEN") is None


def test_a_value_deployctl_cannot_send_refuses_the_apply_before_any_change(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    # This plugin does not report config back: a sensitive value kept by ignore_changes is
    # known by its hash only, and deployctl will not send a hash in place of the value.
    directory = tmp_path / ".deployctl" / "m2"

    def text(model: str, **fields: object) -> str:
        deployment = {"model_uri": model, "config": {"token": TOKEN}, **fields}
        targets = {"m2": {"uri": f"mlflow2test:{directory}", "deployments": {"churn": deployment}}}
        return manifest(targets=targets).replace(TOKEN, '"${env.API_TOKEN}"')

    setup(tmp_path, text("m:/1"))
    assert cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve").code == 0
    setup(tmp_path, text("m:/2", lifecycle={"ignore_changes": ["config.token"]}))
    env = {"API_TOKEN": OTHER_TOKEN}
    refused = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve", env=env)
    assert refused.code == 1
    assert "cannot send these sensitive values" in refused.err
    assert "m2/churn: config.token (from environment variable API_TOKEN)" in refused.err
    calls = [c["method"] for c in test_plugins.read_calls(directory)]
    assert "update_deployment" not in calls
    assert_no_secret(tmp_path, refused)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_lock_and_the_journal_are_private_while_held(tmp_path: Path) -> None:
    from deployctl.model.state import StateRecord
    from deployctl.state.local import LocalStateBackend

    backend = LocalStateBackend(tmp_path / "state" / "dev.json", environment="dev")
    spec = DeploymentSpec("m:/1", None, {})
    with backend.lock(operation="test") as session:
        session.record(StateRecord("local", "churn", "local:/x", spec, None, "2026-01-01Z"))
        held = {p.name: mode(p) for p in (tmp_path / "state").iterdir() if p.is_file()}
    assert any(name.endswith(".lock") for name in held), held
    assert any(name.endswith(".journal") for name in held), held
    assert set(held.values()) == {0o600}, held


def test_a_crashed_apply_leaves_no_secret_in_its_journal(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / ".deployctl" / "seed"
    churn = {"model_uri": "m:/1", "config": {"token": TOKEN}}
    text = manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": {"churn": churn}}})
    setup(tmp_path, text.replace(TOKEN, '"${env.API_TOKEN}"'))
    test_plugins.write_faults(target, {"exit_after": {"create_deployment": ["churn"]}})
    crashed = run_process("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path, env=ENV)
    assert crashed.code == 137
    left = [p.name for p in (tmp_path / "state").iterdir()]
    assert any(name.endswith(".journal") for name in left), left
    assert_no_secret(tmp_path, crashed)
    test_plugins.write_faults(target, {})
    converged = cli(tmp_path, "apply", "-f", "dev.yaml", "--auto-approve")
    assert converged.code == 0, converged.err
    assert cli(tmp_path, "plan", "-f", "dev.yaml", "--detailed-exitcode").code == 0
    assert_no_secret(tmp_path, converged)
