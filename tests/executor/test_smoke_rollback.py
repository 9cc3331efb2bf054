"""Rollback after a failed smoke test, where the rollback itself fails: the action says so, and
state still records what is live (the end-to-end cases with real models are in tests/smoke)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from deployctl.executor import Executor
from deployctl.executor.console import CaptureConsole
from deployctl.manifest.model import DesiredDeployment
from deployctl.model import DeploymentSpec
from deployctl.model.smoke_spec import SmokeSpec
from deployctl.planner import DesiredTarget, Plan, make_plan
from deployctl.state.local import LocalStateBackend
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.refresh import refresh

URI = "scored:/x"
V1 = DeploymentSpec("models:/churn/1")
V2 = DeploymentSpec("models:/churn/2")


class Scored:
    """An in-process client whose predict answers per model URI, and whose updates and deletes
    can be made to fail (after a given number of successful ones)."""

    def __init__(self, answers: dict[str, Any], *, updates_ok: int = 99, deletes_ok: int = 99):
        self.records: dict[str, dict[str, Any]] = {}
        self.answers = answers
        self.updates_ok = updates_ok
        self.deletes_ok = deletes_ok

    def create_deployment(self, name: str, model_uri: str, flavor: Any = None, config: Any = None):
        self.records[name] = {"name": name, "model_uri": model_uri, "flavor": flavor, "config": {}}
        return {"name": name}

    def update_deployment(self, name: str, model_uri: Any = None, flavor: Any = None, config=None):
        if self.updates_ok <= 0:
            raise RuntimeError("the control plane refused the update")
        self.updates_ok -= 1
        self.records[name]["model_uri"] = model_uri

    def delete_deployment(self, name: str) -> None:
        if self.deletes_ok <= 0:
            raise RuntimeError("the control plane refused the delete")
        self.deletes_ok -= 1
        del self.records[name]

    def get_deployment(self, name: str) -> Any:
        if name not in self.records:
            raise KeyError(name)
        return copy.deepcopy(self.records[name])

    def list_deployments(self) -> Any:
        return [copy.deepcopy(r) for r in self.records.values()]

    def predict(self, deployment_name: str, df: Any) -> Any:
        answer = self.answers[self.records[deployment_name]["model_uri"]]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def sample(tmp_path: Path) -> str:
    path = tmp_path / "sample.csv"
    path.write_text("x\n1\n2\n", encoding="utf-8")
    return str(path)


def apply(client: Scored, backend: LocalStateBackend, spec: DeploymentSpec, sample: str) -> Any:
    smoke = SmokeSpec(sample, rows=2, columns=("prediction",))
    desired = [DesiredTarget(DesiredDeployment("t", "churn", spec, smoke=smoke), URI)]
    adapter = TargetAdapter("t", URI, client)
    live = refresh({"t": adapter}, {"t": {"churn"}})
    plan: Plan = make_plan("dev", desired, backend.read(), live)
    with backend.lock(operation="apply") as session:
        return Executor(lambda k, u: adapter, session, CaptureConsole()).execute(plan)


GOOD = [{"prediction": 1}, {"prediction": 0}]
BAD = [{"score": 1}, {"score": 0}]


def test_a_failed_restore_says_so_and_state_keeps_the_version_that_is_live(
    tmp_path: Path, sample: str
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    client = Scored({V1.model_uri: GOOD, V2.model_uri: BAD}, updates_ok=1)
    assert apply(client, backend, V1, sample).ok
    report = apply(client, backend, V2, sample)  # the update succeeds, its rollback does not
    (result,) = report.results
    assert not result.ok
    assert result.error == (
        "smoke test failed: expected columns [prediction], got [score] "
        f"({result.error.rsplit('(', 1)[1]}"
    )
    assert result.note is not None
    assert result.note.startswith("rollback failed: ")
    assert "the control plane refused the update" in result.note
    assert result.note.endswith("; state records what is live")
    assert client.records["churn"]["model_uri"] == V2.model_uri
    assert backend.read().records["t/churn"].applied.model_uri == V2.model_uri


def test_a_failed_delete_of_a_new_deployment_keeps_it_recorded(tmp_path: Path, sample: str) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    client = Scored({V1.model_uri: RuntimeError("model crashed")}, deletes_ok=0)
    report = apply(client, backend, V1, sample)
    (result,) = report.results
    assert result.error is not None
    assert result.error.startswith("smoke test failed: predict raised RuntimeError: model crashed")
    assert result.note is not None and result.note.startswith("rollback failed: ")
    assert "churn" in client.records
    assert backend.read().records["t/churn"].applied.model_uri == V1.model_uri


def test_a_passing_test_and_a_successful_rollback_leave_live_and_state_equal(
    tmp_path: Path, sample: str
) -> None:
    backend = LocalStateBackend(tmp_path / "state.json")
    client = Scored({V1.model_uri: GOOD, V2.model_uri: BAD})
    first = apply(client, backend, V1, sample)
    assert first.ok and "smoke test passed" in (first.results[0].note or "")
    report = apply(client, backend, V2, sample)
    assert report.results[0].note == f"rolled back: back to {V1.model_uri}"
    assert client.records["churn"]["model_uri"] == V1.model_uri
    record = backend.read().records["t/churn"]
    assert record.applied.model_uri == V1.model_uri
    assert record.live is not None and record.live.model_uri == V1.model_uri
