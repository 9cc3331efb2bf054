"""show PLANFILE, plan --markdown and apply/destroy --json, end to end (the console script)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from support import manifest, run_cli, write_manifest

from deployctl.targets.local import LocalDeploymentClient

DEFAULTS = {"config": {"workers": 1}}
CHURN = {"model_uri": "models:/churn/3", "config": {"workers": 2, "cmd": "a|b`c"}}
MANIFEST = manifest({"churn": CHURN, "fraud": "models:/fraud/7"}, defaults=DEFAULTS)
SAVED = "Saved the plan to plan.json; apply it with: deployctl apply plan.json"


def setup(tmp_path: Path, text: str = MANIFEST) -> Path:
    return write_manifest(tmp_path / "dev.yaml", text)


def client(tmp_path: Path) -> LocalDeploymentClient:
    return LocalDeploymentClient(f"local:{tmp_path / '.deployctl' / 'dev'}")


def with_changes_of_every_kind(tmp_path: Path) -> None:
    """Applied state, then a manifest that updates churn, deletes fraud and ignores a stray."""
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    client(tmp_path).create_deployment("stray", "models:/x/1")
    setup(
        tmp_path,
        manifest({"churn": {**CHURN, "model_uri": "models:/churn/4"}}, defaults=DEFAULTS),
    )


def json_lines(text: str) -> list[dict[str, object]]:
    assert text.endswith("\n"), text
    events = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(e, dict) and "type" in e for e in events)
    return events


# -- show -----------------------------------------------------------------------------------------
def test_show_renders_exactly_what_plan_printed_in_every_format(tmp_path: Path) -> None:
    with_changes_of_every_kind(tmp_path)
    human = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path)
    assert human.code == 0, human.err
    assert human.out.endswith(f"\n{SAVED}\n")
    assert "~ update local/churn" in human.out and "- delete local/fraud" in human.out
    shown = run_cli("show", "plan.json", cwd=tmp_path)
    assert shown.code == 0, shown.err
    assert shown.out == human.out.removesuffix(f"\n{SAVED}\n")
    assert shown.err == ""

    as_json = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", "--json", cwd=tmp_path)
    shown_json = run_cli("show", "plan.json", "--json", cwd=tmp_path)
    assert shown_json.code == 0, shown_json.err
    assert shown_json.out == as_json.out
    assert json.loads(shown_json.out) == json.loads((tmp_path / "plan.json").read_text())

    as_md = run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", "--markdown", cwd=tmp_path)
    assert as_md.code == 0, as_md.err
    assert SAVED in as_md.err  # stdout is the comment only
    shown_md = run_cli("show", "plan.json", "--markdown", cwd=tmp_path)
    assert shown_md.code == 0, shown_md.err
    assert shown_md.out == as_md.out
    assert shown_md.err == ""


def test_show_touches_no_target_state_or_manifest(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    data = json.loads((tmp_path / "plan.json").read_text())
    for item in data["resource_changes"]:
        item["target_uri"] = "nosuchplugin:/anywhere"  # would fail if anything loaded it
    data["state"]["path"] = "missing/state.json"
    data["manifest"]["path"] = "missing.yaml"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    (tmp_path / "dev.yaml").unlink()
    result = run_cli("show", "plan.json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "+ create local/churn" in result.out
    assert "Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged." in result.out
    assert not (tmp_path / "missing").exists()
    assert not (tmp_path / "state").exists()


def test_show_of_a_missing_corrupt_or_foreign_plan_file_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "corrupt.json").write_text('{"format_version": "1.0", ')
    (tmp_path / "foreign.json").write_text('{"hello": "world"}')
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "old.json").write_text('{"format_version": "0.1", "resource_changes": []}')
    (tmp_path / "malformed.json").write_text(
        '{"format_version": "1.0", "environment": "dev", "resource_changes": [{"x": 1}]}'
    )
    expected = {
        "nope.json": "Error: nope.json: cannot read the plan file: No such file or directory",
        "corrupt.json": "Error: corrupt.json:1:",
        "foreign.json": "Error: foreign.json is not a deployctl plan",
        "binary.json": "Error: binary.json: not a JSON plan file",
        "old.json": "Error: old.json has plan format '0.1'",
        "malformed.json": "Error: malformed.json is malformed",
    }
    for name, start in expected.items():
        for extra in ([], ["--json"], ["--markdown"]):
            result = run_cli("show", name, *extra, cwd=tmp_path)
            assert result.code == 1, (name, result.err)
            assert result.out == ""
            assert len(result.err.strip().splitlines()) == 1, result.err
            assert result.err.startswith(start), result.err
            assert "Traceback" not in result.err


def test_show_json_and_markdown_are_exclusive(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    for command in (["show", "plan.json"], ["plan", "-f", "dev.yaml"]):
        result = run_cli(*command, "--json", "--markdown", cwd=tmp_path)
        assert result.code == 1
        assert "not allowed with argument" in result.err


# -- plan --markdown ------------------------------------------------------------------------------
def test_plan_markdown_is_a_pr_comment(tmp_path: Path) -> None:
    with_changes_of_every_kind(tmp_path)
    result = run_cli("plan", "-f", "dev.yaml", "--markdown", cwd=tmp_path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:2] == ["<!-- deployctl plan: dev -->", "### deployctl plan for `dev`"]
    assert "**Plan:** 0 to create, 1 to update, 1 to delete, 0 unchanged." in lines
    assert "| `local/churn` | 🟡 update | the manifest differs from the last applied version |" in (
        lines
    )
    assert "| `local/fraud` | 🔴 delete | no longer in the manifest |" in lines
    assert "<details><summary>local/churn (update)</summary>" in lines
    assert '| `model_uri` | `"models:/churn/3"` | `"models:/churn/4"` |' in lines
    assert "**Not managed by deployctl** (left untouched): `local/stray`" in lines
    assert "Reading 1 target(s)" in result.err  # progress stays on stderr


def test_plan_markdown_escapes_values_and_says_no_changes(tmp_path: Path) -> None:
    setup(tmp_path)
    first = run_cli("plan", "-f", "dev.yaml", "--markdown", cwd=tmp_path)
    assert '| `config.cmd` | *(absent)* | ``"a\\|b`c"`` |' in first.out.splitlines()
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    again = run_cli("plan", "-f", "dev.yaml", "--markdown", "--detailed-exitcode", cwd=tmp_path)
    assert again.code == 0, again.err
    assert "No changes." in again.out
    assert "**Plan:** 0 to create, 0 to update, 0 to delete, 2 unchanged." in again.out
    assert "<details>" not in again.out


def test_destroy_plans_are_marked_in_markdown(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    result = run_cli("plan", "-f", "dev.yaml", "--destroy", "--markdown", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "### deployctl destroy plan for `dev`" in result.out
    assert "**Destroy plan:**" in result.out
    assert "**Plan:** 0 to create, 0 to update, 2 to delete, 0 unchanged." in result.out


# -- apply --json ---------------------------------------------------------------------------------
def test_apply_json_writes_only_json_event_lines(tmp_path: Path) -> None:
    setup(tmp_path)
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.err == ""
    events = json_lines(result.out)
    types = [str(e["type"]) for e in events]
    # Reading the targets, the plan, "Applying 2 change(s)", the actions, the summary.
    plan_part = ["diagnostic", "planned_change", "planned_change", "plan_summary", "diagnostic"]
    assert types[:5] == plan_part
    assert sorted(types[5:-1]) == ["apply_complete"] * 2 + ["apply_start"] * 2
    assert types[-1] == "change_summary"
    by_address: dict[object, list[str]] = {}
    for event in events:
        if str(event["type"]).startswith("apply_"):
            assert event["action"] == "create"
            by_address.setdefault(event["address"], []).append(str(event["type"]))
    assert by_address == {
        "local/churn": ["apply_start", "apply_complete"],
        "local/fraud": ["apply_start", "apply_complete"],
    }
    for event in events:
        if event["type"] == "apply_complete":
            assert isinstance(event["elapsed_seconds"], float)
        if event["type"] == "apply_start":
            assert str(event["timestamp"]).endswith("Z")
    summary = events[-1]
    assert (summary["create"], summary["update"], summary["delete"], summary["failed"]) == (
        2,
        0,
        0,
        0,
    )
    assert summary["interrupted"] is False
    assert isinstance(summary["elapsed_seconds"], float)
    assert [d["name"] for d in client(tmp_path).list_deployments()] == ["churn", "fraud"]

    again = run_cli("apply", "-f", "dev.yaml", "--auto-approve", "--json", cwd=tmp_path)
    assert again.code == 0, again.err
    quiet = json_lines(again.out)
    assert [e["type"] for e in quiet] == ["diagnostic", "plan_summary", "change_summary"]
    assert quiet[1]["unchanged"] == 2
    assert (quiet[2]["create"], quiet[2]["failed"]) == (0, 0)


def test_apply_json_reports_a_failed_action_and_exits_1(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    target = tmp_path / "target"
    deployments = {n: f"m:/{n}" for n in "abc"}
    write_manifest(
        tmp_path / "dev.yaml",
        manifest(targets={"t": {"uri": f"seedtest:{target}", "deployments": deployments}}),
    )
    test_plugins.write_faults(target, {"fail": {"create_deployment": ["b"]}})
    result = run_cli("apply", "-f", "dev.yaml", "--auto-approve", "--json", cwd=tmp_path)
    assert result.code == 1, result.err
    events = json_lines(result.out)
    finished = {e["address"]: e for e in events if e["type"] in {"apply_complete", "apply_errored"}}
    assert {a: e["type"] for a, e in finished.items()} == {
        "t/a": "apply_complete",
        "t/b": "apply_errored",
        "t/c": "apply_complete",
    }
    errored = finished["t/b"]
    assert errored["action"] == "create"
    assert "InjectedFault" in str(errored["error"])
    assert errored["@level"] == "error"
    summary = events[-1]
    assert summary["type"] == "change_summary"
    assert (summary["create"], summary["failed"]) == (2, 1)


def test_apply_json_without_auto_approve_refuses_before_touching_anything(tmp_path: Path) -> None:
    setup(tmp_path)
    for command in ("apply", "destroy"):
        result = run_cli(command, "-f", "dev.yaml", "--json", cwd=tmp_path)
        assert result.code == 1
        assert "pass --auto-approve" in result.err
        assert result.err.startswith("Error: --json output cannot ask for confirmation")
        (event,) = json_lines(result.out)
        assert (event["type"], event["severity"]) == ("diagnostic", "error")
        assert "pass --auto-approve" in str(event["message"])
    assert client(tmp_path).list_deployments() == []
    assert not (tmp_path / "state").exists()


def test_apply_json_of_a_saved_plan_needs_no_approval(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("plan", "-f", "dev.yaml", "--out", "plan.json", cwd=tmp_path).code == 0
    result = run_cli("apply", "plan.json", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    events = json_lines(result.out)
    assert events[-1]["type"] == "change_summary"
    assert events[-1]["create"] == 2
    stale = run_cli("apply", "plan.json", "--json", cwd=tmp_path)
    assert stale.code == 1
    (event,) = [e for e in json_lines(stale.out) if e.get("severity") == "error"]
    assert "the saved plan was made for state lineage" in str(event["message"])


def test_destroy_json_emits_delete_events(tmp_path: Path) -> None:
    setup(tmp_path)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    result = run_cli("destroy", "-f", "dev.yaml", "--auto-approve", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    events = json_lines(result.out)
    planned = [e for e in events if e["type"] == "planned_change"]
    assert [(e["address"], e["action"]) for e in planned] == [
        ("local/churn", "delete"),
        ("local/fraud", "delete"),
    ]
    (plan_summary,) = [e for e in events if e["type"] == "plan_summary"]
    assert plan_summary["destroy"] is True
    assert events[-1]["type"] == "change_summary"
    assert events[-1]["delete"] == 2
    assert client(tmp_path).list_deployments() == []
