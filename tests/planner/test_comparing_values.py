"""``json_equal``: the planner's comparison, the same answer as comparing canonical JSON."""

from __future__ import annotations

import pytest

from deployctl.model import JSONValue, canonical_json, json_equal

PAIRS: list[tuple[JSONValue, JSONValue]] = [
    ("models:/a/1", "models:/a/1"),
    ("models:/a/1", "models:/a/2"),
    (1, 1.0),
    (1, True),
    (0, False),
    (None, {}),
    ({}, {}),
    ([], {}),
    ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}),
    ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [2, 1]}),
    ({"a": {"b": 1}}, {"a": {"b": 1.0}}),
    ({"a": None}, {}),
    ({"$sensitive": "hmac-sha256:x"}, {"$sensitive": "hmac-sha256:x"}),
    (float("nan"), float("nan")),
    ([1, [2, {"c": "é"}]], [1, [2, {"c": "é"}]]),
]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_values_are_equal_exactly_when_their_canonical_json_is(a: JSONValue, b: JSONValue) -> None:
    expected = canonical_json(a) == canonical_json(b)
    assert json_equal(a, b) is expected
    assert json_equal(b, a) is expected


def test_a_list_and_a_tuple_of_the_same_items_are_equal_as_json() -> None:
    assert json_equal([1, "a"], (1, "a"))  # type: ignore[arg-type]
