"""The plan says, per target, which fields could be compared with the last apply only."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from deployctl.console.json_events import JsonEventConsole
from deployctl.console.markdown import plan_markdown
from deployctl.console.render import plan_lines
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, Plan, make_plan
from deployctl.planner.planfile import read_plan, write_plan
from deployctl.planner.unverified import UnverifiedFields

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2})
SUFFIX = "compared with the last apply only"


def reporting(name: str, **left_out: None) -> LiveRecord:
    """A live record of ``SPEC`` that reports every field but those named in ``left_out``."""
    fields: dict[str, Any] = {
        "model_uri": SPEC.model_uri,
        "flavor": SPEC.flavor,
        "config": SPEC.config,
    }
    fields.update(left_out)
    return LiveRecord(name, {"name": name}, **fields)


def status(target: str, name: str, record: LiveRecord | None) -> LiveStatus:
    return LiveStatus(target, name, True, record)


def gone(target: str, name: str) -> LiveStatus:
    return LiveStatus(target, name, False, None, "not listed")


def planned(
    live: list[LiveStatus],
    *,
    desired: tuple[str, ...] | None = None,
    recorded: tuple[str, ...] | None = None,
    destroy: bool = False,
) -> Plan:
    """A plan over ``live``'s addresses: each is desired and recorded at ``SPEC`` unless
    ``desired``/``recorded`` name the addresses that are."""
    addresses = [s.address for s in live]
    in_state = addresses if recorded is None else list(recorded)
    wanted = addresses if desired is None else list(desired)
    records = {}
    for address in in_state:
        target, name = address.split("/")
        records[address] = StateRecord(target, name, f"x:/{target}", SPEC, None, "2026-01-01")
    items = []
    for address in wanted:
        target, name = address.split("/")
        items.append(DesiredTarget(DesiredDeployment(target, name, SPEC), f"x:/{target}"))
    view = LiveView({s.address: s for s in live})
    state = StateDocument("L", 1, "dev", records)
    return make_plan("dev", [] if destroy else items, state, view, destroy=destroy)


def messages(plan: Plan) -> list[str]:
    return [u.message for u in plan.unverified]


def test_a_no_op_on_a_target_that_reports_no_config_says_so() -> None:
    plan = planned([status("sm", "churn", reporting("churn", config=None))])
    assert [c.action for c in plan.changes] == [Action.NOOP]
    assert plan.unverified == (UnverifiedFields("sm", ("config",), 1),)
    assert messages(plan) == [f"config not reported by target 'sm': {SUFFIX}"]


def test_several_fields_are_listed_in_field_order_joined_with_and() -> None:
    two = planned([status("sm", "a", reporting("a", config=None, flavor=None))])
    assert messages(two) == [f"flavor and config not reported by target 'sm': {SUFFIX}"]
    three = planned([status("sm", "a", LiveRecord("a", {"name": "a"}))])
    assert messages(three) == [
        f"model_uri, flavor and config not reported by target 'sm': {SUFFIX}"
    ]


def test_fields_are_the_union_over_a_targets_deployments_with_a_count_of_those_affected() -> None:
    plan = planned(
        [
            status("sm", "a", reporting("a", config=None)),
            status("sm", "b", reporting("b", flavor=None)),
            status("sm", "c", reporting("c")),
            status("sm", "d", reporting("d", config=None)),
        ]
    )
    assert plan.unverified == (UnverifiedFields("sm", ("flavor", "config"), 3),)


def test_one_line_per_target_sorted_and_targets_that_report_everything_are_left_out() -> None:
    plan = planned(
        [
            status("zeta", "a", reporting("a", model_uri=None)),
            status("local", "a", reporting("a")),
            status("alpha", "a", reporting("a", config=None)),
        ]
    )
    assert [u.target for u in plan.unverified] == ["alpha", "zeta"]
    assert planned([status("local", "a", reporting("a"))]).unverified == ()


def test_a_field_reported_as_null_counts_as_reported() -> None:
    record = dataclasses.replace(reporting("a", flavor=None), unreported=frozenset())
    assert planned([status("sm", "a", record)]).unverified == ()


def test_updates_and_deletes_of_existing_deployments_count() -> None:
    blind = reporting("x", config=None)
    live = [status("sm", "delete", blind), status("sm", "update", blind)]
    changed = dataclasses.replace(SPEC, model_uri="models:/churn/4")
    records = {
        s.address: StateRecord("sm", s.name, "x:/sm", SPEC, None, "2026-01-01") for s in live
    }
    plan = make_plan(
        "dev",
        [DesiredTarget(DesiredDeployment("sm", "update", changed), "x:/sm")],
        StateDocument("L", 1, "dev", records),
        LiveView({s.address: s for s in live}),
    )
    assert [c.action for c in plan.changes] == [Action.DELETE, Action.UPDATE]
    assert plan.unverified == (UnverifiedFields("sm", ("config",), 2),)


def test_an_import_counts() -> None:
    adopted = DesiredDeployment("sm", "a", SPEC, adopt=True)
    plan = make_plan(
        "dev",
        [DesiredTarget(adopted, "x:/sm")],
        StateDocument("L", 1, "dev", {}),
        LiveView({"sm/a": status("sm", "a", reporting("a", flavor=None))}),
    )
    assert [c.action for c in plan.changes] == [Action.IMPORT]
    assert plan.unverified == (UnverifiedFields("sm", ("flavor",), 1),)


def test_creates_state_only_deletes_and_records_without_a_live_record_do_not_count() -> None:
    plan = planned(
        [
            gone("sm", "create"),
            gone("sm", "dropped"),
            status("sm", "bare", None),  # exists, but no record was read
        ],
        desired=("sm/create", "sm/bare"),
        recorded=("sm/dropped", "sm/bare"),
    )
    assert {c.action for c in plan.changes} == {Action.CREATE, Action.DELETE, Action.NOOP}
    assert plan.unverified == ()


def test_a_destroy_of_existing_deployments_says_what_it_could_not_compare() -> None:
    plan = planned([status("sm", "a", reporting("a", config=None))], destroy=True)
    assert [c.action for c in plan.changes] == [Action.DELETE]
    assert messages(plan) == [f"config not reported by target 'sm': {SUFFIX}"]


def test_only_planned_addresses_count_not_unmanaged_ones() -> None:
    plan = planned(
        [status("sm", "a", reporting("a")), status("sm", "stray", LiveRecord("stray", {}))],
        desired=("sm/a",),
        recorded=("sm/a",),
    )
    assert [u.address for u in plan.unmanaged] == ["sm/stray"]
    assert plan.unverified == ()


# -- config reported in part (LiveRecord.config_keys, per-key field mappings) ------------------
def partly(name: str, keys: tuple[str, ...]) -> LiveRecord:
    if "config_keys" not in {f.name for f in dataclasses.fields(LiveRecord)}:
        pytest.skip("LiveRecord has no config_keys yet")
    return dataclasses.replace(reporting(name), config_keys=keys)  # type: ignore[call-arg]


def test_config_reported_in_part_is_listed_with_the_keys_that_were_compared() -> None:
    plan = planned([status("cr", "a", partly("a", ("temperature", "max_tokens")))])
    assert plan.unverified == (
        UnverifiedFields("cr", ("config",), 1, ("temperature", "max_tokens")),
    )
    assert messages(plan) == [
        f"config (except temperature, max_tokens) not reported by target 'cr': {SUFFIX}"
    ]


def test_only_the_keys_every_deployment_reported_count_as_compared() -> None:
    both = planned(
        [
            status("cr", "a", partly("a", ("max_tokens", "temperature"))),
            status("cr", "b", partly("b", ("temperature",))),
        ]
    )
    assert both.unverified == (UnverifiedFields("cr", ("config",), 2, ("temperature",)),)
    blind = dataclasses.replace(partly("c", ("temperature",)), config=None)
    none = planned([status("cr", "a", partly("a", ("temperature",))), status("cr", "c", blind)])
    assert messages(none) == [f"config not reported by target 'cr': {SUFFIX}"]


# -- JSON, plan files and rendering ---------------------------------------------------------------
def sample() -> Plan:
    return planned(
        [
            status("cr", "a", reporting("a", model_uri=None)),
            status("sm", "a", reporting("a", config=None, flavor=None)),
            status("sm", "b", reporting("b", config=None)),
        ]
    )


def test_the_plan_json_lists_them_under_unverified_fields_valid_against_the_schema() -> None:
    data = sample().to_json()
    jsonschema.validate(data, SCHEMA)
    assert data["unverified_fields"][-1] == {
        "target": "sm",
        "fields": ["flavor", "config"],
        "deployments": 2,
        "message": f"flavor and config not reported by target 'sm': {SUFFIX}",
    }
    plain = planned([status("local", "a", reporting("a"))]).to_json()
    assert plain["unverified_fields"] == []
    jsonschema.validate(plain, SCHEMA)


def test_the_json_of_config_reported_in_part_names_the_compared_keys() -> None:
    plan = planned([status("cr", "a", partly("a", ("temperature",)))])
    data = plan.to_json()
    jsonschema.validate(data, SCHEMA)
    assert data["unverified_fields"] == [
        {
            "target": "cr",
            "fields": ["config"],
            "deployments": 1,
            "config_keys": ["temperature"],
            "message": f"config (except temperature) not reported by target 'cr': {SUFFIX}",
        }
    ]
    assert Plan.from_json(json.loads(json.dumps(data))).unverified == plan.unverified


def test_the_schema_refuses_an_unknown_field_name() -> None:
    data = sample().to_json()
    entries = data["unverified_fields"]
    assert isinstance(entries, list) and isinstance(entries[-1], dict)
    entries[-1]["fields"] = ["status"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)


def test_they_round_trip_through_json_and_a_plan_without_them_reads_as_none() -> None:
    plan = sample()
    assert plan.unverified
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan
    older = plan.to_json()
    del older["unverified_fields"]
    assert Plan.from_json(older).unverified == ()


def test_a_saved_plan_keeps_them(tmp_path: Path) -> None:
    plan = sample()
    write_plan(plan, str(tmp_path / "plan.json"))
    assert read_plan(str(tmp_path / "plan.json")).unverified == plan.unverified


def test_the_human_plan_prints_one_line_per_target_after_the_summary() -> None:
    plan = planned([status("sm", "a", reporting("a", config=None))])
    lines = [line.plain for line in plan_lines(plan)]
    assert lines[-3:] == [
        "No changes. The targets match the manifest.",
        "Plan: 0 to create, 0 to update, 0 to delete, 1 unchanged.",
        f"config not reported by target 'sm': {SUFFIX}",
    ]
    everything = planned([status("local", "a", reporting("a"))])
    assert [line.plain for line in plan_lines(everything)][-1].startswith("Plan: ")


def test_the_markdown_comment_lists_them_under_the_summary() -> None:
    plan = planned([status("sm", "a", reporting("a", config=None, model_uri=None))])
    text = plan_markdown(plan)
    summary = "**Plan:** 0 to create, 0 to update, 0 to delete, 1 unchanged.\n\n"
    item = f"- model\\_uri and config not reported by target 'sm': {SUFFIX}\n"
    assert summary + item in text
    assert "not reported" not in plan_markdown(planned([status("local", "a", reporting("a"))]))


def test_the_json_event_plan_summary_carries_them() -> None:
    out = io.StringIO()
    plan = planned([status("sm", "a", reporting("a", config=None))])
    JsonEventConsole(out).show_plan(plan)
    (summary,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary["type"] == "plan_summary"
    assert summary["unverified_fields"] == [u.to_json() for u in plan.unverified]
    assert summary["unverified_fields"][0]["fields"] == ["config"]
