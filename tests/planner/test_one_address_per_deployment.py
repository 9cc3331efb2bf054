"""One deployment, one address: two addresses at the same target URI and name are an error, and
a renamed target key is recognised and answered with 'deployctl state mv'."""

from __future__ import annotations

import pytest

from deployctl.errors import PlanError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, make_plan
from deployctl.planner.plan import PlanContext
from deployctl.planner.selection import Selection

URI = "local:/srv/prod"
SPEC = DeploymentSpec("models:/churn/3")


def want(target: str, name: str = "churn", uri: str = URI) -> DesiredTarget:
    return DesiredTarget(DesiredDeployment(target, name, SPEC), uri)


def recorded(target: str, name: str = "churn", uri: str = URI) -> StateRecord:
    return StateRecord(target, name, uri, SPEC, None, "2026-01-01T00:00:00Z")


def state(*records: StateRecord) -> StateDocument:
    return StateDocument("lineage-1", 3, "prod", {r.address: r for r in records})


def live(*addresses: str) -> LiveView:
    statuses = {}
    for address in addresses:
        target, name = address.split("/")
        statuses[address] = LiveStatus(target, name, True, LiveRecord(name, {"name": name}))
    return LiveView(statuses)


def refusal(*args: object, **kwargs: object) -> list[str]:
    with pytest.raises(PlanError) as info:
        make_plan(*args, **kwargs)  # type: ignore[arg-type]
    return str(info.value).splitlines()


def test_a_renamed_target_key_says_to_move_the_record_instead_of_deleting() -> None:
    lines = refusal("prod", [want("eu")], state(recorded("primary")), live("eu/churn"))
    assert lines == [
        "eu/churn (in the manifest) and primary/churn (in the state) are the same deployment "
        "'churn' at local:/srv/prod: the target key was renamed; run 'deployctl state mv "
        "primary/churn eu/churn', then plan again (planned as it is, primary/churn would be "
        "deleted on the target)"
    ]


def test_each_renamed_deployment_gets_its_own_line() -> None:
    lines = refusal(
        "prod",
        [want("eu", "churn"), want("eu", "fraud")],
        state(recorded("primary", "churn"), recorded("primary", "fraud")),
        live(),
    )
    assert len(lines) == 2
    assert "'deployctl state mv primary/churn eu/churn'" in lines[0]
    assert "'deployctl state mv primary/fraud eu/fraud'" in lines[1]


def test_two_targets_of_one_uri_may_not_declare_the_same_name() -> None:
    (line,) = refusal("prod", [want("a"), want("b")], state(), live())
    assert line.startswith(
        "a/churn (in the manifest), b/churn (in the manifest) are the same deployment 'churn' "
        "at local:/srv/prod: a deployment may have one address only"
    )


def test_two_records_of_one_deployment_are_an_error_even_when_destroying() -> None:
    (line,) = refusal(
        "prod", [], state(recorded("a"), recorded("b")), live("a/churn"), destroy=True
    )
    assert "a/churn (in the state), b/churn (in the state)" in line
    assert "deployctl state rm" in line


def test_a_managed_address_and_a_new_one_for_the_same_deployment_are_an_error() -> None:
    (line,) = refusal("prod", [want("a"), want("b")], state(recorded("a")), live("a/churn"))
    assert line.startswith(
        "a/churn (in the manifest and the state), b/churn (in the manifest) are the same"
    )


def test_the_same_name_on_other_uris_or_other_names_on_one_uri_are_fine() -> None:
    plan = make_plan(
        "prod",
        [want("a"), want("b", uri="local:/srv/other"), want("c", "fraud")],
        state(),
        live(),
    )
    assert [c.action for c in plan.changes] == [Action.CREATE] * 3


def test_a_clash_outside_the_selection_does_not_stop_a_partial_plan() -> None:
    context = PlanContext(selection=Selection.parse(targets=["other"]))
    plan = make_plan(
        "prod",
        [want("a"), want("b"), want("other", "fraud", uri="local:/srv/other")],
        state(),
        live(),
        context=context,
    )
    assert [c.address for c in plan.changes] == ["other/fraud"]
    context = PlanContext(selection=Selection.parse(targets=["eu/churn"]))
    lines = refusal("prod", [want("eu")], state(recorded("primary")), live(), context=context)
    assert "deployctl state mv primary/churn eu/churn" in lines[0]
