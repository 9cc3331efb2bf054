"""Read-back after every change: what a target did not take is a warning (an error with
``strict``), state records what the target reports, and the next plan plans it again.

The targets here are in-process clients whose quirks each test picks (``Quirky``): one that
ignores updates of some fields (as mlflow-torchserve ignores ``model_uri``), one that normalises
values or adds defaults, one whose create returns the whole record. The rules themselves are
tested on ``readback.not_taken`` directly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from deployctl.executor import Executor
from deployctl.executor.console import CaptureConsole
from deployctl.executor.readback import NotTaken, not_taken, taken
from deployctl.executor.results import ApplyReport
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec, JSONObject, Lifecycle
from deployctl.model.live import LiveRecord
from deployctl.model.sensitive import SecretKey
from deployctl.planner import Action, DesiredTarget, Plan, make_plan
from deployctl.state.local import LocalStateBackend
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.records import DEFAULT_RECORD_SHAPE
from deployctl.targets.refresh import refresh

URI = "quirky:/x"
V1 = DeploymentSpec("models:/churn/1", "python_function", {"workers": 1})
V2 = DeploymentSpec("models:/churn/2", "python_function", {"workers": 1})


class Quirky:
    """An in-process deployment client: records in a dict, every call counted.

    ``ignores``: fields an update reports success for and leaves as they were; ``normalise``:
    config values are kept as text (``2`` becomes ``"2"``); ``defaults``: config keys the target
    adds; ``drops``: config keys it never keeps; ``returns_record``: create and update return the
    whole record (else create returns only a name, and update nothing).
    """

    def __init__(
        self,
        *,
        ignores: tuple[str, ...] = (),
        normalise: bool = False,
        defaults: JSONObject | None = None,
        drops: tuple[str, ...] = (),
        returns_record: bool = False,
    ) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.ignores = ignores
        self.normalise = normalise
        self.defaults = defaults or {}
        self.drops = drops
        self.returns_record = returns_record

    def _config(self, config: Any) -> dict[str, Any]:
        kept = {k: v for k, v in dict(config or {}).items() if k not in self.drops}
        if self.normalise:
            kept = {k: str(v) for k, v in kept.items()}
        return {**self.defaults, **kept}

    def create_deployment(
        self, name: str, model_uri: str, flavor: Any = None, config: Any = None
    ) -> Any:
        self.calls.append("create_deployment")
        self.records[name] = {
            "name": name,
            "model_uri": model_uri,
            "flavor": flavor,
            "config": self._config(config),
        }
        return copy.deepcopy(self.records[name]) if self.returns_record else {"name": name}

    def update_deployment(
        self, name: str, model_uri: Any = None, flavor: Any = None, config: Any = None
    ) -> Any:
        self.calls.append("update_deployment")
        record = self.records[name]
        sent = {"model_uri": model_uri, "flavor": flavor, "config": self._config(config)}
        for field, value in sent.items():
            if field not in self.ignores and value is not None:
                record[field] = value
        return copy.deepcopy(record) if self.returns_record else None

    def get_deployment(self, name: str) -> Any:
        self.calls.append("get_deployment")
        if name not in self.records:
            raise KeyError(name)
        return copy.deepcopy(self.records[name])

    def list_deployments(self) -> Any:
        self.calls.append("list_deployments")
        return [copy.deepcopy(r) for r in self.records.values()]

    def delete_deployment(self, name: str) -> None:
        self.calls.append("delete_deployment")
        del self.records[name]


def plan(client: Quirky, backend: LocalStateBackend, spec: DeploymentSpec, **kw: Any) -> Plan:
    desired = [DesiredTarget(DesiredDeployment("t", "churn", spec, **kw), URI)]
    live = refresh({"t": TargetAdapter("t", URI, client)}, {"t": {"churn"}})
    return make_plan("dev", desired, backend.read(), live)


def apply(client: Quirky, backend: LocalStateBackend, plan: Plan, *, strict: bool = False) -> Any:
    adapter = TargetAdapter("t", URI, client)
    console = CaptureConsole()
    with backend.lock(operation="apply") as session:
        report = Executor(lambda key, uri: adapter, session, console, strict=strict).execute(plan)
    return report, console


def converge(client: Quirky, backend: LocalStateBackend, spec: DeploymentSpec) -> ApplyReport:
    report: ApplyReport = apply(client, backend, plan(client, backend, spec))[0]
    return report


@pytest.fixture
def backend(tmp_path: Path) -> LocalStateBackend:
    return LocalStateBackend(tmp_path / "state.json")


# -- an ignored update --------------------------------------------------------------------------


def test_an_ignored_update_is_a_warning_naming_the_field_and_both_values(
    backend: LocalStateBackend,
) -> None:
    client = Quirky(ignores=("model_uri",))
    converge(client, backend, V1)
    report, console = apply(client, backend, plan(client, backend, V2))
    [result] = report.results
    assert result.ok and report.ok
    assert result.warnings == (
        "t/churn: the target did not take model_uri: sent models:/churn/2, it reports "
        "models:/churn/1",
    )
    assert result.note == (
        "the state records what the target reports: the next plan plans the change again"
    )
    assert result.to_json()["warnings"] == list(result.warnings)
    finished = [e[1] for e in console.events if e[0] == "action_finished"]
    assert finished == [result]


def test_state_records_what_the_target_took_so_the_next_plan_updates_that_field_again(
    backend: LocalStateBackend,
) -> None:
    client = Quirky(ignores=("model_uri",))
    converge(client, backend, DeploymentSpec("models:/churn/1", None, {"workers": 1}))
    change = DeploymentSpec("models:/churn/2", None, {"workers": 3})
    apply(client, backend, plan(client, backend, change))
    record = backend.read().records["t/churn"]
    # The workers change was taken; the model URI was not: it is recorded as the target has it.
    assert record.applied == DeploymentSpec("models:/churn/1", None, {"workers": 3})
    assert record.live is not None and record.live.model_uri == "models:/churn/1"
    again = plan(client, backend, change)
    [update] = list(again.actionable())
    assert update.action is Action.UPDATE
    assert [(d.path, d.before, d.after) for d in update.diff] == [
        ("model_uri", "models:/churn/1", "models:/churn/2")
    ]
    assert update.reason == "the manifest differs from the last applied version"


def test_strict_fails_the_action_and_still_records_the_truth(backend: LocalStateBackend) -> None:
    client = Quirky(ignores=("model_uri",))
    converge(client, backend, V1)
    report, _ = apply(client, backend, plan(client, backend, V2), strict=True)
    [result] = report.results
    assert not result.ok and not report.ok
    assert result.error == (
        "the target did not take model_uri: sent models:/churn/2, it reports models:/churn/1 "
        "(--strict)"
    )
    assert result.warnings == ()
    assert backend.read().records["t/churn"].applied.model_uri == "models:/churn/1"
    assert backend.read().intents == {}


def test_a_target_that_takes_everything_gives_no_warning(backend: LocalStateBackend) -> None:
    client = Quirky()
    converge(client, backend, V1)
    report, _ = apply(client, backend, plan(client, backend, V2), strict=True)
    assert report.ok and report.warnings == ()
    assert backend.read().records["t/churn"].applied == V2


# -- no perpetual updates -----------------------------------------------------------------------


def test_a_target_that_normalises_values_and_adds_defaults_converges(
    backend: LocalStateBackend,
) -> None:
    client = Quirky(normalise=True, defaults={"timeout": 30})
    first = converge(client, backend, V1)
    assert first.ok and first.warnings == ()
    second = converge(client, backend, DeploymentSpec(V1.model_uri, V1.flavor, {"workers": 4}))
    assert second.ok and second.warnings == ()
    assert client.records["churn"]["config"] == {"timeout": 30, "workers": "4"}
    after = plan(client, backend, DeploymentSpec(V1.model_uri, V1.flavor, {"workers": 4}))
    assert [c.action for c in after.changes] == [Action.NOOP]


def test_a_dropped_config_key_is_not_taken_and_planned_again(backend: LocalStateBackend) -> None:
    client = Quirky(drops=("region",))
    spec = DeploymentSpec(V1.model_uri, V1.flavor, {"workers": 1, "region": "eu"})
    report = converge(client, backend, spec)
    assert report.warnings == (
        "t/churn: the target did not take config.region: sent eu, it does not report it",
    )
    assert backend.read().records["t/churn"].applied.config == {"workers": 1}
    [again] = plan(client, backend, spec).changes
    assert again.action is Action.UPDATE
    assert [d.path for d in again.diff] == ["config.region"]


# -- the full record a plugin returns -----------------------------------------------------------


def test_a_create_and_an_update_returning_the_whole_record_are_not_read_again(
    backend: LocalStateBackend,
) -> None:
    client = Quirky(returns_record=True)
    create = plan(client, backend, V1)
    client.calls.clear()
    apply(client, backend, create)
    assert client.calls == ["create_deployment"]
    update = plan(client, backend, V2)
    client.calls.clear()
    apply(client, backend, update)
    assert client.calls == ["update_deployment"]
    record = backend.read().records["t/churn"]
    assert record.live is not None and record.live.model_uri == "models:/churn/2"


def test_what_a_plugin_returns_still_shows_an_ignored_field(backend: LocalStateBackend) -> None:
    client = Quirky(returns_record=True, ignores=("model_uri",))
    converge(client, backend, V1)
    update = plan(client, backend, V2)
    client.calls.clear()
    report, _ = apply(client, backend, update)
    assert client.calls == ["update_deployment"]
    assert report.results[0].warnings[0].startswith("t/churn: the target did not take model_uri")


def test_a_create_returning_less_than_the_record_is_read_back(backend: LocalStateBackend) -> None:
    client = Quirky()  # create returns only the name; update returns None
    create = plan(client, backend, V1)
    client.calls.clear()
    apply(client, backend, create)
    assert client.calls == ["create_deployment", "get_deployment"]
    update = plan(client, backend, V2)
    client.calls.clear()
    apply(client, backend, update)
    assert client.calls == ["update_deployment", "get_deployment"]


# -- replace and import ---------------------------------------------------------------------------


def test_the_create_half_of_a_replace_is_read_back(backend: LocalStateBackend) -> None:
    client = Quirky(drops=("gpu",))
    converge(client, backend, V1)
    spec = DeploymentSpec(V2.model_uri, V2.flavor, {"workers": 1, "gpu": True})
    change = plan(client, backend, spec, lifecycle=Lifecycle(replace_on=("model_uri",)))
    assert [c.action for c in change.actionable()] == [Action.REPLACE]
    report, _ = apply(client, backend, change)
    assert report.results[0].warnings == (
        "t/churn: the target did not take config.gpu: sent true, it does not report it",
    )


def test_the_update_of_an_import_is_read_back(backend: LocalStateBackend) -> None:
    client = Quirky(ignores=("model_uri",))
    client.create_deployment("churn", "models:/churn/1", "python_function", {"workers": 1})
    report, _ = apply(client, backend, plan(client, backend, V2, adopt=True))
    [result] = report.results
    assert result.action is Action.IMPORT
    assert result.warnings == (
        "t/churn: the target did not take model_uri: sent models:/churn/2, it reports "
        "models:/churn/1",
    )
    assert backend.read().records["t/churn"].applied.model_uri == "models:/churn/1"


# -- the rules, one by one ------------------------------------------------------------------------


def live(**fields: Any) -> LiveRecord:
    body = {"name": "churn", **fields}
    return DEFAULT_RECORD_SHAPE.record("churn", body)


def test_only_the_fields_and_keys_the_change_sets_are_compared() -> None:
    before = DeploymentSpec("models:/churn/1", "python_function", {"workers": 2, "gpu": True})
    sent = DeploymentSpec("models:/churn/1", "python_function", {"workers": 3, "gpu": True})
    # The target keeps its old form of the values left alone ("True", a flavor alias).
    now = live(model_uri="models:/churn/1", flavor="pyfunc", config={"workers": 3, "gpu": "True"})
    assert not_taken(sent, before, before.to_json(), now) == ()


def test_a_value_still_as_reported_before_the_change_is_not_taken() -> None:
    before = DeploymentSpec("models:/churn/1", None, {"workers": 2})
    sent = DeploymentSpec("models:/churn/1", None, {"workers": 3})
    # After the last apply the target reported workers as "2" (its form): it still does.
    baseline: JSONObject = {
        "model_uri": "models:/churn/1",
        "flavor": None,
        "config": {"workers": "2"},
    }
    now = live(model_uri="models:/churn/1", config={"workers": "2"})
    assert not_taken(sent, before, baseline, now) == (NotTaken("config.workers", 3, "2"),)


def test_a_value_changed_to_another_form_was_taken() -> None:
    before = DeploymentSpec("models:/churn/1", None, {"workers": 2})
    sent = DeploymentSpec("models:/churn/2", None, {"workers": 3})
    now = live(model_uri="models:/churn/2/", config={"workers": "3"})
    assert not_taken(sent, before, before.to_json(), now) == ()


def test_a_create_only_misses_the_config_keys_the_target_drops() -> None:
    sent = DeploymentSpec("models:/churn/1", "pytorch", {"workers": 2, "region": "eu"})
    now = live(model_uri="models:/churn/1/", flavor="torch", config={"workers": "2"})
    assert not_taken(sent, None, None, now) == (NotTaken("config.region", "eu", missing=True),)


def test_fields_the_target_does_not_report_are_not_compared() -> None:
    before = DeploymentSpec("models:/churn/1", None, {"workers": 2})
    sent = DeploymentSpec("models:/churn/2", "pytorch", {"workers": 3})
    assert not_taken(sent, before, before.to_json(), live()) == ()


def test_a_target_reporting_some_config_keys_is_compared_on_those_only() -> None:
    shape = DEFAULT_RECORD_SHAPE.with_fields({"config.workers": "workers"})
    before = DeploymentSpec("models:/churn/1", None, {"workers": 2, "region": "us"})
    sent = DeploymentSpec("models:/churn/1", None, {"workers": 3, "region": "eu"})
    now = shape.record("churn", {"name": "churn", "model_uri": "models:/churn/1", "workers": 2})
    assert now.config_keys == ("workers",)
    assert not_taken(sent, before, before.to_json(), now) == (NotTaken("config.workers", 3, 2),)


def test_secrets_are_compared_as_markers_and_never_shown() -> None:
    key = SecretKey.for_environment("dev", {})
    old, new = key.mask("old-token"), key.mask("new-token")
    before = DeploymentSpec("models:/churn/1", None, {"token": old})
    sent = DeploymentSpec("models:/churn/1", None, {"token": new})
    assert not_taken(sent, before, None, live(config={"token": new})) == ()
    [missed] = not_taken(sent, before, None, live(config={"token": old}))
    assert missed.describe() == "config.token: sent (sensitive), it reports (sensitive)"


def test_the_recorded_spec_takes_the_reported_value_of_each_field_not_taken() -> None:
    sent = DeploymentSpec("models:/churn/2", None, {"workers": 3, "region": "eu"})
    missed = (
        NotTaken("model_uri", "models:/churn/2", "models:/churn/1"),
        NotTaken("config.workers", 3, 2),
        NotTaken("config.region", "eu", missing=True),
    )
    assert taken(sent, missed) == DeploymentSpec("models:/churn/1", None, {"workers": 2})
    assert taken(sent, ()) is sent


def test_a_removed_key_the_target_still_reports_with_its_old_value_is_not_taken() -> None:
    before = DeploymentSpec("models:/churn/1", None, {"workers": 2, "region": "eu"})
    sent = DeploymentSpec("models:/churn/1", None, {"workers": 2})
    kept = live(model_uri="models:/churn/1", config={"workers": 2, "region": "eu"})
    (missed,) = not_taken(sent, before, before.to_json(), kept)
    assert missed == NotTaken("config.region", None, "eu", removed=True)
    assert missed.describe() == "config.region: removed, it still reports eu"
    assert taken(sent, (missed,)).config == {"workers": 2, "region": "eu"}
    # A target that reports its own default in its place took the removal.
    defaulted = live(model_uri="models:/churn/1", config={"workers": 2, "region": "us"})
    assert not_taken(sent, before, before.to_json(), defaulted) == ()


@pytest.mark.parametrize(
    "spec",
    [
        DeploymentSpec("models:/m/1", "python_function", {"workers": 1}),
        DeploymentSpec("models:/m/1", None, {}),
        DeploymentSpec("models:/m/1"),
    ],
)
def test_a_create_sets_every_field_it_has_and_no_field_it_leaves_unset(
    spec: DeploymentSpec,
) -> None:
    from deployctl.executor.readback import changed_fields
    from deployctl.model import SPEC_FIELDS, json_equal

    want = spec.to_json()
    # What differs from nothing: every field but the unset ones (an empty config is set).
    expected = [f for f in SPEC_FIELDS if not json_equal(want[f], None)]
    assert changed_fields(spec, None) == expected
    assert ("flavor" in expected) == (spec.flavor is not None) and "config" in expected
