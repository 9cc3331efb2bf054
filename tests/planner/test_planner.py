"""The planner's decision table, row by row, on plain data (no I/O)."""

from __future__ import annotations

import pytest

from deployctl.errors import PlanError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec, JSONObject
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, make_plan
from deployctl.planner.plan import ABSENT, PlanContext, live_fingerprint
from deployctl.planner.planner import drifted_fields
from deployctl.planner.selection import Selection

URI = "local:/tmp/t"
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2})


def desired(name: str = "churn", spec: DeploymentSpec = SPEC) -> DesiredTarget:
    return DesiredTarget(DesiredDeployment("local", name, spec), URI)


def record(
    name: str = "churn", spec: DeploymentSpec = SPEC, live: LiveRecord | None = None
) -> StateRecord:
    return StateRecord("local", name, URI, spec, live, "2026-01-01T00:00:00Z")


def state(*records: StateRecord) -> StateDocument:
    return StateDocument("lineage-1", 3, "dev", {r.address: r for r in records})


def live_record(name: str = "churn", spec: DeploymentSpec | None = SPEC) -> LiveRecord:
    if spec is None:  # a target that reports nothing but the name
        return LiveRecord(name, {"name": name})
    return LiveRecord(name, {"name": name}, spec.model_uri, spec.flavor, spec.config)


def live(*statuses: LiveStatus) -> LiveView:
    return LiveView({s.address: s for s in statuses})


def present(name: str = "churn", spec: DeploymentSpec | None = SPEC) -> LiveStatus:
    return LiveStatus("local", name, True, live_record(name, spec))


def absent(name: str = "churn", reason: str = "get_deployment raised: not found") -> LiveStatus:
    return LiveStatus("local", name, False, None, reason)


def only_change(plan):  # type: ignore[no-untyped-def]
    assert len(plan.changes) == 1
    return plan.changes[0]


def test_desired_and_not_live_is_created() -> None:
    change = only_change(make_plan("dev", [desired()], state(), live(absent())))
    assert change.action is Action.CREATE
    assert change.reason == "not yet on the target"
    assert change.after == SPEC
    assert change.before is None
    assert [d.path for d in change.diff] == ["config.workers", "flavor", "model_uri"]


def test_desired_recorded_but_vanished_is_recreated_with_the_reason() -> None:
    plan = make_plan("dev", [desired()], state(record()), live(absent(reason="gone")))
    change = only_change(plan)
    assert change.action is Action.CREATE
    assert "vanished from the target" in change.reason
    assert "gone" in change.reason


def test_desired_equal_to_applied_and_live_is_a_no_op() -> None:
    change = only_change(make_plan("dev", [desired()], state(record()), live(present())))
    assert change.action is Action.NOOP
    assert change.diff == ()


def test_manifest_change_is_an_update_with_field_diff() -> None:
    new = DeploymentSpec("models:/churn/4", "python_function", {"workers": 4})
    plan = make_plan("dev", [desired(spec=new)], state(record()), live(present()))
    change = only_change(plan)
    assert change.action is Action.UPDATE
    assert "manifest differs" in change.reason
    assert [(d.path, d.before, d.after) for d in change.diff] == [
        ("config.workers", 2, 4),
        ("model_uri", "models:/churn/3", "models:/churn/4"),
    ]


def test_live_drift_of_a_reported_field_is_an_update_back_to_desired() -> None:
    drifted = DeploymentSpec("models:/churn/3", "python_function", {"workers": 9})
    plan = make_plan("dev", [desired()], state(record()), live(present(spec=drifted)))
    change = only_change(plan)
    assert change.action is Action.UPDATE
    assert "outside deployctl (config)" in change.reason
    assert [(d.path, d.before, d.after) for d in change.diff] == [("config.workers", 9, 2)]


def test_drift_is_measured_from_what_the_target_reported_after_the_apply() -> None:
    # The target adds a default to config; that alone is not drift.
    normalised = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2, "gpu": 0})
    rec = record(live=live_record(spec=normalised))
    plan = make_plan("dev", [desired()], state(rec), live(present(spec=normalised)))
    assert only_change(plan).action is Action.NOOP


def test_fields_a_target_does_not_report_are_compared_with_state_only() -> None:
    plan = make_plan("dev", [desired()], state(record()), live(present(spec=None)))
    assert only_change(plan).action is Action.NOOP


def test_live_but_unmanaged_desired_deployment_is_an_error() -> None:
    with pytest.raises(PlanError, match="local/churn already exists on target 'local' but is not"):
        make_plan("dev", [desired()], state(), live(present()))


def test_every_unmanaged_conflict_is_reported_at_once() -> None:
    with pytest.raises(PlanError) as info:
        make_plan(
            "dev",
            [desired("a"), desired("b")],
            state(),
            live(present("a"), present("b")),
        )
    assert "local/a" in str(info.value) and "local/b" in str(info.value)


def test_recorded_live_but_not_desired_is_deleted() -> None:
    change = only_change(make_plan("dev", [], state(record()), live(present())))
    assert change.action is Action.DELETE
    assert change.state_only is False
    assert change.after is None
    assert change.before == SPEC


def test_recorded_but_gone_and_not_desired_is_dropped_from_state_without_a_call() -> None:
    change = only_change(make_plan("dev", [], state(record()), live(absent())))
    assert change.action is Action.DELETE
    assert change.state_only is True
    assert "only removed from state" in change.reason


def test_live_unmanaged_not_desired_is_reported_and_untouched() -> None:
    plan = make_plan("dev", [], state(), live(present("stray")))
    assert plan.changes == ()
    assert [u.address for u in plan.unmanaged] == ["local/stray"]


def test_plan_is_sorted_by_address_and_counts_actions() -> None:
    plan = make_plan(
        "dev",
        [desired("b"), desired("a"), desired("c")],
        state(record("c"), record("z")),
        live(absent("a"), absent("b"), present("c"), present("z")),
    )
    assert [c.address for c in plan.changes] == ["local/a", "local/b", "local/c", "local/z"]
    assert plan.summary() == {
        "create": 2,
        "update": 0,
        "delete": 1,
        "no-op": 1,
        "import": 0,
        "replace": 0,
    }
    assert plan.has_changes
    assert plan.state_lineage == "lineage-1" and plan.state_serial == 3


def test_destroy_plans_deletes_for_every_record() -> None:
    plan = make_plan(
        "dev", [], state(record("a"), record("b")), live(present("a"), absent("b")), destroy=True
    )
    assert [(c.address, c.action, c.state_only) for c in plan.changes] == [
        ("local/a", Action.DELETE, False),
        ("local/b", Action.DELETE, True),
    ]
    assert plan.destroy


def test_a_destroy_says_destroy_requested_not_no_longer_in_the_manifest() -> None:
    destroyed = make_plan(
        "dev", [], state(record("a"), record("b")), live(present("a"), absent("b")), destroy=True
    )
    reasons = [c.reason for c in destroyed.changes]
    assert reasons[0] == "destroy requested"
    assert reasons[1].startswith("destroy requested and already gone from the target")
    removed = make_plan("dev", [], state(record("a")), live(present("a")))
    assert [c.reason for c in removed.changes] == ["no longer in the manifest"]


# -- fields a target does not report --


def test_a_no_op_says_which_fields_the_target_does_not_report() -> None:
    plan = make_plan("dev", [desired()], state(record()), live(present(spec=None)))
    change = only_change(plan)
    assert change.action is Action.NOOP
    assert change.reason == (
        "up to date (live value not reported by target: config, flavor, model_uri)"
    )


def test_an_update_also_says_which_fields_were_compared_with_state_only() -> None:
    partial = LiveRecord("churn", {"name": "churn"}, model_uri="models:/churn/3")
    new = DeploymentSpec("models:/churn/4", "python_function", {"workers": 2})
    status = LiveStatus("local", "churn", True, partial)
    change = only_change(make_plan("dev", [desired(spec=new)], state(record()), live(status)))
    assert change.action is Action.UPDATE
    assert change.reason == (
        "the manifest differs from the last applied version; "
        "live value not reported by target: config, flavor"
    )


def test_drift_and_unreported_fields_are_both_given_as_reasons() -> None:
    drifted = LiveRecord("churn", {"name": "churn"}, model_uri="models:/churn/9")
    status = LiveStatus("local", "churn", True, drifted)
    change = only_change(make_plan("dev", [desired()], state(record()), live(status)))
    assert change.action is Action.UPDATE
    assert change.reason == (
        "changed on the target outside deployctl (model_uri); "
        "live value not reported by target: config, flavor"
    )


def test_a_field_reported_as_null_is_reported_not_missing() -> None:
    # The local target writes "flavor": null for a deployment without a flavor: it reports it.
    spec = DeploymentSpec("models:/churn/3", None, {"workers": 2})
    reported = LiveRecord(
        "churn",
        {"name": "churn", "flavor": None},
        model_uri=spec.model_uri,
        config=spec.config,
        unreported=frozenset(),
    )
    status = LiveStatus("local", "churn", True, reported)
    plan = make_plan("dev", [desired(spec=spec)], state(record(spec=spec)), live(status))
    assert only_change(plan).reason == "up to date"


def test_a_target_that_reports_every_field_gets_a_plain_reason() -> None:
    change = only_change(make_plan("dev", [desired()], state(record()), live(present())))
    assert change.reason == "up to date"


def test_creates_and_deletes_do_not_mention_unreported_fields() -> None:
    plan = make_plan(
        "dev",
        [desired("new")],
        state(record("old")),
        live(absent("new"), LiveStatus("local", "old", True, live_record("old", None))),
    )
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.DELETE]
    assert all("not reported" not in c.reason for c in plan.changes)


# -- the plan's context: selection, origin, fingerprints --


def test_a_selection_plans_only_the_addresses_it_matches() -> None:
    context = PlanContext(selection=Selection.parse(["local/a"], []))
    plan = make_plan(
        "dev",
        [desired("a"), desired("b")],
        state(record("a"), record("gone")),
        live(absent("a"), absent("b"), present("gone"), present("stray")),
        context=context,
    )
    assert [c.address for c in plan.changes] == ["local/a"]
    assert plan.unmanaged == ()
    assert plan.partial and plan.targets == ("local/a",) and plan.excludes == ()


def test_an_exclusion_leaves_its_addresses_out_of_changes_and_unmanaged() -> None:
    context = PlanContext(selection=Selection.parse([], ["local/b", "local/stray"]))
    plan = make_plan(
        "dev",
        [desired("a"), desired("b")],
        state(),
        live(absent("a"), absent("b"), present("stray")),
        context=context,
    )
    assert [c.address for c in plan.changes] == ["local/a"]
    assert plan.unmanaged == ()
    assert plan.excludes == ("local/b", "local/stray")


def test_the_plan_records_where_it_comes_from_as_given() -> None:
    context = PlanContext(
        target_fields={"local": {"name": "Name"}},
        manifest_path="dev.yaml",
        manifest_sha256="0" * 64,
        state_path="state/dev.json",
        created_at="2026-01-01T00:00:00.000000Z",
    )
    plan = make_plan("dev", [desired()], state(), live(absent()), context=context)
    assert plan.target_fields == {"local": {"name": "Name"}}
    assert (plan.manifest_path, plan.manifest_sha256) == ("dev.yaml", "0" * 64)
    assert plan.state_path == "state/dev.json"
    assert plan.created_at == "2026-01-01T00:00:00.000000Z"
    assert not plan.partial


def test_without_a_context_the_plan_records_no_origin_and_no_clock_is_read() -> None:
    plan = make_plan("dev", [desired()], state(), live(absent()))
    assert plan.created_at is None and plan.manifest_path is None and plan.state_path is None


def test_every_change_keeps_the_fingerprint_of_the_live_record_it_was_planned_from() -> None:
    running = present("b")
    plan = make_plan(
        "dev",
        [desired("a"), desired("b")],
        state(record("b"), record("c")),
        live(absent("a"), running),
    )
    fingerprints = {c.address: c.live_fingerprint for c in plan.changes}
    assert fingerprints == {
        "local/a": ABSENT,
        "local/b": live_fingerprint(running),
        "local/c": ABSENT,  # refresh did not see it at all
    }
    assert fingerprints["local/b"].startswith("sha256:")


def test_fingerprints_change_with_the_compared_fields_and_the_raw_record() -> None:
    def status(raw: JSONObject, model_uri: str | None = None) -> LiveStatus:
        return LiveStatus("local", "a", True, LiveRecord("a", raw, model_uri))

    one = live_fingerprint(status({"name": "a", "v": 1}))
    assert one == live_fingerprint(status({"v": 1, "name": "a"}))
    assert one != live_fingerprint(status({"name": "a", "v": 2}))
    assert one != live_fingerprint(status({"name": "a", "v": 1}, "m:/other"))
    assert live_fingerprint(None) == live_fingerprint(absent("a")) == ABSENT


def test_fingerprints_ignore_per_request_metadata() -> None:
    def read(request_id: str) -> LiveStatus:
        raw: JSONObject = {"name": "a", "ResponseMetadata": {"RequestId": request_id}}
        return LiveStatus("local", "a", True, LiveRecord("a", raw))

    assert live_fingerprint(read("1")) == live_fingerprint(read("2"))


# -- the drift rule shared with ``deployctl drift`` --


def test_drifted_fields_are_the_reported_fields_that_moved_since_the_last_apply() -> None:
    moved = DeploymentSpec("models:/churn/9", "python_function", {"workers": 5})
    assert drifted_fields(record(), present(spec=moved)) == {
        "model_uri": "models:/churn/9",
        "config": {"workers": 5},
    }
    assert drifted_fields(record(), present()) == {}


def test_drifted_fields_skip_unreported_fields_and_ignored_paths() -> None:
    partial = LiveStatus("local", "churn", True, LiveRecord("churn", {}, config={"workers": 5}))
    assert drifted_fields(record(), partial) == {"config": {"workers": 5}}
    assert drifted_fields(record(), partial, ("config.workers",)) == {}
    assert drifted_fields(record(), present(spec=None)) == {}


def test_drifted_fields_start_from_what_the_target_reported_after_the_apply() -> None:
    normalised = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2, "x": 0})
    applied = record(live=live_record(spec=normalised))
    assert drifted_fields(applied, present(spec=normalised)) == {}
    assert drifted_fields(applied, present()) == {"config": {"workers": 2}}
