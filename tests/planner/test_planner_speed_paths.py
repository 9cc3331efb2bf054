"""The short cuts that keep a no-op plan cheap give the answers of the long ways: unchanged
deployments are planned by one comparison each, markers are looked for only where one can be,
live fingerprints are made only for a plan that leaves the process, and ``--version`` answers
without building the parser. (Speed itself is measured by ``bench/``, never here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import ONE_DEPLOYMENT, run_cli, write_manifest

import deployctl.model.secrets as secrets_module
import deployctl.planner.planner as planner_module
from deployctl import __version__
from deployctl.cli.main import build_parser
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec, JSONObject, JSONValue, Lifecycle, json_equal
from deployctl.model.live import LiveRecord, LiveStatus, LiveView
from deployctl.model.secrets import Secrets
from deployctl.model.sensitive import (
    SecretKey,
    SensitiveField,
    fields_of,
    has_marker,
    marker_paths,
)
from deployctl.model.state import StateDocument, StateRecord
from deployctl.model.values import json_identical
from deployctl.planner import Action, DesiredTarget, make_plan
from deployctl.planner.plan import PlanContext, ResourceChange
from deployctl.planner.unchanged import unchanged

URI = "local:/tmp/t"
KEY = SecretKey.for_environment("dev", {})
MARKER = KEY.mask("tok-0123456789")
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"workers": 2, "region": "eu"})


def desired(spec: DeploymentSpec = SPEC, lifecycle: Lifecycle | None = None) -> DesiredTarget:
    deployment = DesiredDeployment("local", "churn", spec, lifecycle=lifecycle or Lifecycle())
    return DesiredTarget(deployment, URI)


def reported(
    spec: DeploymentSpec | None = SPEC, config_keys: tuple[str, ...] | None = None
) -> LiveRecord:
    if spec is None:  # a target that reports nothing but the name
        return LiveRecord("churn", {"name": "churn"})
    raw: JSONObject = {"name": "churn", "config": dict(spec.config)}
    config = dict(spec.config)
    return LiveRecord("churn", raw, spec.model_uri, spec.flavor, config, config_keys=config_keys)


def record(
    spec: DeploymentSpec = SPEC, live: LiveRecord | None = None, protect: bool = False
) -> StateRecord:
    return StateRecord(
        "local", "churn", URI, spec, live, "2026-01-01T00:00:00Z", prevent_destroy=protect
    )


def state(*records: StateRecord) -> StateDocument:
    return StateDocument("lineage-1", 3, "dev", {r.address: r for r in records})


def view(live: LiveRecord | None) -> LiveView:
    return LiveView({"local/churn": LiveStatus("local", "churn", True, live)})


def by_the_full_rules(monkeypatch: pytest.MonkeyPatch, plan: Callable[[], Any]) -> Any:
    """What ``plan()`` gives when no deployment may take the unchanged short cut."""
    with monkeypatch.context() as patched:
        patched.setattr(planner_module, "unchanged", lambda *args: False)
        return plan()


# -- unchanged deployments: one comparison each, the answer of the full rules ----------------

# Each case: (desired spec, lifecycle, recorded spec, live at the last apply, live now, whether
# the short cut applies).
UP_TO_DATE_CASES = {
    "everything as applied": (SPEC, None, SPEC, reported(), reported(), True),
    "the target returns no record": (SPEC, None, SPEC, reported(), None, True),
    "the target reports only names": (SPEC, None, SPEC, reported(None), reported(None), True),
    "nothing read back, target reports it all": (SPEC, None, SPEC, None, reported(), False),
    "config reported in part": (
        SPEC,
        None,
        SPEC,
        reported(DeploymentSpec("models:/churn/3", None, {"workers": 2}), ("workers",)),
        reported(DeploymentSpec("models:/churn/3", None, {"workers": 2}), ("workers",)),
        True,
    ),
    "an ignored path moved on the target": (
        SPEC,
        Lifecycle(ignore_changes=("config.workers",)),
        SPEC,
        reported(),
        reported(
            DeploymentSpec("models:/churn/3", "python_function", {"workers": 5, "region": "eu"})
        ),
        False,
    ),
    "the target normalised a value at the last apply": (
        SPEC,
        None,
        SPEC,
        reported(DeploymentSpec("models:/churn/3", "pyfunc", SPEC.config)),
        reported(DeploymentSpec("models:/churn/3", "pyfunc", SPEC.config)),
        True,
    ),
    "a secret, unchanged": (
        DeploymentSpec("models:/churn/3", None, {"token": MARKER}),
        None,
        DeploymentSpec("models:/churn/3", None, {"token": MARKER}),
        None,
        None,
        True,
    ),
}


@pytest.mark.parametrize("case", UP_TO_DATE_CASES.values(), ids=list(UP_TO_DATE_CASES))
def test_an_up_to_date_deployment_is_planned_as_the_full_rules_plan_it(
    monkeypatch: pytest.MonkeyPatch, case: tuple[Any, ...]
) -> None:
    wanted, lifecycle, applied, then, now, short_cut = case
    item = desired(wanted, lifecycle)
    recorded = record(applied, then)
    status = view(now).statuses["local/churn"]
    assert unchanged(item.deployment, recorded, status) is short_cut

    def plan() -> ResourceChange:
        (change,) = make_plan("dev", [item], state(recorded), view(now)).changes
        return change

    fast = plan()
    assert fast.action is Action.NOOP
    assert fast == by_the_full_rules(monkeypatch, plan)
    assert fast.to_json() == by_the_full_rules(monkeypatch, plan).to_json()


DIFFERENT = {
    "an int where a float was applied": DeploymentSpec(
        "models:/churn/3", "python_function", {"workers": 2.0, "region": "eu"}
    ),
    "a bool where an int was applied": DeploymentSpec(
        "models:/churn/3", "python_function", {"workers": True, "region": "eu"}
    ),
    "another model": DeploymentSpec("models:/churn/4", "python_function", SPEC.config),
    "a key more": DeploymentSpec("models:/churn/3", "python_function", {**SPEC.config, "x": 1}),
    "no flavor": DeploymentSpec("models:/churn/3", None, SPEC.config),
}


@pytest.mark.parametrize("spec", DIFFERENT.values(), ids=list(DIFFERENT))
def test_a_spec_that_differs_in_value_or_type_takes_the_full_rules(
    monkeypatch: pytest.MonkeyPatch, spec: DeploymentSpec
) -> None:
    item, recorded = desired(spec), record(SPEC, reported())
    assert not unchanged(item.deployment, recorded, view(reported()).statuses["local/churn"])

    def plan() -> ResourceChange:
        (change,) = make_plan("dev", [item], state(recorded), view(reported())).changes
        return change

    assert plan() == by_the_full_rules(monkeypatch, plan)


def test_drift_and_a_new_prevent_destroy_are_never_taken_for_unchanged() -> None:
    moved = reported(DeploymentSpec("models:/churn/3", "python_function", {"workers": 9}))
    status = view(moved).statuses["local/churn"]
    assert not unchanged(desired().deployment, record(SPEC, reported()), status)
    (change,) = make_plan("dev", [desired()], state(record(SPEC, reported())), view(moved)).changes
    assert change.action is Action.UPDATE and "outside deployctl (config)" in change.reason

    protected = desired(lifecycle=Lifecycle(prevent_destroy=True))
    same = view(reported()).statuses["local/churn"]
    assert not unchanged(protected.deployment, record(SPEC, reported()), same)
    (change,) = make_plan(
        "dev", [protected], state(record(SPEC, reported())), view(reported())
    ).changes
    assert change.action is Action.UPDATE and change.state_only


def test_json_identical_tells_types_apart_and_ignores_key_order() -> None:
    assert json_identical({"a": 1, "b": [1, "x"]}, {"b": [1, "x"], "a": 1})
    for other in (1.0, True, "1"):
        assert not json_identical({"a": 1}, {"a": other})
        assert not json_identical([1], [other])
    assert not json_identical({"a": 1}, {"a": 1, "b": None})
    assert not json_identical({"a": 1}, {"b": 1})
    assert not json_identical([1, 2], [1, 2, 3])
    assert not json_identical({"a": {"b": [1]}}, {"a": {"b": [1.0]}})
    assert json_equal({"a": 1.5}, {"a": 1.5}) and json_identical({"a": 1.5}, {"a": 1.5})


# -- markers: looked for only where one can be ------------------------------------------------

SHAPES: list[JSONValue] = [
    None,
    "text",
    3,
    [],
    {},
    MARKER,
    {"token": MARKER},
    {"a": {"b": [1, {"c": MARKER}]}},
    [[MARKER], 2],
    {"$sensitive": "not a digest"},
    {"$sensitive": MARKER["$sensitive"], "and": "more"},
    {"a": {"b": [1, {"c": "plain"}]}, "d": [[], {}]},
]


def _every_marker(value: JSONValue, prefix: tuple[str | int, ...] = ()) -> Iterator[Any]:
    """The plain walk ``marker_paths`` must agree with: every value, every path."""
    if (
        isinstance(value, dict)
        and list(value) == ["$sensitive"]
        and value == {"$sensitive": MARKER["$sensitive"]}
    ):
        yield prefix
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _every_marker(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _every_marker(item, (*prefix, index))


@pytest.mark.parametrize("value", SHAPES, ids=[json.dumps(s)[:40] for s in SHAPES])
def test_marker_paths_and_has_marker_agree_with_a_plain_walk(value: JSONValue) -> None:
    expected = list(_every_marker(value))
    assert list(marker_paths(value)) == expected
    assert list(marker_paths(value, ("config",))) == [("config", *p) for p in expected]
    assert has_marker(value) is bool(expected)
    assert fields_of(value) == tuple(sorted({SensitiveField(p) for p in expected}))


def test_a_state_without_markers_is_checked_but_not_walked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walked: list[JSONValue] = []

    def counting(value: JSONValue, prefix: tuple[str | int, ...] = ()) -> Iterator[Any]:
        walked.append(value)
        return marker_paths(value, prefix)

    monkeypatch.setattr(secrets_module, "marker_paths", counting)
    plain = state(record(SPEC, reported()))
    assert Secrets(KEY).with_state(plain).addresses() == []
    assert walked == []

    secret = DeploymentSpec("models:/churn/3", None, {"token": MARKER})
    masked = state(record(secret, reported(secret)))
    found = Secrets(KEY).with_state(masked)
    assert walked  # a record with a marker is walked, and its fields are found
    assert found.fields("local/churn") == (SensitiveField(("config", "token")),)


# -- live fingerprints: only for a plan that leaves the process -------------------------------


@pytest.fixture
def fingerprints_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The statuses the planner made a live fingerprint of."""
    made: list[object] = []
    real = planner_module.live_fingerprint

    def counting(status: LiveStatus | None) -> str:
        made.append(status)
        return real(status)

    monkeypatch.setattr(planner_module, "live_fingerprint", counting)
    return made


def test_a_plan_made_without_fingerprints_has_none(fingerprints_made: list[object]) -> None:
    items, recorded = [desired()], state(record(SPEC, reported()))
    plan = make_plan(
        "dev", items, recorded, view(reported()), context=PlanContext(fingerprints=False)
    )
    assert fingerprints_made == [] and plan.changes[0].live_fingerprint is None
    plan = make_plan("dev", items, recorded, view(reported()))
    assert len(fingerprints_made) == 1 and str(plan.changes[0].live_fingerprint).startswith(
        "sha256:"
    )


def test_a_plan_not_saved_computes_no_fingerprints(
    tmp_path: Path, fingerprints_made: list[object]
) -> None:
    write_manifest(tmp_path / "dev.yaml", ONE_DEPLOYMENT)
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    shown = run_cli("plan", "-f", "dev.yaml", "--detailed-exitcode", cwd=tmp_path)
    assert shown.code == 0, shown.err
    assert "No changes" in shown.out
    assert fingerprints_made == []  # neither apply -f nor a plan shown on the terminal

    printed = run_cli("plan", "-f", "dev.yaml", "--json", cwd=tmp_path)
    (change,) = json.loads(printed.out)["resource_changes"]
    assert change["live_fingerprint"].startswith("sha256:")
    saved = run_cli("plan", "-f", "dev.yaml", "--out", "dev.plan.json", cwd=tmp_path)
    assert saved.code == 0, saved.err
    (change,) = json.loads((tmp_path / "dev.plan.json").read_text())["resource_changes"]
    assert change["live_fingerprint"].startswith("sha256:")
    assert len(fingerprints_made) == 2


# -- deployctl --version: argparse's answer, without building the parser ----------------------


def test_version_prints_what_argparse_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    from_argparse = capsys.readouterr().out
    assert from_argparse == f"deployctl {__version__}\n"
    assert run_cli("--version", cwd=Path.cwd()).out == from_argparse


def test_version_imports_no_command() -> None:
    code = (
        "import sys\n"
        "from deployctl.cli.main import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(sorted(m for m in sys.modules if m.startswith('deployctl.cli.commands')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [f"deployctl {__version__}", "[]"]
