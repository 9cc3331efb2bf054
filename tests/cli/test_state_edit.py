"""``state mv``, ``state pull`` and ``state push`` through the console script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import manifest, run_cli, write_manifest

from deployctl.state.local import LocalStateBackend

DEPLOYMENTS = {
    "churn": {"model_uri": "models:/churn/3", "config": {"workers": 2}},
    "fraud": "models:/fraud/1",
}
LOCAL = {"uri": "local:.deployctl/dev", "deployments": DEPLOYMENTS}
MANIFEST = manifest(targets={"local": LOCAL})


def applied(tmp_path: Path) -> Path:
    """An applied dev environment; returns its state file."""
    write_manifest(tmp_path / "dev.yaml", MANIFEST)
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path)
    assert result.code == 0, result.err
    return tmp_path / "state" / "dev.json"


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def addresses(state_file: Path) -> list[str]:
    return [d["address"] for d in read(state_file)["deployments"]]


def hold_lock(state_file: Path) -> None:
    """Take the state's lock in this process, as a running apply would hold it."""
    LocalStateBackend(state_file).lock(operation="apply").__enter__()


# -- state mv ----------------------------------------------------------------------------------


def test_mv_renames_the_target_key_and_keeps_where_the_deployment_lives(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    before = {d["address"]: d for d in read(state_file)["deployments"]}["local/churn"]
    moved = run_cli("state", "mv", "local/churn", "primary/churn", "-e", "dev", cwd=tmp_path)
    assert moved.code == 0, moved.err
    assert "Moved local/churn to primary/churn" in moved.out
    assert addresses(state_file) == ["local/fraud", "primary/churn"]
    after = {d["address"]: d for d in read(state_file)["deployments"]}["primary/churn"]
    assert after == {**before, "address": "primary/churn", "target": "primary"}


def test_after_renaming_the_target_key_in_the_manifest_and_mv_the_plan_is_empty(
    tmp_path: Path,
) -> None:
    applied(tmp_path)
    write_manifest(tmp_path / "dev.yaml", manifest(targets={"primary": LOCAL}))
    for name in ("churn", "fraud"):
        result = run_cli(
            "state", "mv", f"local/{name}", f"primary/{name}", "-f", "dev.yaml", cwd=tmp_path
        )
        assert result.code == 0, result.err
    plan = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert plan.code == 0, plan.out + plan.err
    assert "No changes." in plan.out


def test_mv_refuses_to_change_the_name_on_the_target(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    before = state_file.read_bytes()
    result = run_cli("state", "mv", "local/churn", "local/churn2", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "'churn' is the deployment's name on target 'local'" in result.err
    assert "rename it in the manifest and apply" in result.err
    assert state_file.read_bytes() == before


def test_mv_refuses_a_missing_old_address(tmp_path: Path) -> None:
    applied(tmp_path)
    result = run_cli("state", "mv", "local/nope", "other/nope", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "local/nope is not in state/dev.json; nothing was moved" in result.err


def test_mv_refuses_a_new_address_already_in_state(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    document = read(state_file)
    churn = document["deployments"][0]
    document["deployments"].append({**churn, "address": "old/churn", "target": "old"})
    state_file.write_text(json.dumps(document))
    result = run_cli("state", "mv", "local/churn", "old/churn", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "old/churn is already in state/dev.json; nothing was moved" in result.err
    assert "'deployctl state rm old/churn' first" in result.err
    assert addresses(state_file) == ["local/churn", "local/fraud", "old/churn"]


def test_mv_to_the_same_address_is_refused(tmp_path: Path) -> None:
    applied(tmp_path)
    result = run_cli("state", "mv", "local/churn", "local/churn", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "nothing to move" in result.err


def test_mv_refuses_an_address_that_is_not_target_slash_name(tmp_path: Path) -> None:
    applied(tmp_path)
    result = run_cli("state", "mv", "local/churn", "churn", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "NEW: 'churn' is not an address of the form TARGET/NAME" in result.err


def test_mv_refuses_a_target_key_that_names_another_target(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    other = manifest(targets={"local": LOCAL, "elsewhere": "local:.deployctl/other"})
    write_manifest(tmp_path / "dev.yaml", other)
    before = state_file.read_bytes()
    result = run_cli(
        "state", "mv", "local/churn", "elsewhere/churn", "-f", "dev.yaml", cwd=tmp_path
    )
    assert result.code == 1
    assert "target 'elsewhere' is local:" in result.err
    assert "never moves a deployment between targets" in result.err
    assert state_file.read_bytes() == before


def test_mv_waits_for_the_lock_and_fails_when_it_is_held(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    hold_lock(state_file)
    result = run_cli(
        "state", "mv", "local/churn", "b/churn", "-e", "dev", "--lock-timeout", "0.2s", cwd=tmp_path
    )
    assert result.code == 1
    assert "timed out after 0.2s waiting for the lock" in result.err
    assert addresses(state_file) == ["local/churn", "local/fraud"]


# -- state pull --------------------------------------------------------------------------------


def test_pull_prints_the_state_exactly_as_stored(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    result = run_cli("state", "pull", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out == state_file.read_text()


def test_pull_folds_in_the_changes_a_crashed_run_journaled(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    serial = read(state_file)["serial"]
    session = LocalStateBackend(state_file).lock(operation="apply")
    session.forget("local/fraud")  # journaled, never committed: as a crash leaves it
    assert (tmp_path / "state" / "dev.json.journal").exists()
    result = run_cli("state", "pull", "--state", "state/dev.json", cwd=tmp_path)
    assert result.code == 0, result.err
    pulled = json.loads(result.out)
    assert [d["address"] for d in pulled["deployments"]] == ["local/churn"]
    assert pulled["serial"] == serial + 1
    assert addresses(state_file) == ["local/churn", "local/fraud"]  # pull wrote nothing


def test_pull_without_a_state_says_so(tmp_path: Path) -> None:
    result = run_cli("state", "pull", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "there is no state at state/dev.json" in result.err
    assert result.out == ""


# -- state push --------------------------------------------------------------------------------


def pulled(tmp_path: Path, name: str = "edited.json") -> tuple[Path, dict[str, Any]]:
    result = run_cli("state", "pull", "-e", "dev", cwd=tmp_path)
    assert result.code == 0, result.err
    return tmp_path / name, json.loads(result.out)


def test_push_of_an_edited_newer_serial_replaces_the_state(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    path, document = pulled(tmp_path)
    serial = document["serial"]
    document["deployments"] = document["deployments"][:1]
    document["serial"] = serial + 1
    path.write_text(json.dumps(document))
    result = run_cli("state", "push", "edited.json", "-e", "dev", cwd=tmp_path)
    assert result.code == 0, result.err
    written = read(state_file)
    assert [d["address"] for d in written["deployments"]] == ["local/churn"]
    assert written["lineage"] == document["lineage"]
    assert written["serial"] > serial
    assert written["serial"] >= document["serial"]
    assert (tmp_path / "state" / "dev.json.backup").exists()


def test_push_refuses_another_lineage_unless_forced(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    path, document = pulled(tmp_path)
    document["lineage"] = "00000000-0000-4000-8000-000000000000"
    document["serial"] += 1
    path.write_text(json.dumps(document))
    before = state_file.read_bytes()
    refused = run_cli("state", "push", "edited.json", "-e", "dev", cwd=tmp_path)
    assert refused.code == 1
    assert "is state lineage 00000000-0000-4000-8000-000000000000" in refused.err
    assert "pass --force" in refused.err
    assert state_file.read_bytes() == before
    forced = run_cli("state", "push", "edited.json", "-e", "dev", "--force", cwd=tmp_path)
    assert forced.code == 0, forced.err
    assert read(state_file)["lineage"] == "00000000-0000-4000-8000-000000000000"


def test_push_refuses_an_older_serial_unless_forced(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    path, old = pulled(tmp_path, "old.json")
    path.write_text(json.dumps(old))
    assert run_cli("state", "rm", "local/fraud", "-e", "dev", cwd=tmp_path).code == 0
    refused = run_cli("state", "push", "old.json", "-e", "dev", cwd=tmp_path)
    assert refused.code == 1
    assert f"old.json has serial {old['serial']}, older than state/dev.json" in refused.err
    assert addresses(state_file) == ["local/churn"]
    forced = run_cli("state", "push", "old.json", "-e", "dev", "--force", cwd=tmp_path)
    assert forced.code == 0, forced.err
    assert addresses(state_file) == ["local/churn", "local/fraud"]
    assert read(state_file)["serial"] > old["serial"] + 1


def test_push_refuses_the_same_serial_with_different_content(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    path, document = pulled(tmp_path)
    document["deployments"][0]["config"] = {"workers": 5}
    path.write_text(json.dumps(document))
    before = state_file.read_bytes()
    result = run_cli("state", "push", "edited.json", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "same serial as state/dev.json" in result.err
    assert "increase the 'serial'" in result.err
    assert state_file.read_bytes() == before


def test_pushing_the_current_state_back_writes_nothing(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    path, document = pulled(tmp_path)
    path.write_text(json.dumps(document))
    before = state_file.read_bytes()
    result = run_cli("state", "push", "edited.json", "-e", "dev", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "nothing was written" in result.out
    assert state_file.read_bytes() == before


def test_push_refuses_a_file_that_is_not_a_valid_state(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    before = state_file.read_bytes()
    path, document = pulled(tmp_path)
    del document["deployments"][0]["applied_at"]
    path.write_text(json.dumps(document))
    invalid = run_cli("state", "push", "edited.json", "-e", "dev", cwd=tmp_path)
    assert invalid.code == 1
    assert "edited.json" in invalid.err
    assert "nothing was written" in invalid.err
    (tmp_path / "junk.json").write_text("{not json")
    junk = run_cli("state", "push", "junk.json", "-e", "dev", cwd=tmp_path)
    assert junk.code == 1
    assert "junk.json is not JSON" in junk.err
    missing = run_cli("state", "push", "missing.json", "-e", "dev", cwd=tmp_path)
    assert missing.code == 1
    assert "cannot read missing.json" in missing.err
    assert state_file.read_bytes() == before
    assert "Traceback" not in invalid.err + junk.err + missing.err


def test_push_refuses_a_record_whose_address_disagrees_with_target_and_name(
    tmp_path: Path,
) -> None:
    applied(tmp_path)
    path, document = pulled(tmp_path)
    document["deployments"][0]["address"] = "local/other"
    document["serial"] += 1
    path.write_text(json.dumps(document))
    result = run_cli("state", "push", "edited.json", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "its address must be local/churn" in result.err


def test_push_refuses_another_environments_state_unless_forced(tmp_path: Path) -> None:
    applied(tmp_path)
    path, document = pulled(tmp_path)
    document["environment"] = "prod"
    document["serial"] += 1
    path.write_text(json.dumps(document))
    result = run_cli("state", "push", "edited.json", "-f", "dev.yaml", cwd=tmp_path)
    assert result.code == 1
    assert "the state of environment 'prod', but state/dev.json is environment 'dev'" in result.err


def test_push_creates_a_state_that_does_not_exist_yet(tmp_path: Path) -> None:
    applied(tmp_path)
    path, document = pulled(tmp_path)
    path.write_text(json.dumps(document))
    result = run_cli("state", "push", "edited.json", "--state", "copy/dev.json", cwd=tmp_path)
    assert result.code == 0, result.err
    copy = read(tmp_path / "copy" / "dev.json")
    assert copy["lineage"] == document["lineage"]
    assert copy["deployments"] == document["deployments"]


def test_push_waits_for_the_lock_and_fails_when_it_is_held(tmp_path: Path) -> None:
    state_file = applied(tmp_path)
    path, document = pulled(tmp_path)
    document["serial"] += 1
    path.write_text(json.dumps(document))
    hold_lock(state_file)
    result = run_cli(
        "state", "push", "edited.json", "-e", "dev", "--lock-timeout", "0.2s", cwd=tmp_path
    )
    assert result.code == 1
    assert "waiting for the lock" in result.err
