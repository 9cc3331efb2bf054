"""JSON text: ``indented_json`` writes exactly what ``json.dumps(indent=2, sort_keys=True)``
wrote (state, plan and record files keep their form), ``ascii_json_line`` the same value as
compact ASCII JSON (journal lines), and ``strict_loads`` and ``fast_loads``
read exactly what ``json.loads`` read, with the same errors."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import typed

from deployctl.model.values import ascii_json_line, fast_loads, indented_json, strict_loads


def python_indented(value: Any, *, allow_nan: bool = False) -> str:
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=allow_nan)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # any character but a lone surrogate: non-ASCII, control characters, DEL
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)
PROPERTY = settings(
    max_examples=400, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(value=JSON_VALUES)
def test_indented_json_writes_the_text_json_dumps_wrote(value: Any) -> None:
    text = indented_json(value)
    assert text == python_indented(value)
    assert typed(json.loads(text)) == typed(value)


@PROPERTY
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.text(st.characters(max_codepoint=0x7E)),
        lambda inner: (
            st.lists(inner, max_size=5)
            | st.dictionaries(st.text(st.characters(max_codepoint=0x7E)), inner, max_size=5)
        ),
        max_leaves=40,
    )
)
def test_indented_json_of_ascii_values_without_floats_is_the_json_text(value: Any) -> None:
    assert indented_json(value) == json.dumps(value, indent=2, sort_keys=True)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1e-05, "b": [2.5e-07, -3e-09, 1e-10, 0.0001, 9.99e-05], "c": -0.0},
        # Number-like text inside strings stays as it is when the floats are rewritten.
        {"k 0.00001": "v: 0.00001", "list": ["x 1e-7", 1e-07, "1e-7"], "n": 1e-07},
        1e-05,
        [1e-05],
        {
            "big": 1e16,
            "bigger": 1.2345678901234568e17,
            "small": 5e-324,
            "max": 1.7976931348623157e308,
        },
    ],
)
def test_floats_are_written_as_repr_writes_them(value: Any) -> None:
    assert indented_json(value) == python_indented(value)


def test_characters_outside_printable_ascii_are_escaped_as_json_escaped_them() -> None:
    value = {"é": "naïve \u2028 😀 \x7f \x00 \x1f \t\n", "z": ["日本", "\ufeff"]}
    text = indented_json(value)
    assert text == python_indented(value)
    assert "\\u00e9" in text and "\\ud83d\\ude00" in text and "\\u007f" in text
    assert text.isascii()


@pytest.mark.parametrize(
    "value",
    [
        {"only DEL": "a\x7fb"},
        {"é": 1, "z": 2, "Z": 3, "😀": 4, "\uffff": 5, "\x7f": 6},  # sorted by code point
        "ß",
    ],
)
def test_keys_and_strings_outside_ascii_are_sorted_and_escaped_as_before(value: Any) -> None:
    assert indented_json(value) == python_indented(value)


def test_a_lone_surrogate_is_written_as_json_wrote_it() -> None:
    value = {"s": "a\ud800b", "\udfff": 1}
    assert indented_json(value) == python_indented(value)


@pytest.mark.parametrize(
    "value",
    [
        2**64,
        -(2**63) - 1,
        {"n": 123456789012345678901234567890, "m": [-(10**40)]},
        {2: "integer key", 1.5: "float key", True: "bool key"},
        {None: "null key"},
        {"t": (1, (2, "three"))},
    ],
)
def test_what_orjson_refuses_or_writes_otherwise_is_written_as_before(value: Any) -> None:
    assert indented_json(value) == python_indented(value)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_subclasses_of_json_types_are_written_as_json_wrote_them() -> None:
    value = {"colour": Colour.RED, "level": Level.HIGH, "nested": [Colour.RED]}
    assert indented_json(value) == python_indented(value)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused_as_json_refused_them(number: float) -> None:
    value = {"config": {"ratio": number}}
    with pytest.raises(ValueError) as expected:
        python_indented(value)
    with pytest.raises(ValueError) as raised:
        indented_json(value)
    assert str(raised.value) == str(expected.value)
    assert indented_json(value, allow_nan=True) == python_indented(value, allow_nan=True)


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        {"when": datetime.date(2026, 1, 1)},
        [Point(1)],
        {"tags": {"a", "b"}},
        {"kind": enum.Enum("Plain", "A").A},  # type: ignore[attr-defined]
        b"bytes",
    ],
)
def test_what_is_not_json_is_refused_as_json_refused_it(value: Any) -> None:
    # orjson writes dates, dataclasses and enums: json refused them, and so must this.
    with pytest.raises(TypeError) as expected:
        python_indented(value)
    with pytest.raises(TypeError) as raised:
        indented_json(value)
    assert str(raised.value) == str(expected.value)


def test_a_cycle_is_refused_as_json_refused_it() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        indented_json({"a": cycle})


def test_a_value_shared_in_two_places_is_written_twice() -> None:
    shared = {"x": [1.5, 1e-06]}
    value = {"a": shared, "b": [shared, shared]}
    assert indented_json(value) == python_indented(value)


def test_nesting_deeper_than_orjson_writes_is_written_as_before() -> None:
    value: Any = "leaf"
    for _ in range(400):
        value = [value]
    assert indented_json(value) == python_indented(value)


@PROPERTY
@given(value=JSON_VALUES)
def test_strict_loads_reads_back_what_json_wrote(value: Any) -> None:
    text = json.dumps(value)
    assert typed(strict_loads(text)) == typed(value)
    assert typed(strict_loads(text.encode("utf-8"))) == typed(value)
    assert typed(strict_loads(indented_json(value))) == typed(value)


@pytest.mark.parametrize(
    "number",
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**40, -(10**40)],
)
def test_strict_loads_reads_integers_beyond_64_bits_as_integers(number: int) -> None:
    text = json.dumps({"deep": [{"n": number}], "f": 1e300})
    loaded = strict_loads(text)
    assert loaded["deep"][0]["n"] == number
    assert type(loaded["deep"][0]["n"]) is int
    assert strict_loads(str(number).encode()) == number


def test_strict_loads_keeps_a_large_float_a_float() -> None:
    text = '{"id": "1234567890123456789012", "x": 1e19, "y": -9.3e18}'
    assert typed(strict_loads(text)) == typed(
        {"id": "1234567890123456789012", "x": 1e19, "y": -9.3e18}
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"a": 1,}',
        "[1,]",
        "01",
        "1.",
        '{"a": 1} extra',
        '"raw \x01 control"',
        "\ufeff{}",
        "{'a': 1}",
        b'{"a": "\xff"}',
    ],
)
def test_strict_loads_refuses_bad_json_with_the_json_modules_message(text: str | bytes) -> None:
    assert_refused_as_json_refuses(strict_loads, text)


def assert_refused_as_json_refuses(loads: Callable[[Any], Any], text: str | bytes) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text)
    with pytest.raises(ValueError) as raised:
        loads(text)
    assert type(raised.value) is type(expected.value)
    assert str(raised.value) == str(expected.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"ratio": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("-Infinity", "-Infinity is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply to read"),
    ],
)
def test_strict_loads_refuses_nan_infinity_and_deep_nesting(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        strict_loads(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"\\ud800"', "\ud800"),  # a lone surrogate escape
        ("1e400", math.inf),  # too large for a float: json reads infinity
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),  # bytes with a UTF-8 byte order mark
        ('{"a": 1, "a": 2}', {"a": 2}),
    ],
)
def test_strict_loads_reads_what_json_read(text: str | bytes, expected: Any) -> None:
    assert json.loads(text) == expected
    assert strict_loads(text) == expected


@PROPERTY
@given(value=JSON_VALUES | st.floats(), indent=st.sampled_from([None, 2]))
def test_fast_loads_reads_what_json_read(value: Any, indent: int | None) -> None:
    data = json.dumps(value, indent=indent).encode("utf-8")  # NaN and Infinity too
    assert typed(fast_loads(data)) == typed(json.loads(data))


@pytest.mark.parametrize(
    "data",
    [
        b"123456789012345678901234567890",  # orjson would read a float
        b'{"n": [18446744073709551616]}',
        b'{"n": -9223372036854775809}',
        b'{"n": 0.12345678901234567890123}',
        b'"\\ud800"',
        b"1e400",
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": 1, "a": 2}',
        b"[NaN, Infinity, -Infinity]",
        '{"a": "\u00e9"}'.encode("utf-16"),
    ],
)
def test_fast_loads_reads_what_orjson_refuses_or_reads_otherwise_as_json_read_it(
    data: bytes,
) -> None:
    assert typed(fast_loads(data)) == typed(json.loads(data))


@pytest.mark.parametrize(
    "data", [b"", b"{", b'{"a": 1,}', b"01", b'{"a": 1} extra', b'{"a": "\xff"}', b"{'a': 1}"]
)
def test_fast_loads_refuses_bad_json_with_the_json_modules_error(data: bytes) -> None:
    assert_refused_as_json_refuses(fast_loads, data)


@pytest.mark.parametrize(
    "data",
    [
        {"op": "record", "record": {"b": [1, 2.5, 1e-07, True, None], "a": {"z": "x", "y": -3}}},
        {"op": "record", "record": {"name": "caf\u00e9 \u2028 \ud83d\ude00", "n": 2**70}},
        {"op": "record", "record": {"lone": "\ud800", "tuple": (1, 2), "int keys": {1: 2}}},
    ],
)
def test_journal_lines_are_ascii_json_of_the_same_value_however_they_are_written(
    data: dict[str, object],
) -> None:
    line = ascii_json_line(data)
    assert line.isascii() and line.endswith(b"\n") and line.count(b"\n") == 1
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert json.loads(line) == json.loads(expected)
    assert list(json.loads(line)) == sorted(json.loads(expected))  # keys sorted


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1, 2}, object()])
def test_a_journal_line_of_what_is_not_json_fails_as_the_json_module_does(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)) as raised:
        ascii_json_line({"op": "record", "record": {"value": bad}})
    with pytest.raises(type(raised.value)):
        json.dumps({"value": bad}, allow_nan=False)
