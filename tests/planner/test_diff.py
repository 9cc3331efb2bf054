"""Field-level differences as dotted paths."""

from __future__ import annotations

from deployctl.planner.diff import creation_diff, deletion_diff, dotted, field_diff


def rows(changes):  # type: ignore[no-untyped-def]
    return [(c.path, c.before, c.after, c.kind) for c in changes]


def test_equal_records_have_no_diff() -> None:
    assert field_diff({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2]}}) == ()


def test_nested_changes_are_dotted_paths_sorted() -> None:
    before = {"model_uri": "m/1", "config": {"workers": 1, "gone": True, "list": [1, 2]}}
    after = {"model_uri": "m/2", "config": {"workers": 2, "new": "x", "list": [1, 3]}}
    assert rows(field_diff(before, after)) == [
        ("config.gone", True, None, "removed"),
        ("config.list[1]", 2, 3, "changed"),
        ("config.new", None, "x", "added"),
        ("config.workers", 1, 2, "changed"),
        ("model_uri", "m/1", "m/2", "changed"),
    ]


def test_type_change_is_a_change() -> None:
    assert rows(field_diff({"config": {"w": 1}}, {"config": {"w": "1"}})) == [
        ("config.w", 1, "1", "changed")
    ]


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    assert rows(field_diff({"config": {}}, {"config": {"a.b": 1}})) == [
        ('config["a.b"]', None, 1, "added")
    ]


def test_create_and_delete_list_every_non_null_leaf() -> None:
    record = {"model_uri": "m", "flavor": None, "config": {"w": 1, "env": {"X": "1"}}}
    assert rows(creation_diff(record)) == [
        ("config.env.X", None, "1", "added"),
        ("config.w", None, 1, "added"),
        ("model_uri", None, "m", "added"),
    ]
    assert [r[0] for r in rows(deletion_diff(record))] == ["config.env.X", "config.w", "model_uri"]


def test_a_key_that_looks_like_an_index_is_still_a_key() -> None:
    assert rows(field_diff({"config": {"0": 1}}, {"config": {"0": 2}})) == [
        ('config["0"]', 1, 2, "changed")
    ]


def test_keys_with_quotes_and_brackets_keep_their_text() -> None:
    before = {"config": {"it's": 1, 'say "hi"': 1, "a[0]": 1}}
    after = {"config": {"it's": 2, 'say "hi"': 2, "a[0]": 2}}
    assert [r[0] for r in rows(field_diff(before, after))] == [
        'config["a[0]"]',
        'config["it\'s"]',
        'config["say "hi""]',
    ]


def test_list_items_added_and_removed_are_indexed_under_their_key() -> None:
    before = {"config": {"env": [{"name": "A"}, {"name": "B"}]}}
    after = {"config": {"env": [{"name": "A", "value": "1"}]}}
    assert rows(field_diff(before, after)) == [
        ("config.env[0].value", None, "1", "added"),
        ("config.env[1]", {"name": "B"}, None, "removed"),
    ]


def test_dotted_joins_keys_and_indices() -> None:
    assert dotted(["config", "env", 0, "name"]) == "config.env[0].name"
    assert dotted(["config", "a.b"]) == 'config["a.b"]'
    assert dotted([]) == ""
