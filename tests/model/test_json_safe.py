"""``json_safe``: what a plugin returned, as JSON can hold it."""

from __future__ import annotations

import datetime
from collections import OrderedDict
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support import typed

from deployctl.model import json_safe

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(value=JSON)
def test_json_values_are_kept_as_they_are(value: Any) -> None:
    assert typed(json_safe(value)) == typed(value)  # 1, 1.0 and True stay apart


def test_what_json_cannot_hold_is_written_as_text() -> None:
    class Name(str):
        pass

    value = {
        1: datetime.date(2024, 5, 1),
        "b": b"bytes",
        "c": (1, float("nan")),
        Name("d"): OrderedDict(e={2, 1}),
    }
    safe = json_safe(value)
    assert safe == {"1": "2024-05-01", "b": "bytes", "c": [1, "nan"], "d": {"e": [1, 2]}}
    assert all(type(key) is str for key in safe)  # type: ignore[union-attr]


def test_nesting_past_32_levels_is_cut_to_text_at_every_kind_of_value() -> None:
    for leaf in ("x", 1, None, {"k": "v"}):
        value: Any = leaf
        for _ in range(33):
            value = {"k": value}
        safe: Any = json_safe(value)
        for _ in range(33):
            safe = safe["k"]
        assert safe == repr(leaf), leaf
