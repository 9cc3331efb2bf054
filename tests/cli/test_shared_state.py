"""State where the team works, through the CLI on each backend: where it is, stale plans, history.

Each test runs against a local file, a PostgreSQL database and an S3 prefix in turn
(``state_backends``), in this process (``run_cli``); what needs real processes (locks held by
another run, ``kill -9``, fresh checkouts in fresh interpreters) is in
``test_shared_state_processes.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from state_backends import (  # noqa: F401  (fixtures)
    SharedState,
    pg_server_fixture,
    s3_server_fixture,
    state_backend_fixture,
    team_manifest,
)
from support import Result, manifest, run_cli, write_manifest

CHURN_AND_FRAUD = {"churn": "models:/churn/3", "fraud": "models:/fraud/1"}


def apply(cwd: Path, state: SharedState, *args: str) -> Result:
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", *args, cwd=cwd, env=state.env)
    assert result.code == 0, result.err
    return result


def test_a_plan_made_before_someone_else_applied_is_refused(
    tmp_path: Path, state_backend: SharedState
) -> None:
    env = state_backend.env
    text = team_manifest(state_backend, tmp_path / "target")
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    for checkout in (mine, theirs):
        write_manifest(checkout / "dev.yaml", text)

    # Planned against no state; someone else creates it meanwhile.
    planned = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=mine, env=env)
    assert planned.code == 0, planned.err
    apply(theirs, state_backend)
    stale = run_cli("apply", "plan.json", cwd=mine, env=env)
    assert stale.code == 1
    assert "the saved plan was made for state lineage None" in stale.err

    # Planned at serial 1; someone else commits serial 2 meanwhile.
    for checkout in (mine, theirs):
        write_manifest(checkout / "dev.yaml", text.replace("churn/3", "churn/4"))
    planned = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=mine, env=env)
    assert planned.code == 0, planned.err
    apply(theirs, state_backend)
    stale = run_cli("apply", "plan.json", cwd=mine, env=env)
    assert stale.code == 1
    assert "the state changed since the plan was made (serial 1 then, 2 now)" in stale.err
    assert "Traceback" not in stale.err

    history = run_cli("state", "history", "-f", "dev.yaml", "--json", cwd=mine, env=env)
    assert [entry["serial"] for entry in json.loads(history.out)] == [1, 2]
    converged = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=mine, env=env)
    assert converged.code == 0, converged.err


def test_history_lists_every_version_and_rollback_commits_an_old_one_as_new(
    tmp_path: Path, state_backend: SharedState
) -> None:
    env, target = state_backend.env, tmp_path / "target"
    versions = [
        CHURN_AND_FRAUD,
        {**CHURN_AND_FRAUD, "churn": "models:/churn/4"},
        {"churn": "models:/churn/4"},
    ]
    for deployments in versions:
        write_manifest(tmp_path / "dev.yaml", team_manifest(state_backend, target, deployments))
        apply(tmp_path, state_backend)

    history = run_cli("state", "history", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert history.code == 0, history.err
    header, *rows = history.out.splitlines()
    assert header.split() == ["SERIAL", "CREATED", "USER", "HOST", "COMMAND", "CHANGES"]
    assert [(row.split()[0], row.split()[4], row.split(maxsplit=5)[5]) for row in rows] == [
        ("1", "apply", "+2 ~0 -0"),
        ("2", "apply", "+0 ~1 -0"),
        ("3", "apply", "+0 ~0 -1"),
    ]

    first = run_cli("state", "pull", "--serial", "1", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert first.code == 0, first.err
    document = json.loads(first.out)
    assert document["serial"] == 1
    assert {d["address"]: d["model_uri"] for d in document["deployments"]} == {
        "team/churn": "models:/churn/3",
        "team/fraud": "models:/fraud/1",
    }

    rolled = run_cli("state", "rollback", "--serial", "1", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert rolled.code == 0, rolled.err
    assert "back to the content of serial 1, as serial 4" in rolled.out
    current = json.loads(run_cli("state", "pull", "-f", "dev.yaml", cwd=tmp_path, env=env).out)
    assert current["serial"] == 4
    assert current["lineage"] == document["lineage"]
    assert current["deployments"] == document["deployments"]
    entries = json.loads(
        run_cli("state", "history", "--json", "-f", "dev.yaml", cwd=tmp_path, env=env).out
    )
    assert [(e["serial"], e["summary"]) for e in entries][-1] == (4, "+1 ~1 -0")
    assert entries[-1]["command"] == "state rollback --serial 1"
    # The state went back, the targets did not: the plan shows the difference.
    drifted = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path, env=env)
    assert drifted.code == 2, drifted.err


@pytest.mark.parametrize("state_backend", ["postgres", "s3"], indirect=True)
def test_a_local_state_migrated_to_a_shared_backend_plans_no_changes_from_there(
    tmp_path: Path, state_backend: SharedState
) -> None:
    target = tmp_path / "target"
    write_manifest(tmp_path / "dev.yaml", team_manifest(None, target, CHURN_AND_FRAUD))
    apply(tmp_path, state_backend)
    write_manifest(tmp_path / "dev.yaml", team_manifest(None, target, {"churn": "models:/c/4"}))
    apply(tmp_path, state_backend)
    local = json.loads((tmp_path / "state" / "dev.json").read_text())

    migrated = run_cli(
        "state", "migrate", "-f", "dev.yaml", "--to", state_backend.location,
        cwd=tmp_path, env=state_backend.env,
    )  # fmt: skip
    assert migrated.code == 0, migrated.err
    assert (
        f"Migrated state/dev.json to {state_backend.location}: lineage {local['lineage']}, "
        "serial 2, 2 version(s) copied." in migrated.out
    )

    declared = team_manifest(state_backend, target, {"churn": "models:/c/4"})
    write_manifest(tmp_path / "dev.yaml", declared)
    plan = run_cli(
        "plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path, env=state_backend.env
    )
    assert plan.code == 0, plan.err
    assert f"State: {state_backend.location} (state: in dev.yaml:" in plan.err
    history = run_cli(
        "state", "history", "--json", "-f", "dev.yaml", cwd=tmp_path, env=state_backend.env
    )
    assert [(e["serial"], e["summary"]) for e in json.loads(history.out)] == [
        (1, "+2 ~0 -0"),
        (2, "+0 ~1 -1"),
    ]
    # Another state (another lineage) is never migrated over it.
    other = tmp_path / "other"
    write_manifest(other / "dev.yaml", team_manifest(None, tmp_path / "other-target"))
    apply(other, state_backend)
    refused = run_cli(
        "state", "migrate", "-f", "dev.yaml", "--to", state_backend.location,
        cwd=other, env=state_backend.env,
    )  # fmt: skip
    assert refused.code == 1
    assert f"lineage {local['lineage']}" in refused.err


def test_state_option_and_environment_variable_override_the_manifest(
    tmp_path: Path, state_backend: SharedState
) -> None:
    declared, chosen = state_backend.sibling("declared"), state_backend.sibling("chosen")
    write_manifest(tmp_path / "dev.yaml", team_manifest(declared, tmp_path / "target"))
    env = state_backend.env

    applied = apply(tmp_path, state_backend, "--state", chosen.location)
    assert "1 created" in applied.out
    by_variable = run_cli(
        "plan", "-f", "dev.yaml", "--detailed-exitcode",
        cwd=tmp_path, env={**env, "DEPLOYCTL_STATE": chosen.location},
    )  # fmt: skip
    assert by_variable.code == 0, by_variable.err
    assert f"State: {chosen.shown(tmp_path)} (DEPLOYCTL_STATE)" in by_variable.err
    by_option = run_cli(
        "plan", "-f", "dev.yaml", "--detailed-exitcode", "--state", chosen.location,
        cwd=tmp_path, env={**env, "DEPLOYCTL_STATE": declared.location},
    )  # fmt: skip
    assert by_option.code == 0, by_option.err
    assert f"State: {chosen.shown(tmp_path)} (--state)" in by_option.err

    # The manifest's own state was never written: there the deployment is not managed.
    by_manifest = run_cli("plan", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert by_manifest.code == 1
    assert f"State: {declared.shown(tmp_path)} (state: in dev.yaml:" in by_manifest.err
    assert "team/churn already exists on target 'team' but is not managed" in by_manifest.err
    listed = run_cli("state", "list", "-f", "dev.yaml", cwd=tmp_path, env=env)
    assert listed.code == 1
    assert f"there is no state at {declared.shown(tmp_path)}" in listed.err


def test_read_only_commands_on_a_state_that_does_not_exist_exit_1(
    tmp_path: Path, state_backend: SharedState
) -> None:
    where = ["--state", state_backend.location, "-e", "dev"]
    commands = (["list"], ["show", "team/churn"], ["history"], ["pull"], ["pull", "--serial", "1"])
    for command in commands:
        result = run_cli("state", *command, *where, cwd=tmp_path, env=state_backend.env)
        assert result.code == 1, command
        shown = state_backend.shown(tmp_path)
        assert f"there is no state at {shown} (from --state)" in result.err
        assert "Traceback" not in result.err
    if state_backend.kind == "local":
        assert not Path(state_backend.location).parent.exists()


def test_a_state_url_no_backend_handles_is_an_error_naming_the_schemes(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest())
    write_manifest(tmp_path / "declared.yaml", manifest() + 'state:\n  url: "foo://x"\n')
    runs = {
        "--state": run_cli("plan", "-f", "dev.yaml", "--state", "foo://x", cwd=tmp_path),
        "DEPLOYCTL_STATE": run_cli(
            "state", "list", "-e", "dev", cwd=tmp_path, env={"DEPLOYCTL_STATE": "foo://x"}
        ),
        "state: in declared.yaml": run_cli("plan", "-f", "declared.yaml", cwd=tmp_path),
    }
    for origin, result in runs.items():
        assert result.code == 1, origin
        assert f"state foo://x (from {origin}" in result.err
        assert "no state backend handles 'foo://' URLs" in result.err
        for scheme in ("postgresql://", "s3://", "file://"):
            assert scheme in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["declared.yaml", "dev.yaml"]


def test_a_manifest_run_from_another_directory_uses_the_state_next_to_it(tmp_path: Path) -> None:
    target = tmp_path / "target"
    write_manifest(tmp_path / "team" / "sub" / "dev.yaml", team_manifest(None, target))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    applied = run_cli("apply", "-f", "team/sub/dev.yaml", "--auto-approve", cwd=tmp_path)
    assert applied.code == 0, applied.err
    assert (tmp_path / "team" / "sub" / "state" / "dev.json").is_file()
    plan = run_cli("plan", "-f", "../team/sub/dev.yaml", "--detailed-exitcode", cwd=elsewhere)
    assert plan.code == 0, plan.err
    assert "State: " + str(tmp_path / "team" / "sub" / "state" / "dev.json") in plan.err
    inside = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path / "team" / "sub")
    assert inside.code == 0, inside.err
    assert "State: state/dev.json (the default)" in inside.err
    listed = run_cli("state", "list", "-f", "team/sub/dev.yaml", cwd=tmp_path)
    assert listed.out.split() == ["team/churn"]
    # No second, empty state anywhere else.
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("state")] == ["team/sub/state"]


@pytest.mark.parametrize("state_backend", ["postgres"], indirect=True)
def test_a_password_in_a_state_url_never_appears_in_any_output(
    tmp_path: Path, state_backend: SharedState
) -> None:
    secret = "pa55-word-never-shown"
    # The test server trusts local connections: the password is accepted and ignored.
    with_password = state_backend.location.replace("postgres@", f"postgres:{secret}@", 1)
    in_query = f"{state_backend.location}?password={secret}"
    assert with_password != state_backend.location
    write_manifest(tmp_path / "dev.yaml", team_manifest(None, tmp_path / "target"))
    option = ["-f", "dev.yaml", "--state", with_password]
    runs = [
        run_cli("apply", "--auto-approve", *option, cwd=tmp_path),
        run_cli("plan", *option, cwd=tmp_path),
        run_cli("plan", "-f", "dev.yaml", "--state", in_query, cwd=tmp_path),
        run_cli("plan", "--out", "plan.json", *option, cwd=tmp_path),
        run_cli("show", "plan.json", cwd=tmp_path),
        run_cli("state", "list", *option, cwd=tmp_path),
        run_cli("state", "history", *option, cwd=tmp_path),
        run_cli("state", "pull", *option, cwd=tmp_path),
        run_cli("state", "migrate", *option, "--to", f"{with_password}?schema=moved",
                cwd=tmp_path),
        # Errors: a state that does not exist, a database that does not exist.
        run_cli("state", "list", "-e", "dev", "--state", f"{with_password}?schema=none",
                cwd=tmp_path),
        run_cli("state", "list", "-e", "dev", "--state",
                with_password.rsplit("/", 1)[0] + "/no_such_database", cwd=tmp_path),
    ]  # fmt: skip
    assert [r.code for r in runs] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert "State: " + state_backend.location in runs[1].err
    assert f"Migrated {state_backend.location} to {state_backend.location}?schema=moved" in (
        runs[8].out
    )

    from deployctl.state.postgres import PostgresStateBackend

    # A lock held by another run: the message names the holder and the state, not the password.
    with PostgresStateBackend(state_backend.location, "dev").lock(operation="apply"):
        runs.append(run_cli("apply", "--auto-approve", *option, cwd=tmp_path))
        runs.append(run_cli("state", "rm", "team/churn", *option, cwd=tmp_path))
        runs.append(run_cli("force-unlock", "-e", "dev", "--state", with_password, cwd=tmp_path))
    assert [r.code for r in runs[-3:]] == [1, 1, 1]
    assert "locked by apply" in runs[-3].err

    for result in runs:
        assert secret not in result.out + result.err
    assert secret not in (tmp_path / "plan.json").read_text()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:hidden@db:port/x", "is not a valid URL: Port could not be cast"),
        ("postgresql://u:hidden@[::1/x", "is not a valid URL: Invalid IPv6 URL"),
        ("s3://KEY:hidden@bucket/team/", "credentials do not belong in an s3:// URL"),
        ("file://state/dev.json", "'state' would be read as a host name"),
    ],
)
def test_a_state_url_that_cannot_work_is_a_usage_error_without_its_secret(
    tmp_path: Path, url: str, message: str
) -> None:
    result = run_cli("state", "list", "-e", "dev", "--state", url, cwd=tmp_path)
    assert result.code == 1
    assert message in result.err
    assert "hidden" not in result.err
    assert "crashed" not in result.err
