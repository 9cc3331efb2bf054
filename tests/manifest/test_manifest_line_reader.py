"""The line reader (``manifest.yaml_block``) reads what libyaml reads, or leaves it to libyaml.

Every document here goes through ``assert_readers_agree``: whatever ``parse_yaml`` picks must give
the full walk's data (type for type), issues and positions. The generated documents are block
YAML written the ways people write it (indentation widths, lists at their key's column, comments,
quoting, flow collections, blank lines), and line soups meant to trip the indentation rules.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_manifest_fast_paths import _read, assert_readers_agree

from deployctl.manifest.positions import RecordedPositions
from deployctl.manifest.yaml_block import LinePositions, read_lines
from deployctl.manifest.yaml_plain import NodePositions
from deployctl.manifest.yaml_scalars import NotPlain

SLOW = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: x y z\nc: 'it''s'\nd: \"q # not a comment\"\ne: x#y\nf: b :c\n",
        "a: ${env.HOME}\nb: b[0]{c},d\nc: models:/churn@champion\nd: local:targets/t00\n",
        "a: x   # comment\nb:    # comment, and a null\nc:\n",
        "k:\n- a\n- b\nm: 1\n",  # a list at its key's column
        "k:\n- a: 1\n  b: 2\n- c: 3\nm: [x, {y: z}]   # flow\n",
        "- a\n- b\n",  # a list at the root: libyaml's
        "a:\n  - x\n  -\n    y: 1\n  - - z\n",
        "a:\n    b:\n        c: 1\n    d: 2\ne: 3\n",
        "---\na: 1\n",
        "--- # start\na: 1\n",
        "a: 1\n---\nb: 2\n",  # two documents
        "a: 1\n...\n",
        "a: -1\nb: -x\nc: ---\nd: ...\ne: -.5\nf: +1\n",
        "a : 1\n",  # a space before the colon
        "a:: b\n",
        "a:b: c\n",
        "a: b:\n",
        "a: b: c\n",
        "a: 'x' y\n",
        'a: "x"#c\n',
        "a: [b\n",
        "a: {b: 1}: c\n",
        "a: [*x]\n",
        "a: &x [1]\n",
        "a: 1\n  b: 2\n",
        "a:\n    b: 1\n  c: 2\n",
        "a:\n  b: 1\n- c\n",
        "a: 1\r\nb: 2\r\n",
        "a: 1\rb: 2\n",
        "a:\tb\n",
        "a: 1\n\x85b: 2\n",
        "a: caf\u00e9 \u2028 x\n",
        "a: caf\u00e9\nb: \U0001f600\n",
        "  a: 1\n  b: 2\n",
        "# only a comment\n",
        "",
        "yes: 1\n",
        "'yes': 1\n\"no\": 2\n",
        "a: yes\nb: Off\nc: ~\nd: null\ne: 2024-05-01\nf: 1_000\ng: 0o17\nh: 017\ni: 1:30\n",
        "a: 1.5\nb: .5\nc: 1e3\nd: .inf\ne: .nan\nf: =\n",
        "<<: {a: 1}\n",
        "a: 1\na: 2\n",
        "a: 1\nb:\n  a: 1\n  a: 2\n",
        "a: |\n  text\n",
        "a: >-\n  text\n",
        "a: !!str 1\n",
        "a: %x\n",
        "a: @x\n",
        "a: `x\n",
        "? a\n: b\n",
        "a: {b: 2024-01-01, c: [1, 2.5, yes]}\n",
        "a: [" + "[" * 70 + "]" * 71 + "\n",
        "x" * 1100 + ": 1\n",
        '"' + "x" * 1100 + '": 1\n',
        "'a:" + "x" * 1100 + "': 1\n",
        '"' + "x" * 990 + '": 1\n',
        "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 70)),
    ],
)
def test_the_reader_parse_yaml_picks_agrees_with_the_full_walk(text: str) -> None:
    assert_readers_agree(text)


def test_block_yaml_as_people_write_it_is_read_line_by_line() -> None:
    text = textwrap.dedent(
        """\
        # yaml-language-server: $schema=x
        version: 1
        environment: dev
        state: {path: ../state/dev.json}   # relative to this file
        targets:
          local:
            uri: local:targets/t00
            deployments:
              churn:
                model_uri: models:/churn/3
                flavor: python_function
                config:
                  workers: 2
                  gpu: false
                  region: 'eu-west-1'
                  tags:
                  - a
                  - "b"
                smoke_test:
                  input: {rows: [[1, 2]]}
        """
    )
    parsed = _read(text)
    assert isinstance(parsed.positions, LinePositions)
    assert parsed.data == yaml.safe_load(text)
    assert_readers_agree(text)


def test_what_the_line_reader_leaves_is_read_from_libyaml_nodes() -> None:
    for text in ("a: |\n  text\n", "a: 'two\n  lines'\n", "a: x\n  y\n", "a: &x 1\nb: *x\n"):
        parsed = _read(text)
        assert isinstance(parsed.positions, NodePositions), text
        with pytest.raises(NotPlain):
            read_lines(text.encode(), "dev.yaml")
    assert isinstance(_read("a: 1\na: 2\n").positions, RecordedPositions)


def test_positions_below_the_noted_levels_are_found_in_libyaml_nodes() -> None:
    text = "a:\n  b:\n    c:\n      d:\n        e: 1\n        f: [x]\n"
    data, positions = read_lines(text.encode(), "dev.yaml")
    assert data == {"a": {"b": {"c": {"d": {"e": 1, "f": ["x"]}}}}}
    assert tuple(positions.key(("a", "b", "c", "d"))) == ("dev.yaml", 4, 7)
    assert tuple(positions.key(("a", "b", "c", "d", "f"))) == ("dev.yaml", 6, 9)
    assert tuple(positions.value(("a", "b", "c", "d", "f", 0))) == ("dev.yaml", 6, 13)
    assert positions.written_key(("a", "b", "c", "d", "g")) is None


# -- generated documents ---------------------------------------------------------------------------

_FRIENDLY = st.sampled_from(
    [
        "a", "b", "model_uri", "config", "workers", "x y", "models:/m/1", "local:t/x", "eu-west-1",
        "${var.x}", "a#b", "a:b", "caf\u00e9", "-x", "v1.2", "true", "false", "1", "30", "-5",
        "1.5", "~", "null", "it's", "x_y", "\U0001f600",
    ]
)  # fmt: skip
_TRICKY = st.sampled_from(
    [
        "yes", "no", "on", "0o7", "017", "1_0", "1:30", ".inf", "2024-01-01", "=", "<<", "a #b",
        "a: b", "", " ", "'", '"', "-", "- a", "?", "[a]", "{a}", "&a", "*a", "!t", "|", ">", "%",
        "@", "`", "#", "a\tb", "a\\b", "x\u2028y", "\x85",
    ]
)  # fmt: skip
# Mostly what manifests hold, sometimes what YAML reads otherwise or refuses.
_WORDS = st.integers(0, 11).flatmap(lambda i: _TRICKY if i == 0 else _FRIENDLY)
_NAMES = st.sampled_from(
    ["a", "b", "model_uri", "config", "workers", "x y", "a:b", "a#b", "caf\u00e9", "x_y", "m-1"]
)
_KEYS = st.integers(0, 5).flatmap(lambda i: _WORDS if i == 0 else _NAMES)
_SCALARS = st.one_of(
    _WORDS,
    _WORDS,
    _WORDS,
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=6),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=25,
)


@st.composite
def _scalar_text(draw: st.DrawFn, value: Any) -> str:
    """``value`` as YAML writes it on one line: plain, quoted or by PyYAML."""
    if isinstance(value, str):
        style = draw(st.sampled_from(["plain", "plain", "plain", "single", "double", "dump"]))
        if style == "plain":
            return value
        if style == "single":
            return "'" + value.replace("'", "''") + "'"
        if style == "double" and '"' not in value and "\\" not in value:
            return f'"{value}"'
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10**6, allow_unicode=True)
    return dumped.removesuffix("\n...\n").rstrip("\n")


@st.composite
def _block(draw: st.DrawFn, value: Any, indent: int, step: int) -> list[str]:
    """The lines that write the mapping or list ``value`` in block style at ``indent``."""
    pad = " " * indent
    lines: list[str] = []
    entries = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
    for key, item in entries:
        if draw(st.integers(0, 19)) == 0:
            lines.append(draw(st.sampled_from(["", pad + "# note", "   # note", "#"])))
        head = pad + ("- " if key is None else draw(_scalar_text(key)) + ":")
        comment = draw(st.sampled_from(["", "", "", "", "", "", " # c", "  #", " "]))
        nested = isinstance(item, (dict, list)) and item and draw(st.integers(0, 4)) > 0
        if not nested:
            text = draw(_scalar_text(item)) if item is not None or draw(st.booleans()) else ""
            lines.append(f"{head}{' ' if key is not None and text else ''}{text}{comment}")
            continue
        if key is None and isinstance(item, dict) and draw(st.booleans()):
            # "- key: value" with the rest of the mapping under its first key
            inner = draw(_block(item, indent + 2, step))
            lines.append(pad + "- " + inner[0].lstrip(" "))
            lines.extend(inner[1:])
            continue
        lines.append(head.rstrip() + comment)
        indentless = key is not None and isinstance(item, list) and draw(st.booleans())
        lines.extend(draw(_block(item, indent if indentless else indent + step, step)))
    return lines


@st.composite
def block_documents(draw: st.DrawFn) -> str:
    data = draw(st.dictionaries(_KEYS, _DATA, min_size=1, max_size=5))
    lines = draw(_block(data, draw(st.integers(0, 2)), draw(st.integers(1, 4))))
    start = draw(st.sampled_from(["", "", "---\n", "# head\n\n"]))
    return start + "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@SLOW
@given(text=block_documents())
def test_generated_block_documents_are_read_as_libyaml_reads_them(text: str) -> None:
    assert_readers_agree(text)


_PIECES = st.sampled_from(
    ["a", "b", "c", "1", "x y", "yes", "'q'", '"d"', "[1, 2]", "{k: v}", "[]", "{}", "~", "#c"]
)


@st.composite
def line_soups(draw: st.DrawFn) -> str:
    """Lines of keys, entries and values at random indentations."""
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        indent = " " * draw(st.integers(0, 6))
        dash = draw(st.sampled_from(["", "", "- ", "-  ", "-"]))
        key = draw(_PIECES)
        colon = draw(st.sampled_from([":", ": ", ":  ", " :", ""]))
        value = draw(st.sampled_from(["", "", "v", "1", "'s'", "[x]", "{y: 1}", "# c", "-"]))
        lines.append(f"{indent}{dash}{key}{colon}{value}")
    return "\n".join(lines) + "\n"


@SLOW
@given(text=line_soups())
def test_line_soups_are_read_as_libyaml_reads_them(text: str) -> None:
    assert_readers_agree(text)
