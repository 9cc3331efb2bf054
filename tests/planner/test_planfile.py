"""Saved plan files: written atomically, read back exactly, refused with one line when broken."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deployctl.errors import PlanFileError
from deployctl.model import DeploymentSpec
from deployctl.model.calls import CallPolicy
from deployctl.planner.plan import (
    Action,
    ActionReason,
    FieldChange,
    Plan,
    ResourceChange,
    UnmanagedDeployment,
)
from deployctl.planner.planfile import plan_json, read_plan, write_plan

OLD = DeploymentSpec("models:/churn/3", "python_function", {"workers": 1})
NEW = DeploymentSpec("models:/churn/4", "python_function", {"workers": 2})


def sample_plan() -> Plan:
    update = ResourceChange(
        "local",
        "churn",
        "local:/srv/dev",
        Action.UPDATE,
        "the manifest differs from the last applied version",
        ActionReason.UPDATE_BECAUSE_MANIFEST_CHANGED,
        before=OLD,
        after=NEW,
        diff=(FieldChange("config.workers", 1, 2), FieldChange("model_uri", "m:/3", "m:/4")),
        live_fingerprint="sha256:" + "a" * 64,
    )
    create = ResourceChange(
        "local",
        "fraud",
        "local:/srv/dev",
        Action.CREATE,
        "not yet on the target",
        ActionReason.CREATE_BECAUSE_NEW,
        after=NEW,
    )
    return Plan(
        environment="dev",
        changes=(update, create),
        unmanaged=(UnmanagedDeployment("local", "stray"),),
        targets=("local",),
        target_fields={"local": {"name": "Name"}},
        target_calls={"local": CallPolicy(read_timeout=60.0, write_timeout=1800.0, attempts=5)},
        manifest_path="dev.yaml",
        manifest_sha256="0" * 64,
        state_path="state/dev.json",
        state_lineage="lineage-1",
        state_serial=3,
        created_at="2026-01-01T00:00:00.000000Z",
    )


def saved(tmp_path: Path, edit: Any = None) -> Path:
    """``sample_plan`` written to a file, after ``edit(document)`` when given."""
    data = sample_plan().to_json()
    if edit is not None:
        edit(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(PlanFileError) as caught:
        read_plan(str(path))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_written_plan_reads_back_equal_with_typed_specs(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), str(path))
    again = read_plan(str(path))
    assert again == sample_plan()
    assert again.changes[0].before == OLD and again.changes[0].desired == NEW


def test_the_file_holds_exactly_the_plan_json_document(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), str(path))
    assert path.read_text(encoding="utf-8") == plan_json(sample_plan())
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary left behind


def test_writing_replaces_an_older_plan_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    older = replace(sample_plan(), environment="older")
    write_plan(older, str(path))
    write_plan(sample_plan(), str(path))
    assert read_plan(str(path)) == sample_plan()


@pytest.mark.parametrize(
    "content",
    [
        "version: 1\nenvironment: dev\ntargets: {}\n",  # a manifest
        '{"format_version": 1, "lineage": "x", "serial": 3, "deployments": []}\n',  # a state
        '{"journal": 1, "lineage": "x", "base_serial": 7}\n{"op": "forget"}\n',  # a journal
        "",
    ],
)
def test_writing_refuses_to_overwrite_a_file_that_is_not_a_plan(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "dev.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PlanFileError, match="exists and is not a saved plan; refusing"):
        write_plan(sample_plan(), str(path))
    assert path.read_text(encoding="utf-8") == content


def test_writing_creates_no_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "prod.plan.json"
    with pytest.raises(PlanFileError, match=r"plans does not exist"):
        write_plan(sample_plan(), str(target))
    assert not (tmp_path / "plans").exists()


def test_an_unwritable_destination_is_a_plan_file_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    target = tmp_path / "blocker" / "plan.json"
    with pytest.raises(PlanFileError, match=r"^--out .*blocker/plan\.json: cannot write"):
        write_plan(sample_plan(), str(target))


def test_nan_and_deep_nesting_in_a_plan_file_are_clean_errors(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"resource_changes": [], "x": NaN}', encoding="utf-8")
    with pytest.raises(PlanFileError, match="NaN is not a JSON number"):
        read_plan(str(path))
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(PlanFileError, match="nested too deeply"):
        read_plan(str(path))


def test_a_schema_invalid_plan_names_the_file_and_the_field(tmp_path: Path) -> None:
    def wrong_type(data: Any) -> None:
        data["resource_changes"][0]["change"]["after"]["model_uri"] = 3

    message = refusal(saved(tmp_path, wrong_type))
    assert message.startswith(f"{tmp_path / 'plan.json'} is malformed: ")
    assert "at resource_changes[0].change.after.model_uri: 3 is not of type 'string', 'object'" in (
        message
    )
    assert "deployctl plan --out" in message  # the fix


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    message = refusal(saved(tmp_path, lambda data: data.pop("summary")))
    assert "at the top level: 'summary' is a required property" in message


def test_an_unknown_action_is_named_at_its_path(tmp_path: Path) -> None:
    def explode(data: Any) -> None:
        data["resource_changes"][1]["change"]["actions"] = ["explode"]

    assert "at resource_changes[1].change.actions[0]: 'explode'" in refusal(
        saved(tmp_path, explode)
    )


def test_a_long_wrong_value_is_shortened_to_keep_the_line_readable(tmp_path: Path) -> None:
    def huge(data: Any) -> None:
        data["resource_changes"][0]["change"]["after"]["config"] = "x" * 5000 + "\nmore"

    message = refusal(saved(tmp_path, huge))
    assert "at resource_changes[0].change.after.config: 'xxx" in message
    assert "... is not of type 'object'" in message
    assert len(message) < 400


def test_a_file_that_is_not_json_is_refused_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"format_version": "1.0", ', encoding="utf-8")
    assert refusal(path).startswith(f"{path}:1:")


def test_a_binary_file_is_refused_as_not_text(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert refusal(path) == f"{path}: not a JSON plan file: it is not UTF-8 text"


def test_an_unreadable_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert refusal(missing) == f"{missing}: cannot read the plan file: No such file or directory"
    assert refusal(tmp_path) == f"{tmp_path}: cannot read the plan file: Is a directory"


def test_json_that_is_not_a_plan_is_refused_before_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"hello": "world"}', encoding="utf-8")
    assert refusal(path) == f"{path} is not a deployctl plan (no 'resource_changes')"


def test_a_plan_of_another_format_version_says_to_make_it_again(tmp_path: Path) -> None:
    message = refusal(saved(tmp_path, lambda data: data.update(format_version="9.9")))
    assert "has plan format '9.9'; this deployctl reads '1.0'" in message
    assert "make the plan again" in message


def test_each_targets_timeout_and_retry_are_saved_in_seconds(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(sample_plan(), str(path))
    saved_calls = json.loads(path.read_text(encoding="utf-8"))["target_calls"]
    assert saved_calls == {
        "local": {
            "timeout": {"read": 60.0, "write": 1800.0},
            "retry": {"attempts": 5, "backoff": 2.0},
        }
    }
    assert read_plan(str(path)).target_calls["local"].write_timeout == 1800.0


def test_a_saved_call_policy_out_of_range_is_refused(tmp_path: Path) -> None:
    def zero_attempts(data: Any) -> None:
        data["target_calls"]["local"]["retry"]["attempts"] = 0

    assert "at target_calls.local.retry.attempts: 0 is less than the minimum of 1" in refusal(
        saved(tmp_path, zero_attempts)
    )


def test_a_plan_without_target_calls_uses_the_defaults(tmp_path: Path) -> None:
    plan = read_plan(str(saved(tmp_path, lambda data: data.pop("target_calls"))))
    assert plan.target_calls == {}
