"""The torchserve and triton-control fakes behave as the real plugins do (shared/plugins.md), and
the adapter's answers to them: a fresh client per change (``client: per_action``) and the hint
to set ``update: replace`` when a plugin cannot update."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support import require_mlflow

from deployctl.errors import TargetError
from deployctl.model import DeploymentSpec
from deployctl.model.calls import CallPolicy, ClientMode
from deployctl.targets.adapter import TargetAdapter
from deployctl.targets.loading import load_target
from deployctl.targets.plugin_errors import explicitly_not_found

Load = Callable[..., TargetAdapter]

HANDLER = {"handler": "handler.py"}
TRITON_CONFIG = {"s3_profile_id": 7, "image": "nvcr.io/nvidia/tritonserver:26.06-py3"}


@pytest.fixture
def target(tmp_path: Path, test_plugins: ModuleType) -> Load:
    """``target(scheme, client="shared")``: a target of that scheme on a fresh directory."""
    require_mlflow()
    counter = 0

    def _load(scheme: str, client: ClientMode = "shared") -> TargetAdapter:
        nonlocal counter
        counter += 1
        directory = tmp_path / f"{scheme}-{counter}"
        directory.mkdir()
        policy = CallPolicy(client=client)
        return load_target(f"{scheme}:{directory}", key="t", policy=policy)

    return _load


def directory(adapter: TargetAdapter) -> Path:
    return Path(adapter.uri.partition(":")[2])


def described(adapter: TargetAdapter, name: str) -> list[dict[str, Any]]:
    """TorchServe's describe of ``name``: the JSON text under get's ``deploy``."""
    raw = adapter.client.get_deployment(name)
    assert set(raw) == {"deploy"} and isinstance(raw["deploy"], str)
    parsed = json.loads(raw["deploy"])
    assert isinstance(parsed, list)
    return parsed


def archives(adapter: TargetAdapter, name: str) -> list[dict[str, Any]]:
    import dtp_torchserve

    return dtp_torchserve.archives(directory(adapter), name)


def clients_of(adapter: TargetAdapter, method: str) -> list[str]:
    import dtp_torchserve

    return dtp_torchserve.clients_of(directory(adapter), method)


# -- torchserve -------------------------------------------------------------------------------


def test_torchserve_lists_names_as_the_only_key_and_gets_json_text(target: Load) -> None:
    ts = target("torchservetest")
    created = ts.create("iris", DeploymentSpec("models:/iris/1", config=HANDLER))
    assert created["name"] == "iris/1.0"
    assert ts.client.list_deployments() == [
        {"iris": {"modelName": "iris", "modelUrl": "models:/iris/1"}}
    ]
    assert [r.name for r in ts.list()] == ["iris"]
    (version,) = described(ts, "iris")
    assert version["modelName"] == "iris" and version["modelVersion"] == "1.0"
    assert version["modelUrl"] == "models:/iris/1"
    assert (version["minWorkers"], version["maxWorkers"], len(version["workers"])) == (1, 1, 1)
    # Nothing deployctl reads by default is in the record.
    assert ts.get("iris").unreported == {"model_uri", "flavor", "config"}


def test_torchserve_ignores_a_model_uri_update_and_applies_worker_settings(
    target: Load,
) -> None:
    ts = target("torchservetest")
    ts.create("iris", DeploymentSpec("models:/iris/1", config=HANDLER))
    ts.update("iris", DeploymentSpec("models:/iris/2", config={**HANDLER, "min_worker": 3}))
    (version,) = described(ts, "iris")
    assert version["modelUrl"] == "models:/iris/1"  # reported success, changed nothing
    assert (version["minWorkers"], version["maxWorkers"], len(version["workers"])) == (3, 3, 3)
    # TorchServe's defaults for what an update leaves out: min_worker 1, max_worker = min.
    ts.update("iris", DeploymentSpec("models:/iris/2", config=HANDLER))
    assert described(ts, "iris")[0]["minWorkers"] == 1


def test_torchserve_create_of_an_existing_name_registers_the_next_version(
    target: Load,
) -> None:
    ts = target("torchservetest")
    ts.create("iris", DeploymentSpec("models:/iris/1", config=HANDLER))
    again = ts.create("iris", DeploymentSpec("models:/iris/2", config=HANDLER))
    assert again["name"] == "iris/2.0"
    assert [v["modelVersion"] for v in described(ts, "iris/all")] == ["1.0", "2.0"]
    # The first version stays the default: get (and predict) still see it.
    assert described(ts, "iris")[0]["modelUrl"] == "models:/iris/1"
    # Deleting the default version while another exists is refused (403).
    with pytest.raises(TargetError, match="status code 403"):
        ts.delete("iris")


def test_torchserve_second_delete_and_get_of_a_missing_name_fail_as_the_plugin_does(
    target: Load,
) -> None:
    ts = target("torchservetest")
    ts.create("iris", DeploymentSpec("models:/iris/1", config=HANDLER))
    ts.delete("iris")
    with pytest.raises(TargetError, match=r"Exception: Unable to delete .* status code 404"):
        ts.delete("iris")
    with pytest.raises(TargetError) as missing:
        ts.get("iris")
    assert isinstance(missing.value.cause, ValueError)
    assert "status code 404" in str(missing.value)


def test_torchserve_create_needs_a_handler(target: Load) -> None:
    ts = target("torchservetest")
    with pytest.raises(TargetError, match="Config Variable HANDLER - missing"):
        ts.create("iris", DeploymentSpec("models:/iris/1", config={"batch_size": 4}))


def test_torchserve_leaks_a_create_s_config_into_later_creates_on_the_same_client(
    target: Load,
) -> None:
    ts = target("torchservetest")
    ts.create("a", DeploymentSpec("models:/a/1", config={**HANDLER, "model_file": "net.py"}))
    # No handler and no model_file asked for: both come from the first create.
    ts.create("b", DeploymentSpec("models:/b/1", config={"batch_size": 4}))
    (b,) = archives(ts, "b")
    assert (b["handler"], b["model_file"]) == ("handler.py", "net.py")
    assert b["registration"] == {"batch_size": "4", "initial_workers": "1"}
    assert ts.client.server_config["model_file"] == "net.py"


# -- client: per_action -----------------------------------------------------------------------


def test_per_action_makes_each_change_on_a_fresh_client_so_nothing_leaks(
    target: Load,
) -> None:
    ts = target("torchservetest", client="per_action")
    ts.create("a", DeploymentSpec("models:/a/1", config={**HANDLER, "model_file": "net.py"}))
    ts.create("b", DeploymentSpec("models:/b/1", config={"handler": "other.py"}))
    (b,) = archives(ts, "b")
    assert (b["handler"], b["model_file"]) == ("other.py", None)
    ts.update("a", DeploymentSpec("models:/a/1", config={**HANDLER, "min_worker": 2}))
    ts.delete("b")
    ts.list()
    ts.get("a")
    changes = [
        *clients_of(ts, "create_deployment"),
        *clients_of(ts, "update_deployment"),
        *clients_of(ts, "delete_deployment"),
    ]
    assert len(changes) == 4 and len(set(changes)) == 4
    # Reads keep the client the target was loaded with.
    reads = {*clients_of(ts, "list_deployments"), *clients_of(ts, "get_deployment")}
    assert reads == {ts.client.client_id}
    assert ts.client.client_id not in changes


def test_shared_makes_every_call_on_the_one_client(target: Load) -> None:
    ts = target("torchservetest")
    ts.create("a", DeploymentSpec("models:/a/1", config=HANDLER))
    ts.update("a", DeploymentSpec("models:/a/1", config=HANDLER))
    ts.delete("a")
    used = {*clients_of(ts, "create_deployment"), *clients_of(ts, "delete_deployment")}
    assert used == {ts.client.client_id}


class _Counted:
    """A client that counts how many of it were built, and fails to build when told."""

    built = 0
    fail = False

    def __init__(self, target_uri: str) -> None:
        if type(self).fail:
            raise ConnectionRefusedError("no cluster")
        type(self).built += 1

    def create_deployment(self, name: str, model_uri: str, flavor: Any = None) -> Any:
        return {"name": name}

    def get_deployment(self, name: str) -> Any:
        return {"name": name}

    def list_deployments(self) -> Any:
        return []

    def delete_deployment(self, name: str) -> None:
        return None


def test_a_client_that_cannot_be_built_for_a_change_fails_that_change() -> None:
    _Counted.built, _Counted.fail = 0, False
    adapter = TargetAdapter(
        "t", "counted:/x", _Counted("counted:/x"), policy=CallPolicy(client="per_action")
    )
    adapter.create("a", DeploymentSpec("models:/a/1"))
    adapter.list()
    assert _Counted.built == 2  # the adapter's own client, and one for the create
    _Counted.fail = True
    with pytest.raises(TargetError) as failed:
        adapter.delete("a")
    message = str(failed.value)
    assert message.startswith("target 't', delete_deployment for t/a: building a fresh client")
    assert "(client: per_action): ConnectionRefusedError: no cluster" in message
    adapter.get("a")  # reads need no new client


# -- triton-control ---------------------------------------------------------------------------


def test_triton_records_carry_the_name_under_deployment_name(target: Load) -> None:
    tr = target("tritontest")
    created = tr.create("iris", DeploymentSpec("s3://models/repo/iris", "triton", TRITON_CONFIG))
    assert created["deployment_name"] == "iris" and created["status"] == "ready"
    assert "name" not in created
    (listed,) = tr.client.list_deployments()
    assert listed["deployment_name"] == "iris" and "flavor" not in listed
    record = tr.get("iris")
    assert (record.name, record.model_uri, record.flavor) == (
        "iris",
        "s3://models/repo/iris",
        "triton",
    )
    assert [r.name for r in tr.list()] == ["iris"]


def test_triton_refuses_every_update_and_the_adapter_says_to_replace(target: Load) -> None:
    tr = target("tritontest")
    tr.create("iris", DeploymentSpec("s3://models/repo/iris", "triton", TRITON_CONFIG))
    with pytest.raises(TargetError) as refused:
        tr.update("iris", DeploymentSpec("s3://models/repo/iris2", "triton", TRITON_CONFIG))
    message = str(refused.value)
    assert "MlflowException: Updating deployments is not supported" in message
    assert "set 'update: replace' on it in the manifest" in message
    assert tr.get("iris").model_uri == "s3://models/repo/iris"


def test_triton_get_of_a_missing_name_is_http_404_without_an_error_code(target: Load) -> None:
    tr = target("tritontest")
    with pytest.raises(TargetError) as missing:
        tr.get("iris")
    assert "Triton Control returned HTTP 404" in str(missing.value)
    assert missing.value.error_code == "INTERNAL_ERROR"  # MlflowException's default
    assert missing.value.cause is not None and not explicitly_not_found(missing.value.cause)
    with pytest.raises(TargetError, match="HTTP 404"):
        tr.delete("iris")


def test_triton_checks_what_the_real_plugin_checks(target: Load) -> None:
    tr = target("tritontest")
    with pytest.raises(TargetError, match="s3_profile_id and image are required"):
        tr.create("iris", DeploymentSpec("s3://models/repo/iris", "triton", {}))
    with pytest.raises(TargetError, match="Only the triton flavor is supported"):
        tr.create("iris", DeploymentSpec("s3://models/repo/iris", "onnx", TRITON_CONFIG))
    with pytest.raises(TargetError, match="model_uri must be s3://"):
        tr.create("iris", DeploymentSpec("models:/iris/1", "triton", TRITON_CONFIG))
    tr.create("iris", DeploymentSpec("s3://models/repo/iris", None, TRITON_CONFIG))
    with pytest.raises(TargetError, match="HTTP 409"):
        tr.create("iris", DeploymentSpec("s3://models/repo/iris", None, TRITON_CONFIG))


class _NoUpdate(_Counted):
    def update_deployment(self, name: str, model_uri: Any = None, flavor: Any = None) -> Any:
        raise NotImplementedError


class _BadUpdate(_Counted):
    def update_deployment(self, name: str, model_uri: Any = None, flavor: Any = None) -> Any:
        raise ValueError("flavor onnx is not supported by this server")


def test_only_a_plugin_that_cannot_update_gets_the_replace_hint() -> None:
    _Counted.fail = False
    spec = DeploymentSpec("models:/a/2")
    with pytest.raises(TargetError, match="set 'update: replace'"):
        TargetAdapter("t", "n:/x", _NoUpdate("n:/x")).update("a", spec)
    with pytest.raises(TargetError) as other:
        TargetAdapter("t", "n:/x", _BadUpdate("n:/x")).update("a", spec)
    assert "update: replace" not in str(other.value)
