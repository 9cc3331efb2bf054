"""predict ADDRESS --input FILE: pandas in, a printed table out, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyfunc_model import save_model
from support import (
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
