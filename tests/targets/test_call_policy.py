"""Timeouts and retries of plugin calls: what is retried, how often, how a timeout is reported."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fake_clients import SPEC, Lister, adapter_for

from deployctl.errors import DeploymentExistsError, TargetError, TargetTimeoutError
from deployctl.model.calls import CallPolicy
from deployctl.targets import deadline
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.calls import MAX_WAIT, Retry, backoff_delay
from deployctl.targets.loading import load_target
from deployctl.targets.pool import TargetPool

FAST = CallPolicy(read_timeout=5.0, attempts=3, backoff=0.001)


class Coded(Exception):
    def __init__(self, text: str, error_code: str | None = None) -> None:
        super().__init__(text)
        self.error_code = error_code


class Flaky(Lister):
    """Raises the given exceptions, one per call, then answers."""

    def __init__(self, *failures: BaseException) -> None:
        super().__init__(listing=[{"name": "m"}], got={"name": "m"})
        self.failures = list(failures)
        self.calls: list[str] = []

    def _next(self, method: str) -> None:
        self.calls.append(method)
        if self.failures:
            raise self.failures.pop(0)

    def list_deployments(self) -> Any:
        self._next("list_deployments")
        return self.listing

    def get_deployment(self, name: str) -> Any:
        self._next("get_deployment")
        return self.got

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any = None, config: Any = None
    ) -> Any:
        self._next("create_deployment")
        return {"name": name}

    def delete_deployment(self, name: str) -> None:
        self._next("delete_deployment")


def flaky(*failures: BaseException, policy: CallPolicy = FAST) -> tuple[TargetAdapter, Flaky]:
    client = Flaky(*failures)
    adapter = TargetAdapter("t", "fake:/x", client, policy=policy)
    return adapter, client


# -- what is retried --


@pytest.mark.parametrize(
    "failure",
    [
        Coded("try later", "TEMPORARILY_UNAVAILABLE"),
        Coded("slow down", "REQUEST_LIMIT_EXCEEDED"),
        Coded("quota", "RESOURCE_EXHAUSTED"),
        ConnectionRefusedError("refused"),
    ],
)
def test_a_refused_call_is_retried_whatever_it_is(failure: Exception) -> None:
    adapter, client = flaky(failure)
    assert adapter.create("m", SPEC) == {"name": "m"}
    assert client.calls == ["create_deployment", "create_deployment"]


@pytest.mark.parametrize(
    "failure", [ConnectionResetError("reset"), TimeoutError("read timed out"), ConnectionError()]
)
def test_a_broken_connection_is_retried_for_a_read_but_not_for_a_change(
    failure: Exception,
) -> None:
    adapter, client = flaky(failure)
    assert [r.name for r in adapter.list()] == ["m"]
    assert client.calls == ["list_deployments", "list_deployments"]

    adapter, client = flaky(failure)
    with pytest.raises(TargetError) as info:
        adapter.create("m", SPEC)
    assert client.calls == ["create_deployment"]
    assert info.value.attempts == 1


@pytest.mark.parametrize(
    "failure",
    [
        Coded("m already exists", "RESOURCE_ALREADY_EXISTS"),
        Coded("bad replicas", "INVALID_PARAMETER_VALUE"),
        Coded("bad flavor", "BAD_REQUEST"),
        RuntimeError("internal error"),
        KeyError("m"),
    ],
)
def test_conflicts_bad_requests_and_other_failures_are_not_retried(failure: Exception) -> None:
    adapter, client = flaky(failure, failure)
    with pytest.raises(TargetError) as info:
        adapter.get("m")
    assert client.calls == ["get_deployment"]
    assert info.value.attempts == 1
    assert "attempts" not in str(info.value)


def test_a_call_that_keeps_failing_gives_up_after_its_attempts_and_says_so() -> None:
    failures = [Coded("busy", "TEMPORARILY_UNAVAILABLE") for _ in range(5)]
    adapter, client = flaky(*failures, policy=CallPolicy(attempts=4, backoff=0.001))
    with pytest.raises(TargetError) as info:
        adapter.delete("m")
    assert client.calls == ["delete_deployment"] * 4
    assert info.value.attempts == 4
    assert str(info.value) == (
        "target 't', delete_deployment for t/m: Coded: busy (after 4 attempts)"
    )


def test_one_attempt_never_retries() -> None:
    adapter, client = flaky(ConnectionRefusedError(), policy=CallPolicy(attempts=1))
    with pytest.raises(TargetError):
        adapter.list()
    assert client.calls == ["list_deployments"]


def test_the_error_class_of_the_last_attempt_is_kept() -> None:
    adapter, _ = flaky(
        Coded("busy", "TEMPORARILY_UNAVAILABLE"), Coded("taken", "RESOURCE_ALREADY_EXISTS")
    )
    with pytest.raises(DeploymentExistsError) as info:
        adapter.create("m", SPEC)
    assert info.value.attempts == 2
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_each_retry_is_reported_before_its_wait() -> None:
    heard: list[Retry] = []
    adapter, _ = flaky(Coded("busy", "TEMPORARILY_UNAVAILABLE"), ConnectionRefusedError("refused"))
    adapter.on_retry = heard.append
    adapter.create("m", SPEC)
    assert [(r.attempt, r.attempts, r.call, r.address) for r in heard] == [
        (1, 3, "create_deployment", "t/m"),
        (2, 3, "create_deployment", "t/m"),
    ]
    assert heard[0].error.error_code == "TEMPORARILY_UNAVAILABLE"
    assert (
        heard[1]
        .describe()
        .startswith(
            "t/m: create_deployment failed (attempt 2 of 3), retrying in 0.0s: "
            "ConnectionRefusedError: refused"
        )
    )


def test_the_pool_gives_its_retry_listener_to_every_adapter(tmp_path: Path) -> None:
    heard: list[Retry] = []
    pool = TargetPool()
    early = pool.get("a", f"local:{tmp_path}/a")
    pool.on_retry = heard.append
    late = pool.get("b", f"local:{tmp_path}/b")
    assert early.on_retry == late.on_retry == heard.append


def test_backoff_doubles_with_jitter_and_has_a_ceiling() -> None:
    assert backoff_delay(2.0, 1, rng=lambda: 0.0) == 1.0
    assert backoff_delay(2.0, 1, rng=lambda: 1.0) == 2.0
    assert backoff_delay(2.0, 3, rng=lambda: 1.0) == 8.0
    assert backoff_delay(2.0, 3, rng=lambda: 0.5) == 6.0
    assert backoff_delay(300.0, 10, rng=lambda: 1.0) == MAX_WAIT


def test_waits_between_attempts_follow_the_backoff() -> None:
    from deployctl.targets.calls import call_plugin

    waits: list[float] = []
    failures = [Coded("busy", "REQUEST_LIMIT_EXCEEDED") for _ in range(3)]

    def fn() -> str:
        if failures:
            raise failures.pop()
        return "done"

    import logging

    result = call_plugin(
        logging.getLogger("test"),
        fn,
        (),
        {},
        target="t",
        call="get_deployment",
        address="t/m",
        scheme="fake",
        policy=CallPolicy(attempts=4, backoff=1.0),
        sleep=waits.append,
    )
    assert result == "done"
    assert len(waits) == 3
    for n, wait in enumerate(waits):
        assert 2**n / 2 <= wait <= 2**n


# -- timeouts --


class Slow(Lister):
    def __init__(self, seconds: float) -> None:
        super().__init__(listing=[], got={"name": "m"})
        self.seconds = seconds
        self.started = 0
        self.finished = threading.Event()

    def get_deployment(self, name: str) -> Any:
        self.started += 1
        time.sleep(self.seconds)
        return self.got

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any = None, config: Any = None
    ) -> Any:
        self.started += 1
        time.sleep(self.seconds)
        self.finished.set()
        return {"name": name}


def test_a_read_that_times_out_is_retried_and_then_reported_with_its_address() -> None:
    client = Slow(1.0)
    policy = CallPolicy(read_timeout=0.05, attempts=2, backoff=0.001)
    heard: list[Retry] = []
    adapter = TargetAdapter("t", "fake:/x", client, policy=policy, on_retry=heard.append)
    started = time.monotonic()
    with pytest.raises(TargetTimeoutError) as info:
        adapter.get("m")
    assert time.monotonic() - started < 0.9
    error = info.value
    assert client.started == 2
    assert (error.call, error.address, error.attempts) == ("get_deployment", "t/m", 2)
    assert not error.outcome_unknown
    assert error.timeout == 0.05
    assert [r.reason for r in heard] == ["no answer within 50ms"]
    assert str(error).startswith(
        "target 't', get_deployment for t/m: no answer within 50ms (after 2 attempts) "
        "(raise timeout.read of target 't' in the manifest"
    )


def test_a_change_that_times_out_is_not_retried_and_its_outcome_is_unknown() -> None:
    client = Slow(0.3)
    adapter = TargetAdapter("t", "fake:/x", client, policy=CallPolicy(write_timeout=0.05))
    with pytest.raises(TargetTimeoutError) as info:
        adapter.create("m", SPEC)
    assert client.started == 1
    assert info.value.outcome_unknown and info.value.attempts == 1
    assert "its outcome is unknown" in str(info.value)
    assert "raise timeout.write of target 't'" in str(info.value)
    # The plugin call runs on in its thread, and is counted until it returns.
    assert deadline.running_abandoned() >= 1
    assert client.finished.wait(5)
    for _ in range(100):
        if deadline.running_abandoned() == 0:
            break
        time.sleep(0.01)
    assert deadline.running_abandoned() == 0


def test_changes_have_no_time_limit_by_default() -> None:
    client = Slow(0.2)
    adapter = TargetAdapter("t", "fake:/x", client)
    assert adapter.policy.timeout("create_deployment") is None
    assert adapter.create("m", SPEC) == {"name": "m"}


def test_a_plugins_own_timeout_error_is_not_taken_for_the_deadline() -> None:
    adapter, _ = flaky(TimeoutError("socket timed out"), policy=CallPolicy(attempts=1))
    with pytest.raises(TargetError) as info:
        adapter.get("m")
    assert type(info.value) is TargetError
    assert "TimeoutError: socket timed out" in str(info.value)


def test_predict_has_neither_time_limit_nor_retry() -> None:
    class Scoring(Lister):
        calls = 0

        def predict(self, deployment_name: str, df: Any) -> Any:
            Scoring.calls += 1
            raise ConnectionRefusedError("down")

    adapter = adapter_for(Scoring())
    with pytest.raises(TargetError):
        adapter.predict("m", None)
    assert Scoring.calls == 1


# -- the worker threads --


def test_a_call_without_a_limit_runs_in_the_calling_thread() -> None:
    assert deadline.call_with_deadline(threading.get_ident, None) == threading.get_ident()


def test_a_call_with_a_limit_runs_in_a_daemon_worker_that_is_reused() -> None:
    def where() -> tuple[int, bool]:
        return threading.get_ident(), threading.current_thread().daemon

    first, daemon = deadline.call_with_deadline(where, 5.0)
    assert daemon and first != threading.get_ident()
    before = threading.active_count()
    for _ in range(20):
        deadline.call_with_deadline(where, 5.0)
    assert threading.active_count() <= before


def test_concurrent_calls_each_get_their_own_answer() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def answer(i: int) -> int:
        time.sleep(0.001 * (i % 5))
        return i * i

    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(lambda i: deadline.call_with_deadline(lambda: answer(i), 5.0), range(200))
        )
    assert results == [i * i for i in range(200)]


def test_exceptions_of_the_call_reach_the_caller() -> None:
    def fail() -> None:
        raise ValueError("plugin says no")

    with pytest.raises(ValueError, match="plugin says no"):
        deadline.call_with_deadline(fail, 5.0)


# -- a real plugin --


def test_a_hanging_plugin_get_is_a_timeout_after_its_attempts(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    test_plugins.write_faults(tmp_path, {"sleep": {"get_deployment": 0.5}})
    policy = CallPolicy(read_timeout=0.05, attempts=2, backoff=0.001)
    adapter = load_target(f"seedtest:{tmp_path}", key="dev", policy=policy)
    with pytest.raises(TargetTimeoutError) as info:
        adapter.get("m")
    assert (info.value.address, info.value.attempts) == ("dev/m", 2)


def test_a_create_that_times_out_still_happens_on_the_target(
    tmp_path: Path, test_plugins: ModuleType
) -> None:
    test_plugins.write_faults(tmp_path, {"sleep": {"create_deployment": 0.3}})
    adapter = load_target(f"seedtest:{tmp_path}", key="dev", policy=CallPolicy(write_timeout=0.05))
    with pytest.raises(TargetTimeoutError) as info:
        adapter.create("m", SPEC)
    assert info.value.outcome_unknown
    for _ in range(200):
        if (tmp_path / "records" / "m.json").exists():
            break
        time.sleep(0.01)
    test_plugins.write_faults(tmp_path, {})
    assert adapter.get("m").model_uri == SPEC.model_uri
    creates = [c for c in test_plugins.read_calls(tmp_path) if c["method"] == "create_deployment"]
    assert len(creates) == 1
