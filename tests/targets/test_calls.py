"""One plugin call: its result returned, its exception wrapped, and one DEBUG line either way."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from deployctl.errors import DeploymentNotFoundError, TargetError
from deployctl.targets.calls import call_plugin

LOGGER = logging.getLogger("tests.targets.calls")


class Missing(Exception):
    error_code = "RESOURCE_DOES_NOT_EXIST"


def call(fn: Any, *args: Any, address: str | None = "dev/m", **kwargs: Any) -> Any:
    return call_plugin(
        LOGGER, fn, args, kwargs, target="dev", call="get_deployment", address=address, scheme="s"
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER.name]


def test_a_call_returns_what_the_plugin_returns_and_logs_ok(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER.name):
        assert call(lambda *a, **k: (a, k), 1, x=2) == ((1,), {"x": 2})
    (line,) = messages(caplog)
    assert line.startswith("target dev: get_deployment for dev/m took ")
    assert line.endswith(" ms: ok")


def test_a_plugin_exception_becomes_the_target_error_of_its_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fail() -> None:
        raise Missing("gone")

    with (
        caplog.at_level(logging.DEBUG, logger=LOGGER.name),
        pytest.raises(DeploymentNotFoundError) as info,
    ):
        call(fail)
    assert str(info.value) == "target 'dev', get_deployment for dev/m: Missing: gone"
    assert isinstance(info.value.cause, Missing)
    (line,) = messages(caplog)
    assert line.endswith(" ms: Missing")


def test_a_call_without_an_address_logs_none(caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> None:
        raise RuntimeError("down")

    with caplog.at_level(logging.DEBUG, logger=LOGGER.name), pytest.raises(TargetError):
        call(fail, address=None)
    (line,) = messages(caplog)
    assert line.startswith("target dev: get_deployment took ")
    assert line.endswith(" ms: RuntimeError")


def test_nothing_is_logged_below_debug_being_enabled(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        call(lambda: None)
    assert messages(caplog) == []
