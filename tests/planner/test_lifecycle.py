"""Lifecycle path helpers: ignoring paths and finding replacement triggers."""

from __future__ import annotations

from deployctl.planner.lifecycle import covers, keep_current, triggers, without
from deployctl.planner.plan import FieldChange


def test_a_path_covers_itself_and_everything_below() -> None:
    assert covers("config", "config.workers")
    assert covers("config.x", "config.x[0]")
    assert covers("flavor", "flavor")
    assert not covers("config.work", "config.workers")


def test_without_removes_nested_values_and_leaves_the_input_alone() -> None:
    record = {"model_uri": "m", "config": {"instance_count": 3, "size": "l"}}
    assert without(record, ["config.instance_count", "config.missing.deep"]) == {
        "model_uri": "m",
        "config": {"size": "l"},
    }
    assert record["config"] == {"instance_count": 3, "size": "l"}


def test_keep_current_takes_ignored_values_from_before() -> None:
    after = {"model_uri": "m2", "config": {"instance_count": 1, "size": "xl"}}
    before = {"model_uri": "m1", "config": {"instance_count": 5, "size": "l"}}
    assert keep_current(after, before, ["config.instance_count"]) == {
        "model_uri": "m2",
        "config": {"instance_count": 5, "size": "xl"},
    }
    assert keep_current(after, {"config": {}}, ["config.instance_count"]) == {
        "model_uri": "m2",
        "config": {"size": "xl"},
    }


def test_triggers_lists_changed_paths_under_replace_on() -> None:
    diff = [FieldChange("config.gpu.type", "a", "b"), FieldChange("model_uri", "m1", "m2")]
    assert triggers(diff, ["config.gpu", "flavor"]) == ["config.gpu.type"]
    assert triggers(diff, []) == []
