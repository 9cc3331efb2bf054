"""Secrets in planning: markers, the keyed hash, masking and resolving, and plans over masked
values (pure: no I/O)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from support import REPO

from deployctl.console.markdown import plan_markdown
from deployctl.console.render import plan_lines, value_text
from deployctl.errors import PlanError
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec, JSONObject
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.secrets import NO_SECRETS, Secrets
from deployctl.model.sensitive import SHOWN, SecretKey, SensitiveField, is_masked
from deployctl.model.state import StateDocument, StateRecord
from deployctl.planner import Action, DesiredTarget, make_plan
from deployctl.planner.diff import field_diff
from deployctl.planner.plan import ActionReason, Plan, ResourceChange

URI = "local:/tmp/t"
ADDRESS = "local/churn"
KEY = SecretKey.for_environment("dev", {})
TOKEN = "tok-0123456789"
FIELDS = (SensitiveField(("config", "token"), ("API_TOKEN",)),)


def spec(token: str = TOKEN, workers: int = 2) -> DeploymentSpec:
    return DeploymentSpec("models:/churn/3", None, {"token": token, "workers": workers})


def secrets(token: str = TOKEN) -> Secrets:
    return Secrets(KEY, {ADDRESS: FIELDS}, {ADDRESS: [token]})


def desired(token: str = TOKEN, workers: int = 2) -> DesiredTarget:
    masked = secrets(token).mask_spec(ADDRESS, spec(token, workers))
    return DesiredTarget(DesiredDeployment("local", "churn", masked, sensitive=FIELDS), URI)


def applied(token: str = TOKEN) -> StateDocument:
    masked = secrets(token).mask_spec(ADDRESS, spec(token))
    record = StateRecord("local", "churn", URI, masked, None, "2026-01-01T00:00:00Z")
    return StateDocument("lineage-1", 3, "dev", {ADDRESS: record})


def live(token: str = TOKEN) -> LiveView:
    real = spec(token)
    raw: JSONObject = {"name": "churn", "config": dict(real.config)}
    record = LiveRecord("churn", raw, real.model_uri, real.flavor, dict(real.config))
    status = LiveStatus("local", "churn", True, secrets(token).mask_live(ADDRESS, record))
    return LiveView({ADDRESS: status})


# -- the marker ------------------------------------------------------------------------------
def test_equal_values_have_equal_markers_and_nothing_shows_the_value() -> None:
    marker = KEY.mask(TOKEN)
    assert is_masked(marker) and marker == KEY.mask(TOKEN) != KEY.mask("other")
    assert TOKEN not in json.dumps(marker)
    assert KEY.mask(None) is None and KEY.mask(marker) == marker
    assert KEY.mask({"a": [1, "x"], "b": {}}) == {"a": [KEY.mask(1), KEY.mask("x")], "b": {}}


def test_the_key_depends_on_the_environment_and_on_deployctl_secret_key() -> None:
    digests = {
        SecretKey.for_environment("dev", {}).digest(TOKEN),
        SecretKey.for_environment("prod", {}).digest(TOKEN),
        SecretKey.for_environment("dev", {"DEPLOYCTL_SECRET_KEY": "k"}).digest(TOKEN),
    }
    assert len(digests) == 3
    assert "secret" not in repr(SecretKey.for_environment("dev", {"DEPLOYCTL_SECRET_KEY": "k"}))


# -- planning --------------------------------------------------------------------------------
def test_an_unchanged_secret_is_no_change() -> None:
    plan = make_plan("dev", [desired()], applied(), live())
    (change,) = plan.changes
    assert change.action is Action.NOOP
    assert change.sensitive == FIELDS


def test_a_changed_secret_is_an_update_showing_no_value() -> None:
    plan = make_plan("dev", [desired("tok-rotated-999")], applied(), live())
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert [d.path for d in change.diff] == ["config.token"]
    assert is_masked(change.diff[0].before) and is_masked(change.diff[0].after)
    text = "\n".join(line.plain for line in plan_lines(plan))
    assert "config.token: (sensitive) → (sensitive)" in text
    assert "| `config.token` | `(sensitive)` | `(sensitive)` |" in plan_markdown(plan)
    for shown in (text, plan_markdown(plan), json.dumps(plan.to_json())):
        assert TOKEN not in shown and "tok-rotated" not in shown


def test_a_secret_changed_on_the_target_is_drift() -> None:
    plan = make_plan("dev", [desired()], applied(), live("changed-behind-our-back"))
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert "changed on the target outside deployctl (config)" in change.reason


def test_a_plan_with_secrets_round_trips_and_fits_its_schema() -> None:
    plan = make_plan("dev", [desired("tok-rotated-999")], applied(), live())
    data: dict[str, Any] = plan.to_json()
    jsonschema.validate(data, json.loads((REPO / "schemas" / "plan.schema.json").read_text()))
    again = Plan.from_json(json.loads(json.dumps(data)))
    assert again == plan
    assert data["resource_changes"][0]["sensitive"] == [
        {"path": ["config", "token"], "env": ["API_TOKEN"]}
    ]


def test_orphans_keep_the_sensitive_fields_their_record_masks() -> None:
    plan = make_plan("dev", [], applied(), live())
    (change,) = plan.changes
    assert change.action is Action.DELETE
    assert change.sensitive == (SensitiveField(("config", "token")),)


def test_a_whole_sensitive_value_changes_as_one_field() -> None:
    marker = KEY.mask("a")
    assert [(c.path, c.kind) for c in field_diff({"m": marker}, {"m": KEY.mask("b")})] == [
        ("m", "changed")
    ]
    assert [(c.path, c.kind) for c in field_diff({"m": "a"}, {"m": marker})] == [("m", "changed")]
    assert value_text({"k": [marker, 1]}) == '{"k": [(sensitive), 1]}'
    assert value_text(marker) == SHOWN


# -- masking and resolving -------------------------------------------------------------------
def test_what_the_target_echoes_is_masked_in_its_fields_and_raw_record() -> None:
    record = LiveRecord(
        "churn",
        {"config": {"token": TOKEN}, "url": f"https://h/?t={TOKEN}", "other": "kept"},
        "models:/churn/3",
        None,
        {"token": TOKEN, "workers": 2},
    )
    masked = secrets().mask_live(ADDRESS, record)
    assert masked.config == {"token": KEY.mask(TOKEN), "workers": 2}
    assert masked.raw == {
        "config": {"token": KEY.mask(TOKEN)},
        "url": "https://h/?t=(sensitive)",
        "other": "kept",
    }
    assert secrets().mask_live("local/other", record) is record


def test_resolving_gives_the_real_values_back_and_refuses_unknown_ones() -> None:
    masked = secrets().mask_spec(ADDRESS, spec())
    assert secrets().resolve(ADDRESS, masked) == spec()
    assert secrets().unresolved(ADDRESS, masked) == []
    foreign = secrets("another-token-1").mask_spec(ADDRESS, spec("another-token-1"))
    assert secrets().unresolved(ADDRESS, foreign) == [("config", "token")]
    with pytest.raises(PlanError, match=r"config\.token is sensitive and not known"):
        secrets().resolve(ADDRESS, foreign)
    with pytest.raises(PlanError, match=r"config\.token is sensitive"):
        NO_SECRETS.resolve(ADDRESS, masked)
    assert NO_SECRETS.resolve(ADDRESS, spec()) == spec()


def test_a_value_the_target_reported_can_be_sent_back() -> None:
    known = secrets()
    reported = LiveRecord("churn", {}, None, None, {"token": "live-value-1234"})
    known.mask_live(ADDRESS, reported)
    kept = DeploymentSpec("m:/1", None, {"token": KEY.mask("live-value-1234")})
    assert known.resolve(ADDRESS, kept).config == {"token": "live-value-1234"}


def test_messages_are_redacted() -> None:
    text = f"bad token {TOKEN!r} in {json.dumps({'t': TOKEN})}"
    assert secrets().redact(text) == 'bad token \'(sensitive)\' in {"t": "(sensitive)"}'


def test_a_resource_change_without_secrets_serialises_as_before() -> None:
    change = ResourceChange(
        "local", "churn", URI, Action.CREATE, "new", ActionReason.CREATE_BECAUSE_NEW, after=spec()
    )
    assert "sensitive" not in change.to_json()
