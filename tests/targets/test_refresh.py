"""Refresh: one list per target, a get per wanted or listed name, existence rules, bounded pool;
a get that fails without saying "not found" leaves existence unknown and fails the refresh."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deployctl.errors import RefreshError, TargetError, TargetTimeoutError
from deployctl.model import DeploymentSpec
from deployctl.model.calls import CallPolicy
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target
from deployctl.targets.refresh import (
    ABSENT_PREFIX,
    FOUND_BY_GET,
    NOT_LISTED_BY_COMPLETE_LIST,
    refresh,
)

Load = Callable[..., TargetAdapter]
SPEC = DeploymentSpec("models:/m/1")


def directory(adapter: TargetAdapter) -> Path:
    return Path(adapter.uri.partition(":")[2])


def faults(adapter: TargetAdapter, **kinds: Any) -> None:
    from dtp_common import write_faults

    write_faults(directory(adapter), kinds)


def calls(adapter: TargetAdapter) -> list[dict[str, Any]]:
    from dtp_common import read_calls

    found: list[dict[str, Any]] = read_calls(directory(adapter))
    return found


def test_listed_names_exist_and_each_is_fetched_with_get(load: Load) -> None:
    dev = load("seedtest", key="dev")
    dev.create("a", SPEC)
    dev.create("b", DeploymentSpec("models:/b/2", config={"k": "v"}))
    view = refresh({"dev": dev}, {})
    assert list(view.statuses) == ["dev/a", "dev/b"]
    b = view.statuses["dev/b"]
    assert b.exists and b.reason is None
    assert b.record is not None and b.record.model_uri == "models:/b/2"
    made = sorted(
        (c["method"], c["name"]) for c in calls(dev) if c["method"] != "create_deployment"
    )
    assert made == [("get_deployment", "a"), ("get_deployment", "b"), ("list_deployments", None)]


def test_a_wanted_name_hidden_from_the_list_exists_when_get_finds_it(load: Load) -> None:
    dev = load("seedtest", key="dev")
    dev.create("a", SPEC)
    dev.create("hidden", SPEC)
    faults(dev, hide_from_list=["hidden"])
    status = refresh({"dev": dev}, {"dev": ["hidden"]}).statuses["dev/hidden"]
    assert status.exists
    assert status.reason == FOUND_BY_GET
    assert status.record is not None and status.record.model_uri == "models:/m/1"


def test_a_hidden_name_nobody_wants_is_not_reported(load: Load) -> None:
    dev = load("seedtest", key="dev")
    dev.create("hidden", SPEC)
    faults(dev, hide_from_list=["hidden"])
    assert refresh({"dev": dev}, {}).statuses == {}


def test_a_wanted_name_that_get_cannot_find_is_absent_with_the_error_as_reason(
    load: Load,
) -> None:
    dev = load("seedtest", key="dev")
    status = refresh({"dev": dev}, {"dev": {"gone"}}).statuses["dev/gone"]
    assert not status.exists
    assert status.record is None
    assert status.reason == (
        ABSENT_PREFIX
        + "target 'dev', get_deployment for dev/gone: ValueError: deployment gone not found"
    )


def test_a_listed_name_whose_get_fails_exists_with_the_list_record(load: Load) -> None:
    dev = load("seedtest", key="dev")
    dev.create("a", SPEC)
    faults(dev, fail={"get_deployment": ["a"]})
    status = refresh({"dev": dev}, {"dev": ["a"]}).statuses["dev/a"]
    assert status.exists
    assert status.record is not None and status.record.model_uri == "models:/m/1"


def test_a_failing_list_fails_the_refresh(load: Load) -> None:
    dev, prod = load("seedtest", key="dev"), load("seedtest", key="prod")
    faults(prod, fail={"list_deployments": True})
    with pytest.raises(TargetError) as info:
        refresh({"dev": dev, "prod": prod}, {"dev": ["a"], "prod": ["b"]})
    assert (info.value.target, info.value.call) == ("prod", "list_deployments")


def test_statuses_cover_every_wanted_and_listed_address_of_every_target_sorted(
    load: Load,
) -> None:
    dev, prod = load("seedtest", key="dev"), load("pagedtest", key="prod")
    dev.create("z", SPEC)
    for name in ("c", "a", "b"):
        prod.create(name, SPEC)
    view = refresh({"prod": prod, "dev": dev}, {"dev": ["y"], "prod": ["a", "d"]})
    assert list(view.statuses) == ["dev/y", "dev/z", "prod/a", "prod/b", "prod/c", "prod/d"]
    assert [s.address for s in view.existing()] == ["dev/z", "prod/a", "prod/b", "prod/c"]
    assert view.statuses["prod/d"].reason is not None
    assert "ClientError" in view.statuses["prod/d"].reason


def test_a_wanted_target_without_an_adapter_is_a_programming_error(load: Load) -> None:
    with pytest.raises(ValueError, match="no adapter for wanted target"):
        refresh({"dev": load("seedtest", key="dev")}, {"prod": ["a"]})


def test_calls_never_exceed_the_worker_bound(load: Load) -> None:
    from dtp_common import max_concurrent_calls

    dev = load("seedtest", key="dev")
    for i in range(6):
        dev.create(f"m{i}", SPEC)
    faults(dev, sleep=0.1)
    view = refresh({"dev": dev}, {"dev": [f"w{i}" for i in range(6)]}, max_workers=3)
    assert len(view.statuses) == 12
    made = [c for c in calls(dev) if c["method"] in ("list_deployments", "get_deployment")]
    assert len(made) == 13
    assert max_concurrent_calls(made) == 3


class FirstPageOnly:
    """Lists one page and has no way to ask for the next (as SageMaker's plugin does)."""

    def __init__(self, names: list[str]) -> None:
        self.target_uri = "fake:/x"
        self.names = names
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def _enter(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.02)
        with self.lock:
            self.active -= 1

    def list_deployments(self) -> Any:
        self._enter()
        return {"deployments": [{"name": n} for n in self.names[:2]], "next_page_token": "2"}

    def get_deployment(self, name: str) -> Any:
        self._enter()
        if name not in self.names:
            raise KeyError(name)
        return {"name": name, "status": "up"}

    def create_deployment(self, name: str, model_uri: str) -> None: ...

    def delete_deployment(self, name: str) -> None: ...


def test_wanted_names_beyond_the_first_page_are_found_by_get() -> None:
    client = FirstPageOnly(["a", "b", "c"])
    view = refresh({"t": TargetAdapter("t", "fake:/x", client)}, {"t": ["c", "x"]})
    assert {a: (s.exists, s.reason) for a, s in view.statuses.items()} == {
        "t/a": (True, None),
        "t/b": (True, None),
        "t/c": (True, FOUND_BY_GET),
        "t/x": (False, ABSENT_PREFIX + "target 't', get_deployment for t/x: KeyError: 'x'"),
    }


def test_a_single_worker_still_finishes() -> None:
    client = FirstPageOnly(["a", "b"])
    view = refresh({"t": TargetAdapter("t", "fake:/x", client)}, {"t": ["b"]}, max_workers=1)
    assert [s.address for s in view.existing()] == ["t/a", "t/b"]
    assert client.peak == 1


def test_get_fields_are_merged_over_the_list_record() -> None:
    class Split(FirstPageOnly):
        def list_deployments(self) -> Any:
            return [{"name": "a", "status": "listed", "EndpointArn": "arn:a"}]

        def get_deployment(self, name: str) -> Any:
            return {"name": name, "model_uri": "models:/a/1"}

    record = refresh({"t": TargetAdapter("t", "fake:/x", Split([]))}, {}).statuses["t/a"].record
    assert record is not None
    assert (record.status, record.model_uri) == ("listed", "models:/a/1")
    assert record.raw == {
        "name": "a",
        "status": "listed",
        "EndpointArn": "arn:a",
        "model_uri": "models:/a/1",
    }


# -- a get that fails otherwise than "not found" --


def test_a_wanted_name_whose_get_fails_otherwise_fails_the_refresh_naming_each_address(
    load: Load,
) -> None:
    dev = load("seedtest", key="dev")
    dev.create("listed", SPEC)
    faults(dev, fail={"get_deployment": ["a", "b", "listed"]})
    with pytest.raises(RefreshError) as info:
        refresh({"dev": dev}, {"dev": ["b", "a", "listed", "new"]})
    lines = str(info.value).splitlines()
    assert lines[0] == "cannot tell whether 2 deployment(s) exist:"
    assert lines[1:3] == [
        "  target 'dev', get_deployment for dev/a: InjectedFault: injected failure: "
        "get_deployment a",
        "  target 'dev', get_deployment for dev/b: InjectedFault: injected failure: "
        "get_deployment b",
    ]
    assert lines[3].startswith("nothing was planned")
    assert [e.address for e in info.value.errors] == ["dev/a", "dev/b"]


def test_a_get_that_times_out_leaves_existence_unknown(tmp_path: Path, test_plugins: Any) -> None:
    test_plugins.write_faults(tmp_path, {"sleep": {"get_deployment": 0.5}})
    policy = CallPolicy(read_timeout=0.05, attempts=2, backoff=0.001)
    dev = load_target(f"seedtest:{tmp_path}", key="dev", policy=policy)
    with pytest.raises(RefreshError) as info:
        refresh({"dev": dev}, {"dev": ["m"]})
    (error,) = info.value.errors
    assert isinstance(error, TargetTimeoutError) and error.attempts == 2
    assert "dev/m: no answer within 50ms (after 2 attempts)" in str(info.value)


class Answers(FirstPageOnly):
    """Lists nothing; get raises what the test gives per name."""

    def __init__(self, raises: dict[str, BaseException]) -> None:
        super().__init__([])
        self.raises = raises

    def list_deployments(self) -> Any:
        return []

    def get_deployment(self, name: str) -> Any:
        raise self.raises[name]


class Coded(Exception):
    def __init__(self, text: str, error_code: str | None = None) -> None:
        super().__init__(text)
        self.error_code = error_code


def wrapped(outer: Exception, inner: BaseException) -> Exception:
    try:
        raise inner
    except BaseException:
        try:
            raise outer  # the implicit context (__context__) is the point
        except Exception as exc:
            return exc


def test_existence_follows_what_the_get_error_says() -> None:
    raises = {
        "keyerror": KeyError("keyerror"),
        "coded": Coded("gone", "RESOURCE_DOES_NOT_EXIST"),
        "sagemaker": Coded(
            'There was an error while retrieving the deployment: Could not find endpoint "x"',
            "INTERNAL_ERROR",
        ),
        "torchserve": ValueError(
            "Unable to get deployments with name x. Server returned status "
            "code 404 and response: b'Model not found'"
        ),
        "ray": wrapped(Coded("No deployment with name ray found"), KeyError("ray")),
        "internal": Coded("something broke", "INTERNAL_ERROR"),
        "throttled": Coded("Rate exceeded, not found in cache", "REQUEST_LIMIT_EXCEEDED"),
        "wrapped-connection": wrapped(
            Coded("error retrieving the deployment: endpoint not found?"),
            ConnectionResetError("reset"),
        ),
        "denied": PermissionError("no such permission"),
        "unhelpful": ValueError("Unable to get deployment with name unhelpful"),
        "http500": ValueError("Server returned status code 500"),
    }
    adapter = TargetAdapter("t", "fake:/x", Answers(raises), policy=CallPolicy(attempts=1))
    with pytest.raises(RefreshError) as info:
        refresh({"t": adapter}, {"t": list(raises)})
    unknown = [e.address for e in info.value.errors]
    assert unknown == [
        "t/denied",
        "t/http500",
        "t/internal",
        "t/throttled",
        "t/unhelpful",
        "t/wrapped-connection",
    ]
    absent = {"keyerror", "coded", "sagemaker", "torchserve", "ray"}
    known = {n: e for n, e in raises.items() if n in absent}
    view = refresh({"t": adapter}, {"t": list(known)})
    assert {s.name: s.exists for s in view.statuses.values()} == dict.fromkeys(absent, False)
    assert all((s.reason or "").startswith(ABSENT_PREFIX) for s in view.statuses.values())


def test_a_listed_name_whose_get_times_out_still_exists() -> None:
    class SlowGet(FirstPageOnly):
        def get_deployment(self, name: str) -> Any:
            time.sleep(1.0)
            return {"name": name}

    policy = CallPolicy(read_timeout=0.2, attempts=1)
    adapter = TargetAdapter("t", "fake:/x", SlowGet(["a"]), policy=policy)
    assert refresh({"t": adapter}, {"t": ["a"]}).statuses["t/a"].exists


def test_a_target_whose_list_returns_full_records_is_read_once_per_deployment(
    tmp_path: Path,
) -> None:
    local = load_target(f"local:{tmp_path}", key="dev")
    assert local.lists_full_records
    local.create("a", SPEC)
    local.create("b", DeploymentSpec("models:/b/2", config={"k": "v"}))
    asked: list[tuple[str, str | None]] = []
    client = local.client
    for method in ("list_deployments", "get_deployment"):
        real = getattr(client, method)

        def logged(*args: Any, _real: Any = real, _method: str = method, **kwargs: Any) -> Any:
            asked.append((_method, args[0] if args else None))
            return _real(*args, **kwargs)

        setattr(client, method, logged)
    view = refresh({"dev": local}, {"dev": ["a", "b", "new"]})
    # One list and no get: its records are whole, and its list is complete (a directory).
    assert asked == [("list_deployments", None)]
    assert view.statuses["dev/b"].record is not None
    assert view.statuses["dev/b"].record.config == {"k": "v"}
    assert not view.statuses["dev/new"].exists
    assert view.statuses["dev/new"].reason == NOT_LISTED_BY_COMPLETE_LIST


class FullButPaged:
    """Whole records in its list, but the list may leave deployments out (a page)."""

    LIST_RETURNS_FULL_RECORDS = True

    def __init__(self) -> None:
        self.records = {n: {"name": n, "model_uri": f"models:/{n}/1"} for n in ("a", "b")}
        self.asked: list[str] = []

    def create_deployment(self, name: str, model_uri: str) -> None:
        raise NotImplementedError

    def delete_deployment(self, name: str) -> None:
        raise NotImplementedError

    def list_deployments(self) -> list[dict[str, str]]:
        return [self.records["a"]]  # one page

    def get_deployment(self, name: str) -> dict[str, str]:
        self.asked.append(name)
        if name not in self.records:
            raise KeyError(name)
        return self.records[name]


def test_full_list_records_without_a_complete_list_get_only_what_the_list_left_out() -> None:
    client = FullButPaged()
    view = refresh({"t": TargetAdapter("t", "paged:/x", client)}, {"t": ["a", "b", "c"]})
    assert sorted(client.asked) == ["b", "c"]
    assert view.statuses["t/b"].exists and view.statuses["t/b"].reason == FOUND_BY_GET
    assert not view.statuses["t/c"].exists


def test_a_plugin_that_does_not_declare_full_list_records_is_still_read_with_get(
    load: Load,
) -> None:
    dev = load("seedtest", key="dev")
    assert not dev.lists_full_records


class Overlapping:
    """Lists slowly and records how many of its lists ran at once (class-wide)."""

    running = 0
    most = 0
    lock = threading.Lock()

    def create_deployment(self, name: str, model_uri: str) -> None:
        raise NotImplementedError

    def delete_deployment(self, name: str) -> None:
        raise NotImplementedError

    def get_deployment(self, name: str) -> dict[str, str]:
        raise KeyError(name)

    def list_deployments(self) -> list[dict[str, str]]:
        with Overlapping.lock:
            Overlapping.running += 1
            Overlapping.most = max(Overlapping.most, Overlapping.running)
        time.sleep(0.05)
        with Overlapping.lock:
            Overlapping.running -= 1
        return []


class InProcess(Overlapping):
    RUNS_IN_PROCESS = True


@pytest.mark.parametrize(("client", "most"), [(Overlapping, 4), (InProcess, 1)])
def test_targets_that_run_in_process_are_read_one_after_another(
    client: type[Overlapping], most: int
) -> None:
    Overlapping.running = Overlapping.most = 0
    adapters = {f"t{i}": TargetAdapter(f"t{i}", "x:/y", client()) for i in range(4)}
    refresh(adapters, {}, max_workers=8)
    assert Overlapping.most == most
