"""The drift report on plain data (no I/O): statuses, field diffs, unreported fields, unmanaged."""

from __future__ import annotations

import json

import jsonschema
import pytest
from support import REPO

from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, FieldChange, make_plan
from deployctl.planner.drift import DriftStatus, drift_report

URI = "local:/tmp/t"
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2})


def live_record(name: str = "churn", spec: DeploymentSpec | None = SPEC) -> LiveRecord:
    if spec is None:  # a target that reports nothing but the name
        return LiveRecord(name, {"name": name})
    return LiveRecord(name, {"name": name}, spec.model_uri, spec.flavor, spec.config)


def record(
    name: str = "churn",
    spec: DeploymentSpec = SPEC,
    live: LiveRecord | None = None,
    target: str = "local",
) -> StateRecord:
    return StateRecord(target, name, URI, spec, live, "2026-01-01T00:00:00Z")


def state(*records: StateRecord) -> StateDocument:
    return StateDocument("lineage-1", 3, "dev", {r.address: r for r in records})


def present(name: str = "churn", reported: LiveRecord | None = None) -> LiveStatus:
    return LiveStatus("local", name, True, reported or live_record(name))


def absent(name: str = "churn", reason: str | None = "get_deployment raised: gone") -> LiveStatus:
    return LiveStatus("local", name, False, None, reason)


def view(*statuses: LiveStatus) -> LiveView:
    return LiveView({s.address: s for s in statuses})


def test_a_deployment_that_matches_its_last_apply_is_in_sync() -> None:
    report = drift_report("dev", state(record(live=live_record())), view(present()))
    (churn,) = report.deployments
    assert churn.status is DriftStatus.IN_SYNC
    assert churn.diff == ()
    assert churn.not_reported == ()
    assert not report.has_drift
    assert report.summary() == {"drifted": 0, "vanished": 0, "unmanaged": 0, "in_sync": 1}


def test_a_changed_config_is_drift_with_dotted_field_paths_from_applied_to_live() -> None:
    now = live_record(spec=DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 9}))
    report = drift_report("dev", state(record(live=live_record())), view(present(reported=now)))
    (churn,) = report.deployments
    assert churn.status is DriftStatus.DRIFTED
    assert churn.reason == "changed on the target outside deployctl (config)"
    assert churn.diff == (FieldChange("config.workers", 2, 9),)
    assert report.has_drift


def test_drift_is_measured_against_what_the_target_reported_after_the_apply() -> None:
    # The plugin added a default (timeout) when it deployed: that is not drift...
    reported = DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 2, "timeout": 30})
    then = live_record(spec=reported)
    same = drift_report("dev", state(record(live=then)), view(present(reported=then)))
    assert same.deployments[0].status is DriftStatus.IN_SYNC
    # ...but a later change of that default is, from the reported value.
    changed = live_record(
        spec=DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 2, "timeout": 60})
    )
    report = drift_report("dev", state(record(live=then)), view(present(reported=changed)))
    assert report.deployments[0].diff == (FieldChange("config.timeout", 30, 60),)


def test_without_a_record_read_back_the_applied_values_are_the_baseline() -> None:
    now = live_record(spec=DeploymentSpec("models:/churn/4", SPEC.flavor, SPEC.config))
    report = drift_report("dev", state(record(live=None)), view(present(reported=now)))
    (churn,) = report.deployments
    assert churn.status is DriftStatus.DRIFTED
    assert churn.diff == (FieldChange("model_uri", "models:/churn/3", "models:/churn/4"),)


def test_fields_the_target_does_not_report_are_listed_not_counted_as_drift() -> None:
    only_uri = LiveRecord("churn", {"name": "churn"}, model_uri=SPEC.model_uri)
    report = drift_report(
        "dev", state(record(live=live_record())), view(present(reported=only_uri))
    )
    (churn,) = report.deployments
    assert churn.status is DriftStatus.IN_SYNC
    assert churn.not_reported == ("flavor", "config")
    assert not report.has_drift


def test_a_target_that_reports_nothing_leaves_every_field_unchecked() -> None:
    bare = live_record(spec=None)
    report = drift_report("dev", state(record(live=bare)), view(present(reported=bare)))
    assert report.deployments[0].status is DriftStatus.IN_SYNC
    assert report.deployments[0].not_reported == ("model_uri", "flavor", "config")


def test_a_drifted_deployment_still_lists_its_unreported_fields() -> None:
    no_config = LiveRecord("churn", {"name": "churn"}, "models:/churn/9", SPEC.flavor)
    report = drift_report("dev", state(record()), view(present(reported=no_config)))
    (churn,) = report.deployments
    assert churn.status is DriftStatus.DRIFTED
    assert [d.path for d in churn.diff] == ["model_uri"]
    assert churn.not_reported == ("config",)


def test_a_recorded_deployment_missing_on_the_target_vanished_with_the_refresh_reason() -> None:
    report = drift_report("dev", state(record()), view(absent(reason="get_deployment raised: 404")))
    (churn,) = report.deployments
    assert churn.status is DriftStatus.VANISHED
    assert churn.reason == "get_deployment raised: 404"
    assert churn.diff == ()
    assert churn.not_reported == ()


@pytest.mark.parametrize("live", [view(), view(absent(reason=None))])
def test_a_vanished_deployment_without_a_reason_says_not_found(live: LiveView) -> None:
    (churn,) = drift_report("dev", state(record()), live).deployments
    assert churn.status is DriftStatus.VANISHED
    assert churn.reason == "not found on the target"


def test_live_deployments_the_state_does_not_record_are_unmanaged() -> None:
    report = drift_report(
        "dev", state(record(live=live_record())), view(present(), present("stray"))
    )
    assert [u.address for u in report.unmanaged] == ["local/stray"]
    assert [d.address for d in report.deployments] == ["local/churn"]
    assert report.has_drift  # a deployment created outside deployctl is a change outside it
    assert report.summary()["unmanaged"] == 1


def test_every_recorded_address_is_checked_in_address_order() -> None:
    records = [record(n, live=live_record(n)) for n in ("zeta", "alpha", "mid")]
    live = view(present("zeta"), absent("alpha"), present("mid"))
    report = drift_report("dev", state(*records), live)
    assert [d.address for d in report.deployments] == ["local/alpha", "local/mid", "local/zeta"]
    assert report.summary() == {"drifted": 0, "vanished": 1, "unmanaged": 0, "in_sync": 2}


@pytest.mark.parametrize(
    "now",
    [
        SPEC,
        DeploymentSpec("models:/churn/4", SPEC.flavor, SPEC.config),
        DeploymentSpec(SPEC.model_uri, "sklearn", SPEC.config),
        DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 2, "extra": True}),
        DeploymentSpec(SPEC.model_uri, SPEC.flavor, {}),
    ],
)
def test_drift_and_plan_agree_on_what_drifted(now: DeploymentSpec) -> None:
    recorded = state(record(live=live_record()))
    live = view(present(reported=live_record(spec=now)))
    report = drift_report("dev", recorded, live)
    desired = DesiredTarget(DesiredDeployment("local", "churn", SPEC), URI)
    (change,) = make_plan("dev", [desired], recorded, live).changes
    drifted = report.deployments[0].status is DriftStatus.DRIFTED
    assert drifted == (change.action is Action.UPDATE)
    if drifted:
        assert report.deployments[0].reason in change.reason


def test_the_json_form_matches_the_schema_and_the_documented_shape() -> None:
    now = live_record(spec=DeploymentSpec(SPEC.model_uri, SPEC.flavor, {"workers": 9}))
    records = [record(live=live_record()), record("fraud"), record("api", live=live_record("api"))]
    live = view(present(reported=now), absent("fraud"), present("api"), present("stray"))
    data = drift_report("dev", state(*records), live).to_json()
    schema = json.loads((REPO / "schemas" / "drift.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["format_version"] == "1.0"
    assert data["environment"] == "dev"
    assert data["summary"] == {"drifted": 1, "vanished": 1, "unmanaged": 1, "in_sync": 1}
    assert [d["status"] for d in data["deployments"]] == ["in_sync", "drifted", "vanished"]
    assert data["deployments"][1]["diff"] == [
        {"path": "config.workers", "before": 2, "after": 9, "kind": "changed"}
    ]
    assert data["unmanaged"] == [{"address": "local/stray", "target": "local", "name": "stray"}]
