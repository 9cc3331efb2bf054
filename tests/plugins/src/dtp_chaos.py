"""A deployment plugin that misbehaves on purpose: the target of deployctl's soak (tests/soak).

Deployments are JSON files under ``DIR/records`` (``chaostest:/abs/dir``, see ``dtp_common``),
one file per deployment written atomically (temporary file, fsync, rename: a process killed at
any moment leaves the old record or the new one, never half of one), so every process sees the
same live deployments. MLflow 3 signatures, duck-typed (no MLflow import, so it loads fast);
errors carry MLflow error codes as ``error_code``: ``RESOURCE_DOES_NOT_EXIST`` for a missing
name (get, update), ``RESOURCE_ALREADY_EXISTS`` for a create of an existing one; a delete of a
missing name does nothing (as MLflow documents, and deployctl's conformance kit checks).

Faults are read on every call from ``DIR/chaos.json`` (``write_chaos``), or from the environment
variable ``DTP_CHAOS`` (JSON text, or the path of a JSON file), which wins::

    {
      "seed": 7,
      "fail": {"rate": 0.1, "unavailable": 0.5, "after_effect": 0.3},
      "latency": {"fixed": 0.02, "jitter": 0.1},
      "hang": [{"call": "create_deployment", "name": "d3", "after_effect": true,
                "seconds": 3600, "times": 1}],
      "lag": {"list_calls": 2, "seconds": 0.5}
    }

- ``fail.rate``: the chance that a call fails (a number, or ``{method: rate}``); of those,
  the share ``unavailable`` raises ``TEMPORARILY_UNAVAILABLE`` (transient: nothing happened), the
  rest a generic ``ChaosError`` without a code. For create, update and delete the share
  ``after_effect`` of the generic failures happens *after* the change was made (the call raises,
  but the deployment was created, updated or deleted);
- ``latency``: every call sleeps ``fixed`` plus up to ``jitter`` seconds first;
- ``hang``: a matching call (``call``, and ``name`` unless absent) sleeps ``seconds`` (default an
  hour: longer than any timeout), before its effect or, with ``after_effect``, after it; only
  the first ``times`` matching calls of a process (default 1) hang;
- ``lag``: eventual consistency. A deployment that a create made is left out of
  ``list_deployments`` until ``list_calls`` list calls have left it out and ``seconds`` have
  passed, while ``get_deployment`` finds it at once. The lag belongs to the target (it is kept in
  ``DIR/lag``), so it outlives a change of ``chaos.json``, as a real target's would.

Deterministic under ``seed``: whether the n-th call of a process to (method, name) fails, how
long it sleeps and so on depend only on the seed, the method, the name and n, not on how
threads interleave. Every injected fault is appended to ``DIR/chaos.jsonl`` (``read_events``),
and every call to ``DIR/calls.jsonl`` (``dtp_common.read_calls``). ``live_records`` reads what
the target holds straight from its files, for a test to compare with deployctl's state.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dtp_common import Store, _write_json, record_run_local

SCHEME = "chaostest"
CONFIG = "chaos.json"
EVENTS = "chaos.jsonl"
LAG = "lag"
ENV = "DTP_CHAOS"
HANG_SECONDS = 3600.0
WRITES = ("create_deployment", "update_deployment", "delete_deployment")

T = TypeVar("T")


class ChaosUnavailable(RuntimeError):
    """An injected refusal: the target is busy, nothing happened, try again later."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class ChaosError(RuntimeError):
    """An injected server error without a code: the call may or may not have taken effect."""


class ChaosNotFound(LookupError):
    """No deployment of that name."""

    error_code = "RESOURCE_DOES_NOT_EXIST"

    def __str__(self) -> str:  # LookupError would quote its argument as KeyError does
        return str(self.args[0]) if self.args else ""


class ChaosExists(RuntimeError):
    """A create of a name that exists."""

    error_code = "RESOURCE_ALREADY_EXISTS"


# -- configuration and events (for tests) ----------------------------------------------------------


def write_chaos(directory: str | os.PathLike[str], config: dict[str, Any] | None) -> None:
    """Replace the faults of the target in ``directory`` (``None`` or ``{}``: none)."""
    _write_json(Path(directory) / CONFIG, config or {})


def read_events(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every fault injected so far: kind, call, name, pid, time."""
    try:
        lines = (Path(directory) / EVENTS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        with contextlib.suppress(ValueError):  # a line cut short by kill -9
            events.append(json.loads(line))
    return events


def live_records(directory: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """What the target in ``directory`` holds, by name, read from its files (no lag, no faults)."""
    store = Store(f"{SCHEME}:{Path(directory)}")
    records = {name: store.read(name) for name in store.names()}
    return {name: record for name, record in records.items() if record is not None}


def _config(directory: Path) -> dict[str, Any]:
    text = os.environ.get(ENV)
    try:
        if text and text.lstrip().startswith("{"):
            data = json.loads(text)
        elif text:
            data = json.loads(Path(text).read_text(encoding="utf-8"))
        else:
            data = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def _append(path: Path, entry: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one line with O_APPEND: lines from concurrent callers do not interleave.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


# -- deciding the faults of one call ---------------------------------------------------------------

# Calls made so far by this process, per (target directory, method, name): the n of each
# decision, so that a decision does not depend on the order in which threads get there.
_counts: dict[tuple[str, str, str | None], int] = {}
_counts_lock = threading.Lock()


def _next_count(directory: Path, method: str, name: str | None) -> int:
    key = (str(directory), method, name)
    with _counts_lock:
        n = _counts.get(key, 0)
        _counts[key] = n + 1
    return n


@dataclass(frozen=True)
class _Decision:
    latency: float
    fail: str | None  # "unavailable", "error", or None
    fail_after_effect: bool
    hang: float
    hang_after_effect: bool


def _rate(value: Any, method: str) -> float:
    if isinstance(value, dict):
        value = value.get(method, 0)
    return float(value or 0)


def _decide(config: dict[str, Any], method: str, name: str | None, n: int) -> _Decision:
    rng = random.Random(f"{config.get('seed', 0)}:{method}:{name}:{n}")
    latency = config.get("latency") or {}
    delay = float(latency.get("fixed", 0)) + rng.uniform(0, float(latency.get("jitter", 0)))
    fail_config = config.get("fail") or {}
    fail = None
    after_effect = False
    if rng.random() < _rate(fail_config.get("rate"), method):
        if rng.random() < float(fail_config.get("unavailable", 0.5)):
            fail = "unavailable"
        else:
            fail = "error"
            after_effect = method in WRITES and rng.random() < float(
                fail_config.get("after_effect", 0)
            )
    hang = 0.0
    hang_after = False
    for entry in config.get("hang") or []:
        if entry.get("call") != method or entry.get("name", name) != name:
            continue
        if n < int(entry.get("times", 1)):
            hang = float(entry.get("seconds", HANG_SECONDS))
            hang_after = bool(entry.get("after_effect")) and method in WRITES
        break
    return _Decision(delay, fail, after_effect, hang, hang_after)


# -- the client ------------------------------------------------------------------------------------


class ChaosDeploymentClient:
    """Deployments as JSON files under the target directory, with faults (MLflow 3 signatures)."""

    def __init__(self, target_uri: str) -> None:
        self.target_uri = target_uri
        self.store = Store(target_uri)
        self.dir = self.store.dir

    # -- faults --

    def _event(self, kind: str, method: str, name: str | None) -> None:
        entry = {
            "kind": kind,
            "call": method,
            "name": name,
            "pid": os.getpid(),
            "time": time.time(),
        }
        _append(self.dir / EVENTS, entry)

    def _faulty(self, method: str, name: str | None, effect: Callable[[], T]) -> T:
        """Run ``effect`` (the call's work, which takes the store lock itself) between the
        faults decided for this call. Sleeps and hangs happen outside the store lock."""
        config = _config(self.dir)
        decision = _decide(config, method, name, _next_count(self.dir, method, name))
        if decision.latency > 0:
            time.sleep(decision.latency)
        if decision.hang and not decision.hang_after_effect:
            self._event("hang", method, name)
            time.sleep(decision.hang)
        if decision.fail == "unavailable":
            self._event("unavailable", method, name)
            raise ChaosUnavailable(f"chaos: {method} refused, the target is busy; try again")
        if decision.fail == "error" and not decision.fail_after_effect:
            self._event("error", method, name)
            raise ChaosError(f"chaos: {method} failed with a server error")
        result = effect()
        if decision.hang and decision.hang_after_effect:
            self._event("hang_after_effect", method, name)
            time.sleep(decision.hang)
        if decision.fail_after_effect:
            self._event("error_after_effect", method, name)
            raise ChaosError(f"chaos: {method} failed with a server error after its change")
        return result

    @contextlib.contextmanager
    def _call(self, method: str, name: str | None, *args: Any, **kwargs: Any) -> Iterator[None]:
        with self.store.call(method, name, *args, **kwargs):
            yield

    def _get(self, name: str) -> dict[str, Any]:
        record = self.store.read(name)
        if record is None:
            raise ChaosNotFound(f"deployment {name} does not exist")
        return record

    # -- eventual consistency --

    def _start_lag(self, name: str) -> None:
        lag = _config(self.dir).get("lag") or {}
        calls, seconds = int(lag.get("list_calls", 0)), float(lag.get("seconds", 0))
        if calls > 0 or seconds > 0:
            _write_json(
                self.dir / LAG / f"{name}.json", {"calls": calls, "until": time.time() + seconds}
            )
            self._event("lag", "create_deployment", name)

    def _end_lag(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / LAG / f"{name}.json").unlink()

    def _lagging(self) -> set[str]:
        """Names the list leaves out this time (counting this list call for each)."""
        hidden = set()
        now = time.time()
        try:
            entries = sorted((self.dir / LAG).glob("*.json"))
        except FileNotFoundError:
            return hidden
        for path in entries:
            try:
                lag = json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                continue
            calls = int(lag.get("calls", 0))
            if calls <= 0 and now >= float(lag.get("until", 0)):
                self._end_lag(path.stem)
                continue
            hidden.add(path.stem)
            if calls > 0:
                _write_json(path, {**lag, "calls": calls - 1})
        return hidden

    # -- the plugin API --

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        def create() -> dict[str, Any]:
            with self.store.locked():
                if self.store.read(name) is not None:
                    raise ChaosExists(f"deployment {name} already exists")
                record = {
                    "name": name,
                    "model_uri": model_uri,
                    "flavor": flavor,
                    "config": dict(config or {}),
                    "state": "READY",
                }
                self._start_lag(name)
                self.store.write(name, record)
                return record

        with self._call("create_deployment", name, name, model_uri, flavor, config=config):
            return self._faulty("create_deployment", name, create)

    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        def update() -> dict[str, Any]:
            with self.store.locked():
                record = self._get(name)
                if model_uri is not None:
                    record["model_uri"] = model_uri
                if flavor is not None:
                    record["flavor"] = flavor
                if config is not None:
                    record["config"] = dict(config)
                self.store.write(name, record)
                return record

        with self._call(
            "update_deployment", name, name, model_uri=model_uri, flavor=flavor, config=config
        ):
            return self._faulty("update_deployment", name, update)

    def delete_deployment(self, name, config=None, endpoint=None):
        def delete() -> None:
            with self.store.locked():  # idempotent, as MLflow documents
                self.store.remove(name)
                self._end_lag(name)

        with self._call("delete_deployment", name, name):
            self._faulty("delete_deployment", name, delete)

    def get_deployment(self, name, endpoint=None):
        with self._call("get_deployment", name, name):
            return self._faulty("get_deployment", name, lambda: self._get(name))

    def list_deployments(self, endpoint=None):
        def listing() -> list[dict[str, Any]]:
            with self.store.locked():
                hidden = self._lagging()
                records = (self.store.read(n) for n in self.store.names() if n not in hidden)
                return [r for r in records if r is not None]

        with self._call("list_deployments", None):
            return self._faulty("list_deployments", None, listing)

    def predict(self, deployment_name=None, inputs=None, endpoint=None):
        with self._call("predict", deployment_name, deployment_name):
            record = self._get(deployment_name)
            rows = len(inputs) if inputs is not None else 0
            return {"predictions": [record["model_uri"]] * rows}


def run_local(target, name, model_uri, flavor=None, config=None):
    """Returns (and logs, see ``dtp_common.record_run_local``) what it was given."""
    return record_run_local(
        {
            "form": "chaos",
            "target": target,
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": config,
        }
    )


def target_help():
    return "chaostest:/abs/dir - a test target that fails, stalls, hangs and lags on purpose."
