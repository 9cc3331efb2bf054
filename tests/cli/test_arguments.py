"""Option values as deployctl's values; each malformed one is a one-line usage error."""

from __future__ import annotations

import argparse

import pytest

from deployctl.cli.arguments import (
    check_parallelism,
    parse_address,
    parse_duration,
    parse_vars,
    selection,
)
from deployctl.errors import UsageError
from deployctl.model import Address


def test_an_address_is_parsed_into_target_and_name() -> None:
    address = parse_address("local/churn")
    assert address == Address("local", "churn")
    assert str(address) == "local/churn"


@pytest.mark.parametrize("text", ["churn", "local/", "/churn", "a/b/c", "lo cal/churn", ""])
def test_a_malformed_address_is_a_usage_error_saying_the_form(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_address(text)
    assert str(caught.value) == f"'{text}' is not an address of the form TARGET/NAME"


def test_an_address_error_can_name_its_role_and_give_advice() -> None:
    with pytest.raises(UsageError) as caught:
        parse_address("churn", role="OLD:", advice="addresses look like local/churn")
    assert str(caught.value) == (
        "OLD: 'churn' is not an address of the form TARGET/NAME; addresses look like local/churn"
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("500ms", 0.5), ("2", 2.0)]
)
def test_durations_take_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_malformed_duration_names_its_option() -> None:
    with pytest.raises(UsageError, match=r"^--wait: 'soon' is not a duration"):
        parse_duration("soon", option="--wait")


def test_variables_are_name_value_pairs() -> None:
    assert parse_vars(["a=1", "b==2", "c="]) == {"a": "1", "b": "=2", "c": ""}
    with pytest.raises(UsageError, match="--var 'a' must have the form NAME=VALUE"):
        parse_vars(["a"])


def test_the_selection_and_its_limits_are_checked() -> None:
    args = argparse.Namespace(targets=["local/churn"], excludes=["edge"], max_deletes=None)
    chosen = selection(args)
    assert (chosen.targets, chosen.excludes) == (("local/churn",), ("edge",))
    with pytest.raises(UsageError, match="--max-deletes must be 0 or more"):
        selection(argparse.Namespace(targets=[], excludes=[], max_deletes=-1))
    with pytest.raises(UsageError, match="--parallelism must be at least 1"):
        check_parallelism(argparse.Namespace(parallelism=0))
