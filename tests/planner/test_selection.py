"""--target / --exclude address selection."""

from __future__ import annotations

import pytest

from deployctl.errors import UsageError
from deployctl.planner.selection import Selection


def test_no_selection_matches_everything() -> None:
    selection = Selection.parse()
    assert not selection.partial
    assert selection.matches("local/churn") and selection.may_touch_target("canary")


def test_target_selects_a_whole_target_or_one_address() -> None:
    selection = Selection.parse(targets=["canary", "primary/churn"])
    assert selection.partial
    assert selection.matches("canary/fraud")
    assert selection.matches("primary/churn")
    assert not selection.matches("primary/fraud")
    assert selection.may_touch_target("primary") and not selection.may_touch_target("local")


def test_exclude_wins_over_target() -> None:
    selection = Selection.parse(targets=["primary"], excludes=["primary/fraud"])
    assert selection.matches("primary/churn")
    assert not selection.matches("primary/fraud")
    assert not Selection.parse(excludes=["canary"]).may_touch_target("canary")
    assert selection.describe() == "only primary; excluding primary/fraud"


@pytest.mark.parametrize("bad", ["a/b/c", "/x", "bad name", "local/"])
def test_malformed_addresses_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="--target"):
        Selection.parse(targets=[bad])


ADDRESSES = ["primary/churn", "primary/fraud", "canary/fraud"]


def test_options_that_match_a_known_address_or_target_pass() -> None:
    Selection.parse(targets=["primary/churn", "canary"], excludes=["primary/fraud"]).check_matches(
        ADDRESSES
    )
    Selection.parse(targets=["empty"]).check_matches(ADDRESSES, targets=["empty"])
    Selection.parse().check_matches([])


def test_an_option_that_matches_nothing_is_an_error_naming_it_and_the_closest_match() -> None:
    selection = Selection.parse(targets=["primary/chrun", "nowhere"], excludes=["elsewhere/zzz"])
    with pytest.raises(UsageError) as info:
        selection.check_matches(ADDRESSES, targets=["primary", "canary"])
    assert str(info.value).splitlines() == [
        "--target nowhere matches no deployment in the manifest or the state",
        "--target primary/chrun matches no deployment in the manifest or the state "
        "(did you mean 'primary/churn'?)",
        "--exclude elsewhere/zzz matches no deployment in the manifest or the state",
    ]
