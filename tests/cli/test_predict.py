"""predict ADDRESS --input FILE: pandas in, a printed table out, through the CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import time
from pathlib import Path

import pytest
from pyfunc_model import save_model
from support import (
    EXAMPLES,
    manifest,
    require_mlflow,
    run_cli,
    run_process,
    without_mlflow,
    write_manifest,
)


@pytest.fixture(scope="module")
def doubler(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A saved model doubling column ``x``, shared by the tests here (saving takes seconds)."""
    require_mlflow()
    return save_model(tmp_path_factory.mktemp("doubler") / "model", factor=2)


def deployed(tmp_path: Path, model: str) -> Path:
    write_manifest(tmp_path / "dev.yaml", manifest({"doubler": model}))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    return tmp_path


def test_predict_scores_a_csv_and_prints_a_table(tmp_path: Path, doubler: str) -> None:
    deployed(tmp_path, doubler)
    (tmp_path / "rows.csv").write_text("x\n1\n5\n")
    result = run_cli(
        "predict", "local/doubler", "--input", "rows.csv", "-f", "dev.yaml", cwd=tmp_path
    )
    assert result.code == 0, result.err
    lines = [line.split() for line in result.out.strip().splitlines()]
    assert lines == [["x", "y"], ["1", "2"], ["5", "10"]]


def test_predict_reads_json_in_mlflow_shapes_and_prints_json(tmp_path: Path, doubler: str) -> None:
    deployed(tmp_path, doubler)
    (tmp_path / "split.json").write_text(
        json.dumps({"dataframe_split": {"columns": ["x"], "data": [[3]]}})
    )
    (tmp_path / "records.json").write_text(json.dumps([{"x": 4}]))
    for name, expected in (
        ("split.json", [{"x": 3, "y": 6}]),
        ("records.json", [{"x": 4, "y": 8}]),
    ):
        result = run_cli(
            "predict", "local/doubler", "--input", name, "--json", "-e", "dev", cwd=tmp_path
        )
        assert result.code == 0, result.err
        assert json.loads(result.out) == expected


def test_predict_input_errors_are_one_line(tmp_path: Path, doubler: str) -> None:
    deployed(tmp_path, doubler)
    (tmp_path / "bad.json").write_text("{oops")
    result = run_cli("predict", "local/doubler", "--input", "bad.json", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert result.err.startswith("Error: bad.json:1:2: invalid JSON")
    result = run_cli("predict", "local/doubler", "--input", "x.txt", "-e", "dev", cwd=tmp_path)
    assert "use a .csv or .json file" in result.err
    result = run_cli("predict", "nope/doubler", "--input", "x.csv", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert "target 'nope'" in result.err and "known targets: local" in result.err


def test_predict_without_mlflow_says_how_to_install_it(tmp_path: Path) -> None:
    write_manifest(tmp_path / "dev.yaml", manifest({"doubler": "models:/doubler/1"}))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    (tmp_path / "rows.csv").write_text("x\n1\n")
    result = run_process(
        *("predict", "local/doubler", "--input", "rows.csv", "-e", "dev"),
        cwd=tmp_path,
        env=without_mlflow(tmp_path / "hide"),
    )
    assert result.code == 1, result.err
    assert "pip install 'deployctl[mlflow]'" in result.err
    assert "Traceback" not in result.err


# -- real models from examples/, and models:/ URIs without a registry ------------------------------


def test_the_example_walkthrough_deploys_predicts_and_updates(tmp_path: Path) -> None:
    """examples/models/demo.yaml as its comments run it, from a copy of the repository root."""
    require_mlflow()
    for folder in ("models", "data"):
        shutil.copytree(EXAMPLES / folder, tmp_path / "examples" / folder)
    demo = ("-f", "examples/models/demo.yaml")
    sample = ("--input", "examples/data/churn_sample.csv")
    assert run_cli("apply", *demo, "--auto-approve", cwd=tmp_path).code == 0
    result = run_cli("predict", "local/churn", *sample, *demo, cwd=tmp_path)
    assert result.code == 0, result.err
    assert [line.split() for line in result.out.splitlines()] == [
        ["prediction"],
        ["1"],
        ["0"],
        ["1"],
    ]
    update = ("--var", "churn_model=churn-v2", "--auto-approve")
    assert run_cli("apply", *demo, *update, cwd=tmp_path).code == 0
    result = run_cli("predict", "local/churn", *sample, *demo, "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    assert json.loads(result.out) == [
        {"prediction": 1, "probability": 0.887},
        {"prediction": 0, "probability": 0.013},
        {"prediction": 0, "probability": 0.472},
    ]


def test_a_relative_model_path_is_relative_to_the_current_directory(tmp_path: Path) -> None:
    require_mlflow()
    shutil.copytree(EXAMPLES / "models" / "churn-v1", tmp_path / "models" / "churn-v1")
    shutil.copytree(EXAMPLES / "data", tmp_path / "data")
    write_manifest(tmp_path / "envs" / "dev.yaml", manifest({"churn": "models/churn-v1"}))
    assert run_cli("apply", "-f", "envs/dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    found = run_cli(
        *("predict", "local/churn", "--input", "data/churn_sample.csv", "-f", "envs/dev.yaml"),
        cwd=tmp_path,
    )
    assert found.code == 0, found.err
    lost = run_cli(
        *("predict", "local/churn", "--input", "../data/churn_sample.csv", "-f", "dev.yaml"),
        cwd=tmp_path / "envs",
    )
    assert lost.code == 1
    assert lost.err.strip().endswith(
        f"cannot load model models/churn-v1: no such folder (relative to {tmp_path / 'envs'})"
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def deployed_from_registry(tmp_path: Path) -> Path:
    write_manifest(tmp_path / "dev.yaml", manifest({"churn": "models:/churn/3"}))
    assert run_cli("apply", "-f", "dev.yaml", "--auto-approve", cwd=tmp_path).code == 0
    (tmp_path / "rows.csv").write_text("x\n1\n")
    return tmp_path


def one_error_line(err: str) -> str:
    (line,) = err.strip().splitlines()
    assert line.startswith("Error: target 'local', predict for local/churn: ")
    assert "…" not in line and "flavor and config" not in line
    return line


def test_a_models_uri_with_an_unreachable_registry_fails_at_once_in_one_line(
    tmp_path: Path,
) -> None:
    require_mlflow()
    deployed_from_registry(tmp_path)
    port = closed_port()
    registry = f"http://alice:s3cret@127.0.0.1:{port}"
    started = time.monotonic()
    result = run_cli(
        *("predict", "local/churn", "--input", "rows.csv", "-e", "dev"),
        cwd=tmp_path,
        env={"MLFLOW_TRACKING_URI": registry, "MLFLOW_REGISTRY_URI": registry},
    )
    assert time.monotonic() - started < 30  # not MLflow's minutes of retries
    assert result.code == 1
    line = one_error_line(result.err)
    assert line.endswith(
        f"cannot load models:/churn/3: the model registry at http://127.0.0.1:{port} does not "
        "answer (connection refused): start it or set MLFLOW_TRACKING_URI to your MLflow server "
        "(http://HOST:PORT) or use a saved model's folder as model_uri"
    )
    assert "s3cret" not in result.err


def test_a_models_uri_with_no_registry_set_up_says_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_mlflow()
    if importlib.util.find_spec("sqlalchemy") is not None:
        pytest.skip("with SQLAlchemy, MLflow's default registry is a SQLite file that works")
    deployed_from_registry(tmp_path)
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(variable, raising=False)
    result = run_cli("predict", "local/churn", "--input", "rows.csv", "-e", "dev", cwd=tmp_path)
    assert result.code == 1
    assert one_error_line(result.err).endswith(
        "cannot load models:/churn/3: no model registry is set up (MLFLOW_TRACKING_URI is not "
        "set): set MLFLOW_TRACKING_URI to your MLflow server (http://HOST:PORT) or use a saved "
        "model's folder as model_uri"
    )
