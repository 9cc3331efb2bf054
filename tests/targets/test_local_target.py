"""The built-in local target: record semantics, atomic writes, concurrency, predict, run_local."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pyfunc_model import save_model
from support import require_mlflow

from deployctl.targets import local
from deployctl.targets.local import LocalDeploymentClient


def code_of(exc: BaseException) -> Any:
    return getattr(exc, "error_code", None)


@pytest.fixture
def client(tmp_path: Path) -> LocalDeploymentClient:
    return LocalDeploymentClient(f"local:{tmp_path / 'target'}")


# -- record semantics --


def test_create_returns_and_stores_the_full_record(client: LocalDeploymentClient) -> None:
    created = client.create_deployment("churn", "models:/churn/1", "python_function", {"a": 1})
    stored = json.loads((client.records_dir / "churn.json").read_text())
    assert created == stored
    assert stored["name"] == "churn"
    assert stored["model_uri"] == "models:/churn/1"
    assert stored["flavor"] == "python_function"
    assert stored["config"] == {"a": 1}
    assert stored["status"] == "ready"
    assert stored["revision"] == 1
    assert stored["created_at"] == stored["updated_at"]
    assert client.get_deployment("churn") == stored


def test_create_of_an_existing_name_raises_already_exists(client: LocalDeploymentClient) -> None:
    client.create_deployment("churn", "models:/churn/1")
    with pytest.raises(Exception, match="already exists") as info:
        client.create_deployment("churn", "models:/churn/2")
    assert code_of(info.value) == "RESOURCE_ALREADY_EXISTS"
    assert client.get_deployment("churn")["model_uri"] == "models:/churn/1"


def test_get_of_a_missing_name_raises_does_not_exist(client: LocalDeploymentClient) -> None:
    with pytest.raises(Exception, match="does not exist") as info:
        client.get_deployment("ghost")
    assert code_of(info.value) == "RESOURCE_DOES_NOT_EXIST"


def test_update_changes_only_given_fields_and_bumps_revision(
    client: LocalDeploymentClient,
) -> None:
    before = client.create_deployment("churn", "models:/churn/1", "python_function", {"a": 1})
    time.sleep(0.002)
    after = client.update_deployment("churn", model_uri="models:/churn/2")
    assert after["model_uri"] == "models:/churn/2"
    assert after["flavor"] == "python_function"
    assert after["config"] == {"a": 1}
    assert after["revision"] == 2
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]

    emptied = client.update_deployment("churn", config={})
    assert emptied["config"] == {}
    assert emptied["model_uri"] == "models:/churn/2"
    assert emptied["revision"] == 3
    assert client.get_deployment("churn") == emptied


def test_update_of_a_missing_name_raises_does_not_exist(client: LocalDeploymentClient) -> None:
    with pytest.raises(Exception, match="does not exist") as info:
        client.update_deployment("ghost", model_uri="models:/x/1")
    assert code_of(info.value) == "RESOURCE_DOES_NOT_EXIST"
    assert not (client.records_dir / "ghost.json").exists()


def test_delete_removes_the_record_and_is_idempotent(client: LocalDeploymentClient) -> None:
    client.create_deployment("churn", "models:/churn/1")
    client.delete_deployment("churn")
    assert client.list_deployments() == []
    client.delete_deployment("churn")
    client.delete_deployment("never-existed")


def test_list_returns_full_records_sorted_and_skips_temp_files(
    client: LocalDeploymentClient,
) -> None:
    assert client.list_deployments() == []  # the directory does not exist yet
    client.create_deployment("b", "models:/b/1")
    client.create_deployment("a", "models:/a/1", config={"k": "v"})
    # What a writer killed between creating its temp file and renaming it leaves behind.
    (client.records_dir / ".a.json.1234.tmp").write_text('{"name": "a", "mod')
    listed = client.list_deployments()
    assert [r["name"] for r in listed] == ["a", "b"]
    assert listed[0] == client.get_deployment("a")
    assert set(listed[0]) == {
        "name",
        "model_uri",
        "flavor",
        "config",
        "status",
        "created_at",
        "updated_at",
        "revision",
    }


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 129, "sp ace"])
def test_names_that_are_not_safe_file_names_are_rejected(
    client: LocalDeploymentClient, name: str
) -> None:
    with pytest.raises(Exception, match="not a valid deployment name") as info:
        client.create_deployment(name, "models:/x/1")
    assert code_of(info.value) == "INVALID_PARAMETER_VALUE"
    assert not (client.path.parent / "escape.json").exists()


def test_config_must_be_json(client: LocalDeploymentClient) -> None:
    with pytest.raises(Exception, match="config must be JSON") as info:
        client.create_deployment("churn", "models:/x/1", config={"when": object()})
    assert code_of(info.value) == "INVALID_PARAMETER_VALUE"


def test_relative_paths_resolve_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    client = LocalDeploymentClient("local:rel/dir")
    assert client.path == tmp_path / "rel" / "dir"
    client.create_deployment("churn", "models:/x/1")
    assert (tmp_path / "rel" / "dir" / "deployments" / "churn.json").exists()


@pytest.mark.parametrize("uri", ["local", "local:", "local://host/dir", "other:/dir"])
def test_uris_without_a_directory_are_rejected(uri: str) -> None:
    with pytest.raises(Exception, match="not a local target URI"):
        LocalDeploymentClient(uri)


def test_endpoints_are_refused(client: LocalDeploymentClient) -> None:
    with pytest.raises(Exception, match="no endpoints"):
        client.list_deployments(endpoint="e")


# -- atomic writes and concurrency --


def test_a_failed_write_leaves_the_old_record_and_no_temp_file(
    client: LocalDeploymentClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.create_deployment("churn", "models:/churn/1")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        client.update_deployment("churn", model_uri="models:/churn/2")
    monkeypatch.undo()
    assert client.get_deployment("churn")["model_uri"] == "models:/churn/1"
    assert sorted(p.name for p in client.records_dir.iterdir()) == ["churn.json"]


def test_readers_never_see_a_partial_record_while_a_writer_updates(
    client: LocalDeploymentClient,
) -> None:
    client.create_deployment("churn", "models:/churn/0", config={"pad": "x" * 20_000})
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(client.get_deployment("churn")["revision"])
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(1, 101):
            client.update_deployment("churn", model_uri=f"models:/churn/{i}")
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert seen == sorted(seen)
    assert client.get_deployment("churn")["revision"] == 101


def _create_in_process(uri: str, index: int, barrier: Any, results: Any) -> None:
    client = LocalDeploymentClient(uri)
    barrier.wait()
    try:
        client.create_deployment("shared", f"models:/m/{index}")
        results.put((index, "created"))
    except Exception as exc:
        results.put((index, str(getattr(exc, "error_code", type(exc).__name__))))


def test_concurrent_creates_of_one_name_from_processes_let_exactly_one_through(
    tmp_path: Path,
) -> None:
    uri = f"local:{tmp_path / 'target'}"
    ctx = multiprocessing.get_context("spawn")
    workers = 6
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_create_in_process, args=(uri, i, barrier, results))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    winners = [i for i, outcome in outcomes.items() if outcome == "created"]
    assert len(winners) == 1
    assert sorted(o for o in outcomes.values() if o != "created") == ["RESOURCE_ALREADY_EXISTS"] * (
        workers - 1
    )
    stored = LocalDeploymentClient(uri).list_deployments()
    assert [r["model_uri"] for r in stored] == [f"models:/m/{winners[0]}"]


def test_concurrent_creates_of_one_name_from_threads_let_exactly_one_through(
    tmp_path: Path,
) -> None:
    uri = f"local:{tmp_path / 'target'}"
    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def create(index: int) -> None:
        client = LocalDeploymentClient(uri)
        barrier.wait()
        try:
            client.create_deployment("shared", f"models:/m/{index}")
            outcomes.append("created")
        except Exception as exc:
            outcomes.append(str(code_of(exc)))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["RESOURCE_ALREADY_EXISTS"] * (workers - 1) + ["created"]


# -- MLflow: errors, predict, run_local --

WITHOUT_MLFLOW = """
import sys
sys.modules["mlflow"] = None  # as if mlflow were not installed
from deployctl.targets.local import LocalDeploymentClient, run_local
client = LocalDeploymentClient(sys.argv[1])
client.create_deployment("churn", "models:/churn/1")
for call in (lambda: client.predict("churn", None),
             lambda: run_local(sys.argv[1], "churn", "models:/churn/1")):
    try:
        call()
    except Exception as exc:
        print(type(exc).__name__, exc.error_code, exc)
print("mlflow" in sys.modules and sys.modules["mlflow"] is not None)
"""


def test_predict_and_run_local_without_mlflow_say_how_to_install_it(tmp_path: Path) -> None:
    uri = f"local:{tmp_path / 'target'}"
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_MLFLOW, uri],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("LocalTargetError INTERNAL_ERROR ")
    assert "predict on the local target needs MLflow: pip install 'deployctl[mlflow]'" in lines[0]
    assert lines[1].startswith("LocalTargetError INTERNAL_ERROR ")
    assert "run_local on the local target needs MLflow: pip install 'deployctl[mlflow]'" in lines[1]
    assert lines[2] == "False"


def test_errors_are_mlflow_exceptions_once_mlflow_is_loaded(
    client: LocalDeploymentClient,
) -> None:
    require_mlflow()
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as info:
        client.get_deployment("ghost")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_predict_scores_with_the_deployed_pyfunc_model(
    client: LocalDeploymentClient, tmp_path: Path
) -> None:
    require_mlflow()
    import pandas as pd

    double = save_model(tmp_path / "double", 2)
    triple = save_model(tmp_path / "triple", 3)
    client.create_deployment("m", double)
    df = pd.DataFrame({"x": [1, 2, 3]})
    assert client.predict("m", df)["y"].tolist() == [2, 4, 6]
    client.update_deployment("m", model_uri=triple)
    assert client.predict("m", df)["y"].tolist() == [3, 6, 9]


def test_predict_of_a_missing_deployment_raises_does_not_exist(
    client: LocalDeploymentClient,
) -> None:
    with pytest.raises(Exception, match="does not exist") as info:
        client.predict("ghost", None)
    assert code_of(info.value) == "RESOURCE_DOES_NOT_EXIST"


def test_run_local_refuses_flavors_other_than_pyfunc(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="pyfunc models only") as info:
        local.run_local(f"local:{tmp_path}", "m", "models:/m/1", flavor="sklearn")
    assert code_of(info.value) == "INVALID_PARAMETER_VALUE"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVE = """
import sys
from deployctl.targets.local import run_local
run_local(sys.argv[1], "m", sys.argv[2], None, {"port": sys.argv[3]})
"""


def test_run_local_serves_the_model_with_mlflows_scoring_server(tmp_path: Path) -> None:
    require_mlflow()
    # mlflow-skinny depends on both, so with mlflow installed they are too.
    model = save_model(tmp_path / "double", 2)
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, f"local:{tmp_path / 'target'}", model, str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)
        body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1], [5]]}})
        request = urllib.request.Request(
            f"{base}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer == {"predictions": [{"x": 1, "y": 2}, {"x": 5, "y": 10}]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_target_help_explains_uri_records_config_and_concurrency() -> None:
    text = local.target_help()
    for expected in (
        "local:/absolute/path",
        "PATH/deployments/<name>.json",
        "revision",
        "Free-form",
        "flock",
        "exactly one succeeds",
    ):
        assert expected in text


def test_the_module_does_not_import_mlflow() -> None:
    code = (
        "import sys, deployctl.targets.local as m; "
        "m.LocalDeploymentClient(sys.argv[1]).list_deployments(); "
        "print('mlflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "local:/nonexistent/dir"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    ).stdout
    assert out.strip() == "False"
