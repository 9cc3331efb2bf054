"""Golden files: the human plan output, the Markdown PR comment and the JSON event lines.

Fixed ``Plan`` objects (create, update, delete, state-only delete, no-op, unmanaged, destroy, no
changes, hostile values) are rendered and compared byte for byte with ``golden/NAME.txt`` (the
terminal output: rich into a StringIO, no colour, width 100), ``golden/NAME.md`` (``--markdown``)
and ``golden/apply_events.jsonl`` (``apply --json``, with a fixed clock).

After an intended change of the output, regenerate the files and review their diff:

    DEPLOYCTL_UPDATE_GOLDEN=1 python -m pytest tests/console/test_golden_output.py
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from deployctl.console.json_events import JsonEventConsole
from deployctl.console.markdown import plan_markdown
from deployctl.console.rich_console import RichConsole
from deployctl.executor.results import ActionResult, ApplyReport
from deployctl.model import DeploymentSpec, JSONObject, JSONValue
from deployctl.planner.plan import (
    Action,
    ActionReason,
    FieldChange,
    Plan,
    ResourceChange,
    UnmanagedDeployment,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DEPLOYCTL_UPDATE_GOLDEN", "").strip() not in {"", "0"}
WIDTH = 100

URI = "local:/srv/deployctl/dev"
CHURN_BEFORE: JSONObject = {
    "model_uri": "models:/churn/3",
    "flavor": "python_function",
    "config": {"workers": 1, "old_flag": True},
}
CHURN_AFTER: JSONObject = {
    "model_uri": "models:/churn/4",
    "flavor": "python_function",
    "config": {"workers": 2, "batch": {"size": 32}},
}
FRAUD: JSONObject = {"model_uri": "models:/fraud/7", "flavor": None, "config": {"workers": 1}}
LEGACY: JSONObject = {"model_uri": "models:/legacy/1", "flavor": "python_function", "config": {}}


def change(
    name: str,
    action: Action,
    reason: str,
    diff: tuple[FieldChange, ...] = (),
    *,
    target: str = "local",
    before: JSONObject | None = None,
    after: JSONObject | None = None,
    state_only: bool = False,
) -> ResourceChange:
    return ResourceChange(
        target=target,
        name=name,
        target_uri=URI,
        action=action,
        reason=reason,
        action_reason=ActionReason.from_text(action, reason, state_only),
        before=DeploymentSpec.from_json(before) if before is not None else None,
        after=DeploymentSpec.from_json(after) if after is not None else None,
        diff=diff,
        state_only=state_only,
    )


def added(path: str, value: JSONValue) -> FieldChange:
    return FieldChange(path, None, value, "added")


def removed(path: str, value: JSONValue) -> FieldChange:
    return FieldChange(path, value, None, "removed")


def plan(
    changes: list[ResourceChange],
    *,
    environment: str = "dev",
    unmanaged: tuple[UnmanagedDeployment, ...] = (),
    destroy: bool = False,
    targets: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
) -> Plan:
    return Plan(
        environment=environment,
        changes=tuple(sorted(changes, key=lambda c: c.address)),
        unmanaged=unmanaged,
        destroy=destroy,
        targets=targets,
        excludes=excludes,
        manifest_path="dev.yaml",
        manifest_sha256="0" * 64,
        state_path="state/dev.json",
        state_lineage="00000000-0000-0000-0000-000000000000",
        state_serial=7,
        created_at="2026-01-01T00:00:00.000000Z",
        deployctl_version="0.0.0",
    )


CREATE_FRAUD = change(
    "fraud",
    Action.CREATE,
    "not yet on the target",
    (added("config.workers", 1), added("model_uri", "models:/fraud/7")),
    after=FRAUD,
)
UPDATE_CHURN = change(
    "churn",
    Action.UPDATE,
    "the manifest differs from the last applied version; changed on the target outside "
    "deployctl (config)",
    (
        added("config.batch", {"size": 32}),
        removed("config.old_flag", True),
        FieldChange("config.workers", 1, 2),
        FieldChange("model_uri", "models:/churn/3", "models:/churn/4"),
    ),
    before=CHURN_BEFORE,
    after=CHURN_AFTER,
)
DELETE_LEGACY = change(
    "legacy",
    Action.DELETE,
    "no longer in the manifest",
    (removed("flavor", "python_function"), removed("model_uri", "models:/legacy/1")),
    before=LEGACY,
)
FORGET_GONE = change(
    "gone",
    Action.DELETE,
    "no longer in the manifest and already gone from the target (not found on the target); "
    "only removed from state",
    (removed("model_uri", "models:/gone/2"),),
    before={"model_uri": "models:/gone/2", "flavor": None, "config": {}},
    state_only=True,
)
NOOP_SCORER = change(
    "scorer",
    Action.NOOP,
    "up to date",
    target="edge",
    before=FRAUD,
    after=FRAUD,
)
STRAYS = (UnmanagedDeployment("edge", "manual"), UnmanagedDeployment("local", "stray"))

PLANS: dict[str, Plan] = {
    "mixed": plan(
        [CREATE_FRAUD, UPDATE_CHURN, DELETE_LEGACY, FORGET_GONE, NOOP_SCORER], unmanaged=STRAYS
    ),
    "create_only": plan([CREATE_FRAUD]),
    "destroy": plan(
        [
            change("churn", Action.DELETE, "destroy", (removed("model_uri", "models:/c/4"),)),
            FORGET_GONE,
        ],
        destroy=True,
        unmanaged=STRAYS[1:],
        environment="prod",
    ),
    "no_changes": plan([NOOP_SCORER], unmanaged=STRAYS),
    "lifecycle_partial": plan(
        [
            change(
                "churn",
                Action.REPLACE,
                "the manifest differs from the last applied version; "
                "lifecycle.replace_on: flavor changed",
                (FieldChange("flavor", "python_function", "pytorch"),),
                before=CHURN_BEFORE,
                after={**CHURN_BEFORE, "flavor": "pytorch"},
            ),
            change(
                "fraud",
                Action.IMPORT,
                "adopt: true and it already exists on the target: imported into state, then "
                "updated to match the manifest",
                (FieldChange("model_uri", "models:/fraud/6", "models:/fraud/7"),),
                before={**FRAUD, "model_uri": "models:/fraud/6"},
                after=FRAUD,
            ),
            change(
                "scorer",
                Action.UPDATE,
                "lifecycle.prevent_destroy becomes false (state only; nothing is sent to the "
                "target)",
                before=FRAUD,
                after=FRAUD,
                state_only=True,
            ),
        ],
        targets=("local",),
        excludes=("local/legacy",),
    ),
    "empty": plan([]),
    "hostile_values": plan(
        [
            change(
                "x-1",
                Action.UPDATE,
                "reason with | pipe, `ticks`, *stars*, <b>html</b> & model_uri\nsecond line",
                (
                    FieldChange("config.cmd", "a|b", "c`d``e"),
                    FieldChange('config["odd|key`"]', "<details>", "</details>"),
                    FieldChange("config.text", "line1\nline2", "emoji ✓ | done"),
                    FieldChange("config.list", [1, "|"], None),
                ),
            )
        ],
        environment="env_with_underscores",
    ),
}


def human(plan: Plan) -> str:
    out = io.StringIO()
    RichConsole(stdout=out, stderr=io.StringIO(), color=False, width=WIDTH).show_plan(plan)
    return out.getvalue()


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with DEPLOYCTL_UPDATE_GOLDEN=1 (see docstring)")
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, (
        f"{name} differs from its golden file; if intended, regenerate with "
        "DEPLOYCTL_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("name", sorted(PLANS))
def test_markdown_matches_golden(name: str) -> None:
    check_golden(f"{name}.md", plan_markdown(PLANS[name]))


@pytest.mark.parametrize("name", sorted(PLANS))
def test_human_output_matches_golden(name: str) -> None:
    check_golden(f"{name}.txt", human(PLANS[name]))


def test_markdown_of_a_saved_plan_is_the_same_after_a_json_round_trip() -> None:
    for name, original in PLANS.items():
        reloaded = Plan.from_json(json.loads(json.dumps(original.to_json())), source=name)
        assert plan_markdown(reloaded) == plan_markdown(original), name
        assert human(reloaded) == human(original), name


REPORT = ApplyReport(
    results=(
        ActionResult("local/churn", Action.UPDATE, True, 1.25),
        ActionResult(
            "local/fraud",
            Action.CREATE,
            False,
            0.5,
            error="local 'create_deployment' for local/fraud: InjectedFault: boom",
            note="the deployment exists on the target now and was recorded in state",
        ),
        ActionResult(
            "local/gone",
            Action.DELETE,
            True,
            0.0,
            note="removed from state only; it was already gone from the target",
        ),
    ),
    elapsed=1.75,
)


def test_apply_report_matches_golden() -> None:
    out = io.StringIO()
    RichConsole(stdout=out, stderr=io.StringIO(), color=False, width=WIDTH).apply_finished(REPORT)
    check_golden("apply_report.txt", out.getvalue())


def test_json_events_match_golden() -> None:
    out = io.StringIO()
    console = JsonEventConsole(out, clock=lambda: "2026-01-01T00:00:00.000000Z")
    mixed = PLANS["mixed"]
    console.refresh_started(["edge", "local"])
    console.warning("target 'edge' listed 3 deployments twice")
    console.show_plan(mixed)
    console.apply_started(mixed)
    by_address = {r.address: r for r in REPORT.results}
    for item in mixed.actionable():
        console.action_started(item)
        result = by_address.get(item.address, ActionResult(item.address, item.action, True, 0.125))
        console.action_finished(result)
    console.apply_finished(REPORT)
    check_golden("apply_events.jsonl", out.getvalue())
