"""Plain scalars mean what PyYAML says they mean, without PyYAML being imported to say it.

``manifest.yaml_scalars`` writes out PyYAML's implicit resolvers and ``bool_values``; these tests
hold the copies equal to the installed PyYAML, and the values built to what its constructors
build, so a PyYAML that changed its rules would fail here rather than change manifests.
"""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from deployctl.manifest.yaml_scalars import (
    BOOL_VALUES,
    IMPLICIT,
    STR_TAG,
    NotPlain,
    implicit_tag,
    scalar,
)

RESOLVER = yaml.resolver.Resolver()


def _pyyaml_tag(text: str) -> str:
    return str(RESOLVER.resolve(ScalarNode, text, (True, False)))


def _pyyaml_value(text: str) -> object:
    return yaml.load(f"key: {text}\n", Loader=yaml.SafeLoader)["key"]


def test_the_implicit_resolvers_are_pyyamls() -> None:
    installed = yaml.resolver.Resolver.yaml_implicit_resolvers
    assert sorted(IMPLICIT, key=str) == sorted(installed, key=str)
    for first, resolvers in installed.items():
        assert [(tag, p.pattern, p.flags) for tag, p in IMPLICIT[first]] == [
            (tag, p.pattern, p.flags) for tag, p in resolvers
        ], first


def test_the_boolean_spellings_are_pyyamls() -> None:
    assert SafeConstructor.bool_values == BOOL_VALUES


SPELLINGS = [
    "yes", "No", "ON", "off", "true", "FALSE", "y", "n", "~", "null", "Null", "NULL", "nil",
    "0", "-0", "+12", "012", "0o12", "0x1F", "0b101", "1_000", "1:30", "190:20:30",
    "1.5", "-1.5", "+.5", ".5", "1.", "1e5", "1.0e+5", "1.0E-05", "6.8523015e+5", "1_0.5",
    "190:20:30.15", ".inf", "-.Inf", ".NaN", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "<<", "=", "models:/m/3", "eu-west-1", "1.2.3", "0.", "+", ".",
]  # fmt: skip


@pytest.mark.parametrize("text", SPELLINGS)
def test_a_plain_scalar_gets_pyyamls_tag_and_value(text: str) -> None:
    tag = implicit_tag(text)
    assert tag == _pyyaml_tag(text)
    try:
        value = scalar(tag, text)
    except NotPlain:
        return  # the full walk reads it (and words what is wrong)
    expected = _pyyaml_value(text)
    if tag.endswith(":timestamp"):
        expected = text  # manifests keep dates as written
    assert type(value) is type(expected) and value == expected


@given(
    st.from_regex(r"[-+]?[0-9_]{1,6}(\.[0-9_]{0,6})?([eE][-+][0-9]{1,3})?", fullmatch=True)
    | st.text(alphabet="0123456789.:eE+-_xob", max_size=12)
)
def test_numbers_written_any_way_read_as_pyyaml_reads_them(text: str) -> None:
    tag = implicit_tag(text)
    assert tag == _pyyaml_tag(text)
    if tag == STR_TAG or not text:
        return
    try:
        value = scalar(tag, text)
    except NotPlain:
        return
    expected = _pyyaml_value(text)
    assert type(value) is type(expected)
    assert value == expected or (math.isnan(value) and math.isnan(expected))
    if isinstance(value, float):
        assert math.copysign(1, value) == math.copysign(1, expected)  # -0.0 stays negative
