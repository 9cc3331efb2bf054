"""Per-target field mappings (the manifest's ``fields:``) and which fields a target reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deployctl.executor.console import NullConsole
from deployctl.manifest import load_manifest
from deployctl.model import DeploymentSpec
from deployctl.operations import applying, planning
from deployctl.planner.plan import Action, Plan
from deployctl.state.local import LocalStateBackend
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target
from deployctl.targets.pool import TargetPool
from deployctl.targets.records import DEFAULT_RECORD_SHAPE
from deployctl.targets.refresh import refresh

Load = Callable[..., TargetAdapter]
SPEC = DeploymentSpec("models:/churn/3", "python_function", {"instance_type": "ml.m5.large"})
SAGEMAKER_FIELDS = {
    "name": "EndpointName",
    "status": "EndpointStatus",
    "model_uri": "Tags.model_uri",
}


def test_a_field_mapping_reads_a_sagemaker_like_model_uri_from_its_tags(
    tmp_path: Path, test_plugins: object
) -> None:
    uri = f"pagedtest:{tmp_path}"
    mapped = load_target(uri, key="sm", fields=SAGEMAKER_FIELDS)
    mapped.create("churn", SPEC)
    (listed,) = mapped.list()
    got = mapped.get("churn")
    for record in (listed, got):
        assert (record.name, record.model_uri, record.status) == (
            "churn",
            "models:/churn/3",
            "InService",
        )
        assert record.unreported_fields() == ("flavor", "config")
    plain = load_target(uri, key="sm")
    assert plain.record_shape is DEFAULT_RECORD_SHAPE
    assert plain.get("churn").model_uri is None
    assert plain.get("churn").unreported_fields() == ("model_uri", "flavor", "config")


def test_a_field_reported_as_null_counts_as_reported(tmp_path: Path) -> None:
    local = load_target(f"local:{tmp_path}", key="dev")
    local.create("churn", DeploymentSpec("models:/churn/3"))
    record = local.get("churn")
    assert record.flavor is None
    assert record.unreported_fields() == ()


def test_an_mlflow_2_plugin_that_keeps_config_to_itself_reports_the_rest(load: Load) -> None:
    adapter = load("mlflow2test")
    adapter.create("churn", DeploymentSpec("models:/churn/3", "python_function", {"replicas": 2}))
    assert adapter.get("churn").unreported_fields() == ("config",)


class Split:
    """A client whose list reports model_uri and whose get reports flavor (neither config)."""

    def __init__(self) -> None:
        self.target_uri = "split:/x"

    def create_deployment(self, name: str, model_uri: str) -> None:
        return None

    def list_deployments(self) -> Any:
        return [{"name": "m", "model_uri": "models:/m/1"}]

    def get_deployment(self, name: str) -> Any:
        return {"name": name, "flavor": "python_function"}

    def delete_deployment(self, name: str) -> None:
        return None


def test_refresh_counts_a_field_reported_by_either_list_or_get() -> None:
    view = refresh({"t": TargetAdapter("t", "split:/x", Split())}, {"t": ["m"]})
    record = view.statuses["t/m"].record
    assert record is not None
    assert (record.model_uri, record.flavor) == ("models:/m/1", "python_function")
    assert record.unreported_fields() == ("config",)


MANIFEST = """\
version: 1
environment: prod
targets:
  sm:
    uri: pagedtest:{directory}
    fields: {{name: EndpointName, status: EndpointStatus, model_uri: Tags.model_uri}}
    deployments:
      churn:
        model_uri: models:/churn/3
        flavor: python_function
        config: {{instance_type: ml.m5.large}}
  plain:
    uri: pagedtest:{directory}-plain
"""


def test_the_pool_for_a_manifest_builds_each_adapter_with_its_targets_fields(
    tmp_path: Path, test_plugins: object
) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text(MANIFEST.format(directory=tmp_path / "sm"), encoding="utf-8")
    manifest = load_manifest(path)
    pool = TargetPool.for_manifest(manifest)
    assert pool.fields("sm") == SAGEMAKER_FIELDS
    assert pool.fields("plain") == {}
    sm = pool.get("sm", f"pagedtest:{tmp_path / 'sm'}")
    assert sm.record_shape == DEFAULT_RECORD_SHAPE.with_fields(SAGEMAKER_FIELDS)
    assert pool.get("sm", f"pagedtest:{tmp_path / 'sm'}") is sm
    assert pool.get("plain", f"pagedtest:{tmp_path}-plain").record_shape is DEFAULT_RECORD_SHAPE
    assert TargetPool().fields("sm") == {}


def _plan(manifest_path: Path, state_path: Path, pool: TargetPool) -> Plan:
    manifest = load_manifest(manifest_path)
    state = LocalStateBackend(state_path, environment="prod").read()
    return planning.plan(manifest, state, pool, NullConsole(), state_path=str(state_path))


def test_a_mapped_field_is_compared_with_the_live_value_and_its_drift_is_seen(
    tmp_path: Path, test_plugins: object
) -> None:
    from dtp_common import Store

    path = tmp_path / "prod.yaml"
    target = tmp_path / "sm"
    path.write_text(MANIFEST.format(directory=target), encoding="utf-8")
    state_path = tmp_path / "state" / "prod.json"
    manifest = load_manifest(path)
    backend = LocalStateBackend(state_path, environment="prod")
    pool = TargetPool.for_manifest(manifest)
    with backend.lock(operation="apply") as session:
        made = planning.plan(
            manifest, session.document, pool, NullConsole(), state_path=str(state_path)
        )
        assert applying.apply(made, session, pool, NullConsole()).ok
    recorded = json.loads(state_path.read_text(encoding="utf-8"))["deployments"][0]["live"]
    assert recorded["model_uri"] == "models:/churn/3"  # read back through the mapping

    (change,) = _plan(path, state_path, TargetPool.for_manifest(manifest)).changes
    assert change.action is Action.NOOP
    assert change.reason == "up to date (live value not reported by target: config, flavor)"

    # Someone points the endpoint at another model behind deployctl's back.
    store = Store(f"pagedtest:{target}")
    record = store.read("churn")
    assert record is not None
    store.write("churn", {**record, "model_uri": "models:/churn/9"})
    (change,) = _plan(path, state_path, TargetPool.for_manifest(manifest)).changes
    assert change.action is Action.UPDATE
    assert change.reason == (
        "changed on the target outside deployctl (model_uri); "
        "live value not reported by target: config, flavor"
    )
    assert [(d.path, d.before, d.after) for d in change.diff] == [
        ("model_uri", "models:/churn/9", "models:/churn/3")
    ]
    # Without the mapping the model_uri is not reported, so only the state is compared.
    (unmapped,) = _plan(path, state_path, TargetPool()).changes
    assert unmapped.action is Action.NOOP
    assert "config, flavor, model_uri" in unmapped.reason


@pytest.mark.parametrize("field", ["colour", "EndpointName"])
def test_a_mapping_of_an_unknown_record_field_is_refused(field: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a record field"):
        load_target(f"local:{tmp_path}", key="dev", fields={field: "x"})
