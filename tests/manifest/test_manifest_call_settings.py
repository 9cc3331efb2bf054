"""A target's ``timeout:`` and ``retry:``: the forms they take, their defaults, and every bad
value reported at FILE:LINE:COL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deployctl.manifest import load_manifest
from deployctl.model.calls import CallPolicy, format_duration, parse_duration

WriteManifest = Callable[..., Path]
Issues = Callable[..., list[tuple[int, int, str]]]

MANIFEST = """
version: 1
environment: prod
variables:
  slow: 45m
targets:
  one:
    uri: local:.deployctl/one
    timeout: 30m
  both:
    uri: local:.deployctl/both
    timeout: {read: 1m, write: "${var.slow}"}
    retry: {attempts: 5, backoff: 500ms}
  retry-only:
    uri: local:.deployctl/retry
    retry: {attempts: 1}
  plain:
    uri: local:.deployctl/plain
"""


def test_each_form_of_timeout_and_retry_becomes_a_call_policy(
    write_manifest: WriteManifest,
) -> None:
    manifest = load_manifest(write_manifest(MANIFEST), environ={})
    policies = {t.key: t.calls for t in manifest.targets}
    assert policies == {
        # A single duration limits the calls that change deployments; reads keep 5m.
        "one": CallPolicy(read_timeout=300.0, write_timeout=1800.0, attempts=3, backoff=2.0),
        "both": CallPolicy(read_timeout=60.0, write_timeout=2700.0, attempts=5, backoff=0.5),
        "retry-only": CallPolicy(read_timeout=300.0, write_timeout=None, attempts=1),
        "plain": None,
    }


def test_the_defaults_limit_reads_to_five_minutes_and_retry_three_times() -> None:
    policy = CallPolicy()
    assert policy.timeout("get_deployment") == policy.timeout("list_deployments") == 300.0
    for call in ("create_deployment", "update_deployment", "delete_deployment", "predict"):
        assert policy.timeout(call) is None
    assert (policy.attempts, policy.backoff) == (3, 2.0)


BAD = """
version: 1
environment: prod
targets:
  a:
    uri: local:a
    timeout: 30
    retry: {attempts: 0, backoff: 2}
  b:
    uri: local:b
    timeout: {reed: 1m, write: soon}
  c:
    uri: local:c
    timeout: {}
    retry: {attempts: 11, backoff: 11m}
  d:
    uri: local:d
    timeout: 48h
    retry: {tries: 2}
  e:
    uri: local:e
    timeout: 0s
    retry: {attempts: true}
  f:
    uri: local:f
    timeout: [1m]
    retry: 3
  g:
    uri: local:g
    timeout: "5m\\n"
"""


def test_every_bad_timeout_and_retry_is_reported_where_it_is_written(issues_of: Issues) -> None:
    rule = "must be a positive duration with a unit, such as 500ms, 30s, 5m or 1h"
    either = f"{rule}, or a mapping {{read: 5m, write: 30m}}"
    assert issues_of(BAD) == [
        (6, 14, f"field 'timeout' of target 'a' {either}, not 30 (write 30s or 30m)"),
        (7, 23, "field 'retry.attempts' of target 'a' must be a whole number from 1 to 10, not 0"),
        (7, 35, f"field 'retry.backoff' of target 'a' {rule}, not 2 (write 2s or 2m)"),
        (10, 15, "unknown field 'reed' in field 'timeout' of target 'b' (did you mean 'read'?)"),
        (10, 32, f"field 'timeout.write' of target 'b' {rule}, not 'soon'"),
        (
            13,
            14,
            "field 'timeout' of target 'c' is empty: set read, write or both, or leave it out",
        ),
        (
            14,
            23,
            "field 'retry.attempts' of target 'c' must be a whole number from 1 to 10, not 11",
        ),
        (14, 36, "field 'retry.backoff' of target 'c' must be at most 10m, not '11m'"),
        (17, 14, "field 'timeout' of target 'd' must be at most 24h, not '48h'"),
        (18, 13, "unknown field 'tries' in field 'retry' of target 'd'"),
        (21, 14, f"field 'timeout' of target 'e' {either}, not '0s'"),
        (
            22,
            23,
            "field 'retry.attempts' of target 'e' must be a whole number from 1 to 10, not true",
        ),
        (25, 14, f"field 'timeout' of target 'f' {either}, not a list"),
        (26, 12, "field 'retry' of target 'f' must be a mapping, not a number"),
        # The newline is in the message; it is escaped when the issue is shown.
        (29, 14, f"field 'timeout' of target 'g' {either}, not '5m\n'"),
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30.0), ("1.5s", 1.5), ("5m", 300.0), ("2h", 7200.0)],
)
def test_durations_read_and_write_back(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["30", "0s", "0.0m", "-1s", "5 m", "5min", "1d", "5m\n", ""])
def test_a_duration_needs_a_positive_number_and_a_unit(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_call_policy_round_trips_through_json_and_refuses_nonsense() -> None:
    policy = CallPolicy(read_timeout=60.0, write_timeout=None, attempts=4, backoff=0.25)
    assert policy.to_json() == {
        "timeout": {"read": 60.0, "write": None},
        "retry": {"attempts": 4, "backoff": 0.25},
    }
    assert CallPolicy.from_json(policy.to_json()) == policy
    for bad in (
        {"retry": {"attempts": 0}},
        {"timeout": {"read": -1}},
        {"retry": {"attempts": "3"}},
    ):
        with pytest.raises((TypeError, ValueError)):
            CallPolicy.from_json(bad)  # type: ignore[arg-type]
